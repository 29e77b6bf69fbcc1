// Internal (not installed): what embedding.cpp and embedding.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is embedding.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/optim/optimizer_impl.h"
#include "reckon/runtime/step_clock.h"

namespace reckon {
namespace detail {

struct DeviceErrorRecord;  // runtime/detail/device_errors.h

inline constexpr int kMaxTablesPerLaunch = 32;

struct EmbeddingTableArgs {
  const void* weights;
  std::int64_t rows;
  std::int64_t row_stride;  // elements between consecutive rows (>= D)
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

// Launches the forward over one chunk of tables; errors go to the context's record (runtime/detail/device_errors.h).
void embedding_bag_fwd_cuda(Context& ctx, const EmbeddingFwdArgs& args, DType weight_dtype, DType index_dtype,
                            DeviceErrorRecord* errors, int vec);

// One table as the backward sees it (device or host pointers, per the context).
struct EmbeddingBwdTable {
  float* weights;             // null for the gradient-only path
  float* state1;
  float* state2;
  std::int64_t weight_stride;  // elements between rows of weights, state1, state2
  std::int64_t state1_stride;
  std::int64_t state2_stride;
  std::int64_t rows;
  std::int64_t row_base;      // first global key of this table: keys are row_base + row
  const void* offsets;
  const void* indices;
  const float* per_sample_weights;
  std::int64_t nnz;
  std::int64_t entry_base;    // first global entry of this table
  std::int64_t out_row_base;  // pooling none: first diff_dst row of this table
};

struct EmbeddingBwdProblem {
  const EmbeddingBwdTable* tables;  // num_tables entries (device memory on CUDA)
  int num_tables;
  std::int64_t batch;
  int dim;
  std::int64_t total_rows;     // Σ rows: the key of entries outside every bag
  std::int64_t total_entries;  // Σ nnz
  PoolingMode pooling;
  IndexPolicy policy;
  std::int64_t oov_row;
  const float* diff_dst;
};

// CUDA backward. mode: write the gradient into (out_table, out_row, out_values) or apply `update`.
void embedding_bag_bwd_cuda(Context& ctx, const EmbeddingBwdProblem& problem,
                            const std::vector<EmbeddingBwdTable>& host_tables, DType index_dtype,
                            const OptimizerScalars* update, EmbeddingBackwardAlgorithm algorithm,
                            SparseGradient* gradient);

}  // namespace detail
}  // namespace reckon
