// CUDA softmax cross-entropy: one block per row; the row's maximum and its sum of exponentials are block
// reductions (CUB), then every thread writes its columns' gradient. Rows are independent, so the grid strides
// over them.
#include <cub/block/block_reduce.cuh>

#include <cmath>

#include "reckon/kernels/softmax/bpr_max_math.h"
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

struct SumOp {
  __device__ BprMaxSums operator()(const BprMaxSums& a, const BprMaxSums& b) const { return a + b; }
};

// One block per row, the three passes of bpr_max_math.h; a row whose target is outside [−1, M) gets a NaN loss.
__global__ void __launch_bounds__(kThreads) bpr_max_kernel(BprMaxArgs a) {
  using Reduce = cub::BlockReduce<float, kThreads>;
  using SumReduce = cub::BlockReduce<BprMaxSums, kThreads>;
  __shared__ union {
    typename Reduce::TempStorage max;
    typename SumReduce::TempStorage sums;
  } storage;
  __shared__ float shared_top;
  __shared__ BprMaxSums shared_sums;
  const std::int64_t M = a.cols;
  for (std::int64_t b = blockIdx.x; b < a.rows; b += gridDim.x) {
    float* d = a.diff + b * M;
    const std::int32_t t = a.targets[b];
    const bool valid = t >= 0 && t < M;
    const std::int32_t target_item = valid ? a.column_items[t] : 0;
    float top = -INFINITY;
    for (std::int64_t j = threadIdx.x; valid && j < M; j += blockDim.x) {
      if (a.column_items[j] != target_item) top = fmaxf(top, bpr_score(a, b, j));
    }
    top = Reduce(storage.max).Reduce(top, MaxOp());
    if (threadIdx.x == 0) shared_top = top;
    __syncthreads();
    top = shared_top;
    if (!valid || top == -INFINITY) {
      for (std::int64_t j = threadIdx.x; j < M; j += blockDim.x) d[j] = 0.0f;
      if (threadIdx.x == 0) a.losses[b] = t == -1 || valid ? 0.0f : nanf("");
      __syncthreads();  // shared_top is rewritten for the next row
      continue;
    }
    const float target_score = bpr_score(a, b, t);
    BprMaxSums sums{};
    for (std::int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      if (a.column_items[j] != target_item) sums = sums + bpr_max_terms(bpr_score(a, b, j), target_score, top);
    }
    sums = SumReduce(storage.sums).Reduce(sums, SumOp());
    if (threadIdx.x == 0) shared_sums = sums;
    __syncthreads();  // also: every thread has read the target's score before the row is overwritten in place
    sums = shared_sums;
    const BprMaxRow row = bpr_max_row(a, sums);
    for (std::int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const bool negative = a.column_items[j] != target_item;
      d[j] = j == t ? row.target_grad
                    : negative ? bpr_max_negative_grad(a, row, bpr_score(a, b, j), target_score, top, sums.e) : 0.0f;
    }
    if (threadIdx.x == 0) a.losses[b] = row.loss;
    __syncthreads();  // the shared values are rewritten for the next row
  }
}

}  // namespace

void bpr_max_loss_cuda(Context& ctx, const BprMaxArgs& a) {
  DeviceGuard guard(ctx.device().index);
  const auto& prop = device_properties(ctx.device().index);
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(a.rows, 32LL * prop.multiProcessorCount));
  RECKON_LAUNCH(bpr_max_kernel, blocks, kThreads, 0, cuda_stream(ctx), a);
}

void softmax_cross_entropy_cuda(Context& ctx, const SoftmaxArgs& a) {
  DeviceGuard guard(ctx.device().index);
  const auto& prop = device_properties(ctx.device().index);
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(a.rows, 32LL * prop.multiProcessorCount));
  RECKON_LAUNCH(softmax_ce_kernel, blocks, kThreads, 0, cuda_stream(ctx), a);
}

}  // namespace reckon::detail
