// Internal (not installed): the device side of the context's error record (runtime/detail/device_errors.h).
#pragma once

#include "reckon/runtime/detail/device_errors.h"

namespace reckon::detail {

// Whether an earlier op (or an earlier launch of this one) left an error: record nothing then, and update nothing.
__device__ __forceinline__ bool device_error_pending(const DeviceErrorRecord* record) {
  return *reinterpret_cast<const volatile unsigned long long*>(&record->key) != static_cast<unsigned long long>(kNoDeviceError);
}

// Whether this op may record: the record is clear, or holds an error of this same op (not yet resolved). Read once
// at a kernel's start, so every block of the kernel takes part in the min-merge.
__device__ __forceinline__ bool device_may_record(const DeviceErrorRecord* record) {
  return *reinterpret_cast<const volatile std::int32_t*>(&record->resolved) == 0;
}

__device__ __forceinline__ void record_device_error(DeviceErrorRecord* record, DeviceErrorKind kind,
                                                    std::int64_t operand, std::int64_t position) {
  atomicMin(&record->key, static_cast<unsigned long long>(device_error_key(kind, operand, position)));
}

}  // namespace reckon::detail
