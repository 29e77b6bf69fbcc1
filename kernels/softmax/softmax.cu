// CUDA softmax cross-entropy: one block per row; the row's maximum and its sum of exponentials are block
// reductions (CUB), then every thread writes its columns' gradient. Rows are independent, so the grid strides
// over them.
#include <cub/block/block_reduce.cuh>

#include <cmath>

#include "reckon/kernels/softmax/softmax_impl.h"
#include "reckon/runtime/detail/launch.cuh"
#include "reckon/runtime/fp.h"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__global__ void __launch_bounds__(kThreads) softmax_ce_kernel(SoftmaxArgs a) {
  using Reduce = cub::BlockReduce<float, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ float shared_value;
  const std::int64_t N = a.cols;
  for (std::int64_t b = blockIdx.x; b < a.rows; b += gridDim.x) {
    const float* z = a.logits + b * N;
    float* d = a.diff + b * N;
    const std::int32_t t = a.targets[b];
    if (t < 0 || t >= N) {
      for (std::int64_t j = threadIdx.x; j < N; j += blockDim.x) d[j] = 0.0f;
      if (threadIdx.x == 0) a.losses[b] = t < 0 ? 0.0f : nanf("");
      continue;
    }
    float top = -INFINITY;
    for (std::int64_t j = threadIdx.x; j < N; j += blockDim.x) top = fmaxf(top, z[j]);
    top = Reduce(storage).Reduce(top, MaxOp());
    if (threadIdx.x == 0) shared_value = top;
    __syncthreads();
    top = shared_value;
    float sum = 0.0f;
    for (std::int64_t j = threadIdx.x; j < N; j += blockDim.x) sum = add_rn(sum, expf(sub_rn(z[j], top)));
    __syncthreads();  // the storage is reused
    sum = Reduce(storage).Sum(sum);
    if (threadIdx.x == 0) shared_value = add_rn(top, logf(sum));
    __syncthreads();
    const float lse = shared_value, zt = z[t];
    __syncthreads();  // every thread has read z[t] before the row is overwritten in place
    for (std::int64_t j = threadIdx.x; j < N; j += blockDim.x) {
      const float p = mul_rn(expf(sub_rn(z[j], lse)), a.scale);
      d[j] = j == t ? sub_rn(p, a.scale) : p;
    }
    if (threadIdx.x == 0) a.losses[b] = sub_rn(lse, zt);
    __syncthreads();  // shared_value is rewritten for the next row
  }
}

}  // namespace

void softmax_cross_entropy_cuda(Context& ctx, const SoftmaxArgs& a) {
  DeviceGuard guard(ctx.device().index);
  const auto& prop = device_properties(ctx.device().index);
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(a.rows, 32LL * prop.multiProcessorCount));
  RECKON_LAUNCH(softmax_ce_kernel, blocks, kThreads, 0, cuda_stream(ctx), a);
}

}  // namespace reckon::detail
