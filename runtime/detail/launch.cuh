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
// Raise the dynamic shared-memory limit of `func` when shared_bytes needs it.
void prepare_shared_memory(const void* func, const char* kernel_name, std::size_t shared_bytes, const char* file,
                           int line);
void check_launch(const char* kernel_name, cudaStream_t stream, const char* file, int line);

template <typename... KernelArgs, typename... Args>
void launch_kernel(const char* kernel_name, const char* file, int line, void (*kernel)(KernelArgs...), dim3 grid,
                   dim3 block, std::size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  validate_launch(kernel_name, grid, block, shared_bytes, file, line);
  prepare_shared_memory(reinterpret_cast<const void*>(kernel), kernel_name, shared_bytes, file, line);
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  check_launch(kernel_name, stream, file, line);
}

// Blocks needed to cover n items with `per_block` items per block.
inline unsigned blocks_for(long long n, long long per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace reckon::detail

#define RECKON_LAUNCH(kernel, grid, block, shared_bytes, stream, ...) \
  ::reckon::detail::launch_kernel(#kernel, __FILE__, __LINE__, kernel, (grid), (block), (shared_bytes), (stream), __VA_ARGS__)
