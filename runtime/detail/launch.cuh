// Internal (not installed): the one way kernels are launched.
//
//   RECKON_LAUNCH(my_kernel, grid, block, shared_bytes, stream, args...);
//   RECKON_LAUNCH((templated_kernel<float, 4>), grid, block, 0, stream, args...);
//
// Before launching it checks the grid, block and dynamic shared memory against the device's limits (raising a
// kernel's dynamic shared-memory limit when more than 48 KiB is asked for and the device allows it); after, it
// checks the launch status. Every failure names the kernel, file and line. With RECKON_SYNC_LAUNCHES=1 it also
// synchronises the stream so that a fault inside the kernel is reported here.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"

namespace reckon::detail {

// Throws kInvalidArgument when the configuration exceeds the current device's limits.
void validate_launch(const char* kernel_name, dim3 grid, dim3 block, std::size_t shared_bytes, const char* file,
                     int line);
[[noreturn]] void throw_launch_error(cudaError_t status, const char* kernel_name, const char* what, const char* file,
                                     int line);

// Whether `stream` is being captured into a graph (then nothing may synchronise it). Inline, like the launch.
inline bool stream_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) != cudaSuccess) {
    (void)cudaGetLastError();  // the synchronisation that follows reports what is wrong with the stream
    return false;
  }
  return status != cudaStreamCaptureStatusNone;
}

// The calls that touch the CUDA runtime's state (the kernel's attributes, the last error, the stream) are inline,
// so they run in the runtime that registered the kernel: the caller's, even if it were not the library's.
template <typename... KernelArgs, typename... Args>
void launch_kernel(const char* kernel_name, const char* file, int line, void (*kernel)(KernelArgs...), dim3 grid,
                   dim3 block, std::size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  constexpr std::size_t kDefaultDynamicSharedLimit = 48 * 1024;
  validate_launch(kernel_name, grid, block, shared_bytes, file, line);
  if (shared_bytes > kDefaultDynamicSharedLimit) {
    const cudaError_t status = cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    static_cast<int>(shared_bytes));
    if (status != cudaSuccess) throw_launch_error(status, kernel_name, "cudaFuncSetAttribute", file, line);
  }
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) throw_launch_error(status, kernel_name, "launch", file, line);
  if (sync_launches() && !stream_capturing(stream)) {
    status = cudaStreamSynchronize(stream);
    if (status != cudaSuccess) throw_launch_error(status, kernel_name, "launch (synchronised)", file, line);
  }
}

// Blocks needed to cover n items with `per_block` items per block.
inline unsigned blocks_for(long long n, long long per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace reckon::detail

#define RECKON_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  ::reckon::detail::launch_kernel(#kernel, __FILE__, __LINE__, kernel, (grid), (block), (shared_bytes), (stream), __VA_ARGS__)
