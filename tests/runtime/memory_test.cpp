#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

TEST(Buffer, HostAllocationsAreAligned) {
  for (std::size_t bytes : {1u, 63u, 64u, 4097u, 1u << 20}) {
    Buffer b = Buffer::host(bytes);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % kHostAlignment, 0u);
    EXPECT_EQ(b.size(), bytes);
    EXPECT_EQ(b.kind(), MemoryKind::kHost);
  }
  Buffer page = Buffer::host(100, 4096);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(page.data()) % 4096, 0u);
  EXPECT_THROW((void)Buffer::host(8, 48), Error);  // not a power of two
  EXPECT_TRUE(Buffer::host(0).empty());
}

TEST(Buffer, MoveTransfersOwnership) {
  Buffer a = Buffer::host(128);
  void* p = a.data();
  Buffer b = std::move(a);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  Buffer c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  c.reset();
  EXPECT_EQ(c.data(), nullptr);
}

TEST(Buffer, PinnedFallsBackToHostWithoutGpu) {
  Buffer b = Buffer::pinned(1000);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.kind(), cuda_available() ? MemoryKind::kPinned : MemoryKind::kHost);
  EXPECT_TRUE(b.device().is_cpu());
}

TEST(Copy, HostToHostAndTensorTo) {
  Context ctx(Device::cpu());
  Tensor a = Tensor::empty(ctx, DType::kI32, {3, 5});
  std::iota(a.data<std::int32_t>(), a.data<std::int32_t>() + 15, 100);
  Tensor b = a.to(ctx, Device::cpu());
  EXPECT_NE(b.data<std::int32_t>(), a.data<std::int32_t>());
  for (int i = 0; i < 15; ++i) EXPECT_EQ(b.data<std::int32_t>()[i], 100 + i);
  EXPECT_EQ(b.size(0), 3);
  EXPECT_EQ(b.size(1), 5);
}

TEST(Copy, RejectsMismatches) {
  Context ctx(Device::cpu());
  Tensor a = Tensor::empty(ctx, DType::kF32, {4});
  Tensor b = Tensor::empty(ctx, DType::kF32, {5});
  Tensor c = Tensor::empty(ctx, DType::kI32, {4});
  EXPECT_THROW(copy(ctx, b, a), Error);
  EXPECT_THROW(copy(ctx, c, a), Error);
  EXPECT_NO_THROW(copy_bytes(ctx, nullptr, Device::cpu(), nullptr, Device::cpu(), 0));
  EXPECT_THROW(copy_bytes(ctx, nullptr, Device::cpu(), a.data<float>(), Device::cpu(), 4), Error);
}

// The tests' guarded outputs keep the allocation's alignment, so kernels take their vector paths (float4, uint2)
// on them, not only the scalar fallback.
template <typename T>
void expect_guarded_region_aligned() {
  Context ctx(Device::cpu());
  static_assert(GuardedBuffer<T>::kFrontGuard * sizeof(T) == 256);
  for (std::size_t n : {1u, 16u, 1001u}) {
    GuardedBuffer<T> buffer(ctx, n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer.data()) % std::min<std::size_t>(kHostAlignment, 256), 0u)
        << sizeof(T) << "-byte elements, n = " << n;
  }
}

TEST(GuardedBuffer, CheckedRegionKeepsTheAllocationsAlignment) {
  expect_guarded_region_aligned<float>();
  expect_guarded_region_aligned<std::uint16_t>();
  expect_guarded_region_aligned<std::int64_t>();
  expect_guarded_region_aligned<std::uint8_t>();
}

TEST(MemoryCuda, RoundTripThroughDeviceKeepsGuards) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  Context ctx(Device::cuda(0));
  for (std::size_t n : {1u, 31u, 32u, 33u, 255u, 257u, 1000003u}) {
    const std::vector<float> src = testing::random_floats(n, -5.0f, 5.0f, n);
    GuardedBuffer<float> dev(ctx, n);
    copy_bytes(ctx, dev.data(), ctx.device(), src.data(), Device::cpu(), n * sizeof(float));
    const std::vector<float> back = dev.download();
    EXPECT_TRUE(testing::bitwise_equal(back.data(), src.data(), n * sizeof(float))) << "n = " << n;
  }
}

TEST(MemoryCuda, DeviceToDeviceAndPinnedCopies) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const std::size_t n = (1u << 22) + 3;
  Tensor host = Tensor::empty_host(DType::kI64, {static_cast<std::int64_t>(n)}, /*pinned=*/true);
  std::iota(host.data<std::int64_t>(), host.data<std::int64_t>() + n, std::int64_t{1} << 40);
  Tensor a = host.to(ctx, ctx.device());
  Tensor b = Tensor::empty(ctx, DType::kI64, {static_cast<std::int64_t>(n)});
  copy(ctx, b, a);
  Tensor back = b.to(ctx, Device::cpu());
  ctx.synchronize();
  EXPECT_TRUE(testing::bitwise_equal(back.data<std::int64_t>(), host.data<std::int64_t>(), n * 8));
}

TEST(MemoryCuda, PoolReusesFreedMemory) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const std::size_t bytes = std::size_t{64} << 20;
  {
    Buffer warm = Buffer::on_device(ctx, bytes);
  }
  ctx.synchronize();
  const DevicePoolStats before = device_pool_stats(ctx.device());
  EXPECT_GE(before.reserved_bytes, bytes);  // freed memory stays cached in the pool
  {
    Buffer again = Buffer::on_device(ctx, bytes);
    ctx.synchronize();
    const DevicePoolStats during = device_pool_stats(ctx.device());
    EXPECT_GE(during.used_bytes, bytes);
    EXPECT_EQ(during.reserved_bytes, before.reserved_bytes);  // served from the cache, no new driver allocation
  }
  ctx.synchronize();
  device_pool_trim(ctx.device());
  EXPECT_LT(device_pool_stats(ctx.device()).reserved_bytes, before.reserved_bytes);
}

TEST(MemoryCuda, HugeAllocationReportsOutOfMemory) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  try {
    Buffer b = Buffer::on_device(ctx, std::size_t{1} << 50);  // 1 PiB
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kOutOfMemory) << e.what();
  }
  // The context is still usable afterwards.
  Buffer ok = Buffer::on_device(ctx, 1024);
  ctx.synchronize();
}

TEST(MemoryCuda, BuffersOutliveTheirContext) {
  RECKON_SKIP_WITHOUT_CUDA();
  Buffer survivor;
  {
    Context ctx(Device::cuda(0));
    survivor = Buffer::on_device(ctx, 4096);
  }
  survivor.reset();  // frees on the (still alive) stream the context created
  SUCCEED();
}

}  // namespace
}  // namespace reckon
