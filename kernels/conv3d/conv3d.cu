// CUDA direct convolution and pooling: one thread per output element (grid-stride), each computed by the element
// functions the CPU uses (conv3d_math.h), so the results are the CPU's bit for bit.
#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(Context& ctx, std::int64_t n) {
  const auto& prop = device_properties(ctx.device().index);
  return static_cast<unsigned>(std::max<std::int64_t>(
      1, std::min<std::int64_t>((n + kThreads - 1) / kThreads, 32LL * prop.multiProcessorCount)));
}

#define RECKON_GRID_STRIDE(i, total)                                                                    \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < (total); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

__global__ void conv_fwd_kernel(ConvProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.k * P.z * P.p * P.q) {
    const Index5 o = split_index(i, P.k, P.z, P.p, P.q);
    P.out[y_index(P, o.a, o.b, o.c, o.d, o.e)] = conv_fwd_element(P, o.a, o.b, o.c, o.d, o.e);
  }
}

__global__ void conv_bwd_data_kernel(ConvProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.c * P.d * P.h * P.w) {
    const Index5 o = split_index(i, P.c, P.d, P.h, P.w);
    P.out[x_index(P, o.a, o.b, o.c, o.d, o.e)] = conv_bwd_data_element(P, o.a, o.b, o.c, o.d, o.e);
  }
}

__global__ void conv_bwd_weights_kernel(ConvProblem P) {
  const std::int64_t weights = P.k * P.cg * P.t * P.r * P.s;
  RECKON_GRID_STRIDE(i, weights + (P.dbias != nullptr ? P.k : 0)) {
    if (i >= weights) {
      P.dbias[i - weights] = conv_bwd_bias_element(P, i - weights);
      continue;
    }
    const Index5 o = split_index(i, P.cg, P.t, P.r, P.s);
    P.out[w_index(P, o.a, o.b, o.c, o.d, o.e)] = conv_bwd_weights_element(P, o.a, o.b, o.c, o.d, o.e);
  }
}

__global__ void pool_fwd_kernel(PoolProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.c * P.z * P.p * P.q) {
    const Index5 o = split_index(i, P.c, P.z, P.p, P.q);
    std::int32_t argmax = -1;
    const std::int64_t at = pool_y_index(P, o.a, o.b, o.c, o.d, o.e);
    P.out[at] = pool_fwd_element(P, o.a, o.b, o.c, o.d, o.e, argmax);
    if (P.argmax_out != nullptr) P.argmax_out[at] = argmax;
  }
}

__global__ void pool_bwd_kernel(PoolProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.c * P.d * P.h * P.w) {
    const Index5 o = split_index(i, P.c, P.d, P.h, P.w);
    P.out[pool_x_index(P, o.a, o.b, o.c, o.d, o.e)] = pool_bwd_element(P, o.a, o.b, o.c, o.d, o.e);
  }
}

__global__ void global_pool_fwd_kernel(GlobalPoolProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.c) {
    std::int32_t argmax = -1;
    P.out[i] = global_pool_fwd_element(P, i / P.c, i % P.c, argmax);
    if (P.argmax_out != nullptr) P.argmax_out[i] = argmax;
  }
}

__global__ void global_pool_bwd_kernel(GlobalPoolProblem P) {
  RECKON_GRID_STRIDE(i, P.n * P.c * P.d * P.h * P.w) {
    const Index5 o = split_index(i, P.c, P.d, P.h, P.w);
    P.out[volume_index(P.channels_last, P.c, P.d, P.h, P.w, o.a, o.b, o.c, o.d, o.e)] =
        global_pool_bwd_element(P, o.a, o.b, o.c, o.d, o.e);
  }
}

}  // namespace

void conv3d_direct_cuda(Context& ctx, const ConvProblem& P, ConvOp op) {
  DeviceGuard guard(ctx.device().index);
  switch (op) {
    case ConvOp::kForward:
      RECKON_LAUNCH(conv_fwd_kernel, grid_for(ctx, P.n * P.k * P.z * P.p * P.q), kThreads, 0, cuda_stream(ctx), P);
      break;
    case ConvOp::kBackwardData:
      RECKON_LAUNCH(conv_bwd_data_kernel, grid_for(ctx, P.n * P.c * P.d * P.h * P.w), kThreads, 0, cuda_stream(ctx),
                    P);
      break;
    case ConvOp::kBackwardWeights:
      RECKON_LAUNCH(conv_bwd_weights_kernel, grid_for(ctx, P.k * P.cg * P.t * P.r * P.s + P.k), kThreads, 0,
                    cuda_stream(ctx), P);
      break;
  }
}

void pool3d_cuda(Context& ctx, const PoolProblem* pool, const GlobalPoolProblem* global, PoolOp op) {
  DeviceGuard guard(ctx.device().index);
  switch (op) {
    case PoolOp::kForward:
      RECKON_LAUNCH(pool_fwd_kernel, grid_for(ctx, pool->n * pool->c * pool->z * pool->p * pool->q), kThreads, 0,
                    cuda_stream(ctx), *pool);
      break;
    case PoolOp::kBackward:
      RECKON_LAUNCH(pool_bwd_kernel, grid_for(ctx, pool->n * pool->c * pool->d * pool->h * pool->w), kThreads, 0,
                    cuda_stream(ctx), *pool);
      break;
    case PoolOp::kGlobalForward:
      RECKON_LAUNCH(global_pool_fwd_kernel, grid_for(ctx, global->n * global->c), kThreads, 0, cuda_stream(ctx),
                    *global);
      break;
    case PoolOp::kGlobalBackward:
      RECKON_LAUNCH(global_pool_bwd_kernel, grid_for(ctx, global->n * global->c * global->d * global->h * global->w),
                    kThreads, 0, cuda_stream(ctx), *global);
      break;
  }
}

}  // namespace reckon::detail
