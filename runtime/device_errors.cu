// The resolve step of the context's device error record (runtime/detail/device_errors.h).
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

__global__ void resolve_device_error_kernel(DeviceErrorRecord* record, const __grid_constant__ ErrorOperands operands) {
  resolve_device_error_record(*record, operands);
}

}  // namespace

void resolve_device_error(Context& ctx, const ErrorOperands& operands) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH(resolve_device_error_kernel, 1, 1, 0, cuda_stream(ctx), device_error_record(ctx), operands);
}

}  // namespace reckon::detail
