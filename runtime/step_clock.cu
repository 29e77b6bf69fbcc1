// The step clock's updates on the device: one thread runs the host's function (runtime/step_clock.h).
#include "reckon/runtime/detail/launch.cuh"
#include "reckon/runtime/step_clock.h"

namespace reckon::detail {
namespace {

__global__ void step_clock_update_kernel(StepScalars* s, StepClockUpdate what, std::int64_t step, float learning_rate) {
  update_step_clock(*s, what, step, learning_rate);
}

}  // namespace

void step_clock_update_cuda(Context& ctx, StepScalars* scalars, StepClockUpdate what, std::int64_t step,
                            float learning_rate) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH(step_clock_update_kernel, 1, 1, 0, cuda_stream(ctx), scalars, what, step, learning_rate);
}

}  // namespace reckon::detail
