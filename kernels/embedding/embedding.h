// Sparse embedding lookups over several tables in one call (one table per field, as in CTR models).
//
// Forward (gather + pool), for table t and bag b with CSR rows offsets_t[b] .. offsets_t[b+1]:
//   sum:  dst[b, t, :] = Σ_j w_j · W_t[indices_t[j], :]      (w_j = per-sample weight, 1 when absent)
//   mean: dst[b, t, :] = (Σ_j W_t[indices_t[j], :]) / L_b    (empty bag: zeros, never NaN)
//   none: dst[base_t + j, :] = W_t[indices_t[j], :]          (one row per index; base_t = Σ_{t'<t} nnz_t')
// Tables: [N_t, D], f32 or bf16 storage (all tables of a call share D and dtype); accumulation in f32, in index
// order, so CPU and CUDA results are bitwise identical (weighted sums use one fma per term on both).
// Indices and offsets: i32 or i64 (one type per call); offsets have B + 1 entries, non-decreasing, from 0 to at most
// nnz. dst: f32, [B, T, D] (equivalently [B, T*D]) for sum/mean, [Σ nnz_t, D] for none.
//
// Bad input never causes an out-of-bounds access. Out-of-range ids: IndexPolicy::kCheck raises kOutOfRange naming
// the table, position and value of the first one (in table, then position order); kOovRow reads options.oov_row
// instead. Malformed offsets raise kInvalidArgument naming table and bag. Both are detected on the device and
// reported after the stream is synchronised, so a call on a CUDA context waits for its kernel.
// Determinism: bitwise run-to-run and CPU = CUDA.
#pragma once

#include <cstdint>
#include <span>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

enum class PoolingMode : std::uint8_t { kSum, kMean, kNone };
enum class IndexPolicy : std::uint8_t { kCheck, kOovRow };

// The CSR bags of one table. per_sample_weights: optional f32 [nnz] (data == nullptr when absent), sum pooling only.
struct EmbeddingBags {
  TensorView offsets;
  TensorView indices;
  TensorView per_sample_weights{};
};

struct EmbeddingBagOptions {
  PoolingMode pooling = PoolingMode::kSum;
  IndexPolicy index_policy = IndexPolicy::kCheck;
  std::int64_t oov_row = 0;  // with kOovRow: the row read for out-of-range ids (must exist in every table)
};

const char* to_string(PoolingMode mode) noexcept;

// Rows of dst for this call: B * T for sum/mean (as [B, T, D]), Σ nnz_t for none.
std::int64_t embedding_bag_output_rows(std::span<const EmbeddingBags> bags, PoolingMode pooling);

void embedding_bag_fwd(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                       const TensorView& dst, const EmbeddingBagOptions& options = {});

namespace detail {

inline constexpr int kMaxTablesPerLaunch = 32;

struct EmbeddingTableArgs {
  const void* weights;
  std::int64_t rows;
  const void* offsets;
  const void* indices;
  const float* per_sample_weights;
  std::int64_t nnz;
  std::int64_t out_row_base;  // pooling none: first dst row of this table
};

struct EmbeddingFwdArgs {
  EmbeddingTableArgs tables[kMaxTablesPerLaunch];
  int num_tables;
  int table_offset;  // index of tables[0] in the whole call, for error reports
  std::int64_t batch;
  int dim;
  std::int64_t dst_row_stride;  // elements between consecutive bags' rows in dst (T * D for sum/mean)
  PoolingMode pooling;
  IndexPolicy policy;
  std::int64_t oov_row;
  float* dst;
};

// Keys of the first error, (table << 40) | position: UINT64_MAX when none.
struct EmbeddingErrors {
  std::uint64_t bad_index = ~std::uint64_t{0};
  std::uint64_t bad_offsets = ~std::uint64_t{0};
};
inline constexpr int kErrorKeyShift = 40;

// Launches the forward over one chunk of tables; errors are min-merged into the device record `errors`.
void embedding_bag_fwd_cuda(Context& ctx, const EmbeddingFwdArgs& args, DType weight_dtype, DType index_dtype,
                            EmbeddingErrors* errors);

}  // namespace detail
}  // namespace reckon
