// CUDA dense optimizer update: one grid-stride kernel over the elements, the element arithmetic of optimizer_math.h.
#include "reckon/kernels/optim/optimizer_impl.h"
#include "reckon/kernels/optim/optimizer_math.h"
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

// The update changes state: it does nothing while the context's record holds an input error of an earlier op (say,
// a bad id in the embedding gather of the same training step), which the next synchronisation raises.
__global__ void optimizer_update_kernel(OptimizerScalars scalars, float* params, const float* grads, float* state1,
                                        float* state2, std::int64_t n, const DeviceErrorRecord* errors) {
  if (device_error_pending(errors)) return;
  const OptimizerScalars s = clocked(scalars);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = regularised_gradient(s, grads[i], params[i]);
    params[i] = optimizer_step(s, g, decayed_weight(s, params[i]), state1 != nullptr ? state1 + i : nullptr,
                               state2 != nullptr ? state2 + i : nullptr, 0.0f);
  }
}

}  // namespace

void optimizer_update_cuda(Context& ctx, const OptimizerScalars& s, float* params, const float* grads, float* state1,
                           float* state2, std::int64_t n) {
  DeviceGuard guard(ctx.device().index);
  const auto& prop = device_properties(ctx.device().index);
  const auto blocks = static_cast<unsigned>(
      std::max<std::int64_t>(1, std::min<std::int64_t>((n + kThreads - 1) / kThreads, 32LL * prop.multiProcessorCount)));
  RECKON_LAUNCH(optimizer_update_kernel, blocks, kThreads, 0, cuda_stream(ctx), s, params, grads, state1, state2, n,
                device_error_record(ctx));
}

}  // namespace reckon::detail
