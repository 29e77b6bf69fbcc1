// Benchmark-only baseline for the embedding backward (see embedding_bench_baseline.cu).
#pragma once

#include <cstdint>

namespace reckon::bench {

// All tables are one concatenated [Σ rows, dim] array here; keys index it directly.
struct NaiveBackwardArgs {
  float* weights;
  float* state;     // row-wise Adagrad state [Σ rows]
  float* gradient;  // dense [Σ rows, dim], zero between calls
  int* touched;     // [Σ rows], zero between calls
  const float* diff_dst;
  const std::int64_t* entry_key;
  const std::int64_t* entry_diff_row;
  std::int64_t entries;
  int dim;
  float learning_rate;
  float eps;
};

void naive_backward_rowwise_adagrad(const NaiveBackwardArgs& args, void* stream);

}  // namespace reckon::bench
