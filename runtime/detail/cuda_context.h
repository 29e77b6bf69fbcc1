// Internal (not installed): what CUDA code needs from the runtime: the context's stream and library handles,
// the current-device guard, cached device properties, and the debugging switch for synchronous launches.
#pragma once

#include "reckon/config.h"
#include "reckon/runtime/context.h"

#if RECKON_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#if RECKON_WITH_CUDNN
#include <cudnn.h>
#endif

namespace reckon::detail {

cudaStream_t cuda_stream(const Context& ctx);
cublasHandle_t cublas_handle(Context& ctx);  // created on first use, bound to ctx's stream
#if RECKON_WITH_CUDNN
cudnnHandle_t cudnn_handle(Context& ctx);  // created on first use, bound to ctx's stream
#endif

// Make `device` current for the scope; restores the previous device on exit.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// Properties of a device, read once per process.
const cudaDeviceProp& device_properties(int device);

// RECKON_SYNC_LAUNCHES=1: synchronise after every launch so an asynchronous fault is reported at its kernel.
bool sync_launches();

}  // namespace reckon::detail
#endif  // RECKON_WITH_CUDA
