// The launch macro: validation of grid, block and shared memory, error reporting that names the kernel, and the
// device-side error flag pattern (kernels record, the host reports).
#include <gtest/gtest.h>

#include <string>

#include "reckon/runtime/context.h"
#include "reckon/runtime/detail/launch.cuh"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

__global__ void write_index_kernel(int* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i;
}

__global__ void uses_dynamic_shared_kernel(int* out) {
  extern __shared__ int scratch[];
  scratch[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = scratch[blockDim.x - 1 - threadIdx.x];
}

TEST(LaunchCuda, ValidLaunchRuns) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  testing::GuardedBuffer<int> out(ctx, 1000);
  RECKON_LAUNCH(write_index_kernel, detail::blocks_for(1000, 256), 256, 0, detail::cuda_stream(ctx), out.data(), 1000);
  const std::vector<int> got = out.download();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(LaunchCuda, InvalidConfigurationsNameTheKernel) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  Buffer out = Buffer::on_device(ctx, 4096);
  int* p = static_cast<int*>(out.data());
  auto expect_invalid = [&](dim3 grid, dim3 block, std::size_t shared) {
    try {
      RECKON_LAUNCH(write_index_kernel, grid, block, shared, detail::cuda_stream(ctx), p, 0);
      ADD_FAILURE() << "launch accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(e.message().find("write_index_kernel"), std::string::npos) << e.message();
    }
  };
  expect_invalid(dim3(0), dim3(32), 0);                       // empty grid
  expect_invalid(dim3(1, 70000), dim3(32), 0);                // grid.y above 65535
  expect_invalid(dim3(1), dim3(2048), 0);                     // too many threads
  expect_invalid(dim3(1), dim3(32), std::size_t{1} << 30);    // absurd shared memory
  ctx.synchronize();
}

TEST(LaunchCuda, LargeDynamicSharedMemoryIsEnabled) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const auto& prop = detail::device_properties(0);
  if (prop.sharedMemPerBlockOptin <= 48 * 1024) GTEST_SKIP() << "device allows no more than 48 KiB per block";
  testing::GuardedBuffer<int> out(ctx, 256);
  RECKON_LAUNCH(uses_dynamic_shared_kernel, 1, 256, 64 * 1024, detail::cuda_stream(ctx), out.data());
  const std::vector<int> got = out.download();
  for (int i = 0; i < 256; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], 255 - i);
}

TEST(LaunchCuda, GridAbove65535BlocksInX) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const int n = 70000 * 32;
  testing::GuardedBuffer<int> out(ctx, static_cast<std::size_t>(n));
  RECKON_LAUNCH(write_index_kernel, 70000, 32, 0, detail::cuda_stream(ctx), out.data(), n);
  const std::vector<int> got = out.download();
  for (int i = 0; i < n; i += 997) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(got.back(), n - 1);
}

}  // namespace
}  // namespace reckon
