// Sparse embedding lookups over several tables in one call (one table per field, as in CTR models).
//
// Forward (gather + pool), for table t and bag b with CSR rows offsets_t[b] .. offsets_t[b+1]:
//   sum:  dst[b, t, :] = Σ_j w_j · W_t[indices_t[j], :]      (w_j = per-sample weight, 1 when absent)
//   mean: dst[b, t, :] = (Σ_j W_t[indices_t[j], :]) / L_b    (empty bag: zeros, never NaN)
//   none: dst[base_t + j, :] = W_t[indices_t[j], :]          (one row per index; base_t = Σ_{t'<t} nnz_t')
// Tables: [N_t, D], f32 or bf16 storage (all tables of a call share D and dtype), unit column stride; rows may be
// further apart than D (row stride >= D), so a row can sit beside its optimizer state in one block (see the
// backward: one cache-line run per update instead of three). Accumulation in f32, in index order, so CPU and CUDA
// results are bitwise identical (every product and sum rounded separately, no fma, on both).
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
#include <vector>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/step_clock.h"
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

// ---- Backward -------------------------------------------------------------------------------------------------
//
// From diff_dst (shaped like the forward's dst) the gradient of table t's row r is
//   g[t, r, :] = Σ_{j : indices_t[j] resolves to r} c_j · diff_dst[row(j), :]
// with c_j = w_j (weighted sum), 1 (sum, none) or 1 / L_b (mean), and row(j) = b·T + t for pooled bags, base_t + j
// for none. Only touched rows exist: no table-sized gradient is ever formed.
//
// Algorithm kSorted (default): entries are sorted by (table, row) with a stable radix sort (CUB on CUDA), cut into
// runs of equal rows, and each run is reduced in a fixed order: sequentially in entry order for runs of at most
// kEmbeddingLongRun entries; for longer (hot) runs, entry k goes to partial sum k mod kEmbeddingRunPartials and the
// partials are added in order. The CPU follows the same order, so results are bitwise identical run to run and
// between CPU and CUDA. Algorithm kAtomic (SGD only, CUDA and CPU): each entry adds -lr · c_j · diff into the table
// with atomics; not deterministic.
//
// Bad ids and offsets are checked as in the forward, before anything is written: an error leaves tables and
// optimizer state untouched. The gradient of per-sample weights is not computed.

inline constexpr int kEmbeddingLongRun = 64;
inline constexpr int kEmbeddingRunPartials = 8;
inline constexpr std::int64_t kEmbeddingBackwardMaxDim = 1024;

enum class EmbeddingBackwardAlgorithm : std::uint8_t { kSorted, kAtomic };

// The fused update's optimizers (SparseOptimizer, SparseOptimizerKind) are kernels/optim's Optimizer and
// OptimizerKind: applied to the touched rows only, so untouched rows and their state do not move (Adam is "lazy").

// Optimizer state stored beside a table (f32, on the table's device); unused fields stay empty. Like the tables,
// state rows have unit column stride and any row stride >= their width: interleaving [row | m | v] in one block
// (embedding_interleaved_row_stride) makes each sparse update touch one contiguous run of memory.
struct EmbeddingOptimizerState {
  TensorView state1{};
  TensorView state2{};
};

// Row-sparse gradient, rows sorted by (table, row), each once: the first U rows of table i32 [C], row i64 [C],
// values f32 [C, D], with U = num_rows() <= C. On a GPU the op does not wait to learn U: C is the number of ids, and
// U is counted on the device (count, i64 [1]); reading it synchronises the context.
struct SparseGradient {
  Tensor table;
  Tensor row;
  Tensor values;
  Tensor count;
  std::int64_t num_rows(Context& ctx) const;
};

// Row stride (in floats) for a table of dimension `dim` interleaved with `state_columns` state values per row
// (0 for SGD, 1 for row-wise Adagrad, dim for Adagrad, 2·dim for Adam): rows never straddle a 64-byte line more
// than they must (a power of two up to 16 floats, a multiple of 16 beyond).
std::int64_t embedding_interleaved_row_stride(std::int64_t dim, std::int64_t state_columns);

// Whether the backward handles this request; the reason when it does not. optimizer may be null (gradient only).
Status embedding_bag_bwd_supported(std::int64_t dim, DType table_dtype, const SparseOptimizer* optimizer,
                                   EmbeddingBackwardAlgorithm algorithm);

// The sparse gradient, for composition and testing (tables give row counts and D; they are not written).
SparseGradient embedding_bag_bwd(Context& ctx, std::span<const TensorView> tables,
                                 std::span<const EmbeddingBags> bags, const TensorView& diff_dst,
                                 const EmbeddingBagOptions& options = {});

// Backward with the optimizer fused: updates the touched rows of each (f32) table and its state in place.
void embedding_bag_bwd_update(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                              const TensorView& diff_dst, const EmbeddingBagOptions& options,
                              const SparseOptimizer& optimizer, std::span<const EmbeddingOptimizerState> states,
                              EmbeddingBackwardAlgorithm algorithm = EmbeddingBackwardAlgorithm::kSorted);

}  // namespace reckon
