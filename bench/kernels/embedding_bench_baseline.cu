// The naive GPU baseline for the embedding backward with row-wise Adagrad: atomic scatter of every id's gradient
// into a dense, table-sized gradient buffer, then a separate pass that applies the optimizer to each touched row
// once (claimed through a flag) and clears its gradient. Benchmark-only code.
#include "embedding_bench_baseline.h"

#include <cuda_runtime.h>

namespace reckon::bench {
namespace {

__global__ void naive_scatter_kernel(const NaiveBackwardArgs a) {
  const std::int64_t total = a.entries * a.dim;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t e = i / a.dim;
    const int d = static_cast<int>(i % a.dim);
    const std::int64_t key = a.entry_key[e];
    atomicAdd(a.gradient + key * a.dim + d, a.diff_dst[a.entry_diff_row[e] * a.dim + d]);
    if (d == 0) a.touched[key] = 1;
  }
}

__global__ void naive_rowwise_adagrad_kernel(const NaiveBackwardArgs a) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * blockDim.x / 32;
  for (std::int64_t e = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32; e < a.entries; e += warps) {
    const std::int64_t key = a.entry_key[e];
    int claimed = lane == 0 ? atomicExch(a.touched + key, 0) : 0;
    claimed = __shfl_sync(0xffffffffu, claimed, 0);
    if (!claimed) continue;
    float* g = a.gradient + key * a.dim;
    float sum = 0.0f;
    for (int d = lane; d < a.dim; d += 32) sum += g[d] * g[d];
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    const float state = a.state[key] + sum / static_cast<float>(a.dim);
    if (lane == 0) a.state[key] = state;
    const float scale = a.learning_rate / (sqrtf(state) + a.eps);
    for (int d = lane; d < a.dim; d += 32) {
      a.weights[key * a.dim + d] -= scale * g[d];
      g[d] = 0.0f;
    }
  }
}

}  // namespace

void naive_backward_rowwise_adagrad(const NaiveBackwardArgs& a, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  naive_scatter_kernel<<<1024, 256, 0, s>>>(a);
  naive_rowwise_adagrad_kernel<<<1024, 256, 0, s>>>(a);
}

}  // namespace reckon::bench
