// The resolve step of the context's device error record (runtime/detail/device_errors.h).
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

// One thread: the only unresolved error can be the op's own, since every op resolves right after its kernels and
// no kernel records while the record holds an error.
__global__ void resolve_device_error_kernel(DeviceErrorRecord* record, const __grid_constant__ ErrorOperands operands) {
  const unsigned long long key = record->key;
  if (key == kNoDeviceError || record->resolved != 0) return;
  record->op = static_cast<std::int32_t>(operands.op);
  record->resolved = 1;
  const std::int64_t o = device_error_operand(key) - operands.first_operand;
  if (o < 0 || o >= operands.count) return;
  record->limit = operands.limit[o];
  if (device_error_kind(key) != DeviceErrorKind::kIndexOutOfRange || operands.ids[o] == nullptr) return;
  const std::int64_t at = device_error_position(key) * operands.stride[o];
  record->value = operands.ids_i64 ? static_cast<const long long*>(operands.ids[o])[at]
                                   : static_cast<const int*>(operands.ids[o])[at];
}

}  // namespace

void resolve_device_error(Context& ctx, const ErrorOperands& operands) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH(resolve_device_error_kernel, 1, 1, 0, cuda_stream(ctx), device_error_record(ctx), operands);
}

}  // namespace reckon::detail
