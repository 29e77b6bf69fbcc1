// CUDA GRU cell: one thread per (row, unit), grid-stride, through the element functions the CPU uses (gru_math.h).
#include "reckon/kernels/gru/gru_impl.h"
#include "reckon/kernels/gru/gru_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

template <bool kBackward>
__global__ void gru_cell_kernel(GruArgs a) {
  const std::int64_t total = a.batch * a.hidden;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (kBackward) {
      gru_bwd_element(a, i / a.hidden, i % a.hidden);
    } else {
      gru_fwd_element(a, i / a.hidden, i % a.hidden);
    }
  }
}

unsigned grid_for(Context& ctx, std::int64_t n) {
  const auto& prop = device_properties(ctx.device().index);
  return static_cast<unsigned>(std::max<std::int64_t>(
      1, std::min<std::int64_t>((n + kThreads - 1) / kThreads, 32LL * prop.multiProcessorCount)));
}

}  // namespace

void gru_cell_fwd_cuda(Context& ctx, const GruArgs& a) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH((gru_cell_kernel<false>), grid_for(ctx, a.batch * a.hidden), kThreads, 0, cuda_stream(ctx), a);
}

void gru_cell_bwd_cuda(Context& ctx, const GruArgs& a) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH((gru_cell_kernel<true>), grid_for(ctx, a.batch * a.hidden), kThreads, 0, cuda_stream(ctx), a);
}

}  // namespace reckon::detail
