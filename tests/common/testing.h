// Shared helpers for reckon's tests: seeds, random inputs, the tolerance rule, guarded outputs, CUDA skips.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/device.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"
#include "reckon/runtime/tensor.h"

namespace reckon::testing {

// The seed for random test inputs: RECKON_TEST_SEED when set, else a fixed default. Use RECKON_TRACE_SEED() in a
// test so a failure prints the seed needed to reproduce it.
std::uint64_t test_seed();
#define RECKON_TRACE_SEED() \
  SCOPED_TRACE(::testing::Message() << "seed " << ::reckon::testing::test_seed() << " (set RECKON_TEST_SEED to change)")

// Skip the current test, with the reason, when no CUDA device answers.
#define RECKON_SKIP_WITHOUT_CUDA()                                                       \
  do {                                                                                   \
    if (!::reckon::cuda_available()) {                                                   \
      GTEST_SKIP() << "no CUDA device: " << ::reckon::cuda_unavailable_reason();        \
    }                                                                                    \
  } while (0)

// Seeded random inputs (Philox streams of the test seed; `stream` separates the inputs of one test).
std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint64_t stream);
std::vector<std::int64_t> random_ints(std::size_t n, std::int64_t lo, std::int64_t hi, std::uint64_t stream);
// A fresh, empty folder <system temp>/reckon_test_<name> (names must differ between test files run in parallel).
std::string temp_dir(const std::string& name);
// Writes `text` to dir/name and returns the path.
std::string write_file(const std::string& dir, const std::string& name, const std::string& text);

// |got - ref| <= atol + rtol * |ref|, reference accumulated in double (STYLE.md).
struct Tolerance {
  double rtol;
  double atol;
};
// fp32 results of a reduction over `length` terms of magnitude ~`scale`: rtol 1e-5, atol grows with the length.
Tolerance fp32_tolerance(std::int64_t length = 1, double scale = 1.0);
inline constexpr Tolerance kF16Tolerance{2e-3, 2e-3};
inline constexpr Tolerance kBF16Tolerance{1e-2, 1e-2};
inline constexpr Tolerance kExact{0.0, 0.0};

// Element-wise comparison; reports the count and the first few mismatches (NaN never passes).
::testing::AssertionResult all_close(const float* got, const double* ref, std::size_t n, Tolerance tol);
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& ref, Tolerance tol);
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& ref, Tolerance tol);
::testing::AssertionResult bitwise_equal(const void* a, const void* b, std::size_t bytes);

// An output buffer on a context's device with guard elements on both sides. The interior is poisoned (NaN for
// floats, a sentinel for integers) and the guards hold a distinct sentinel; after the op, download() checks that
// the guards came back untouched and returns the interior.
template <typename T>
class GuardedBuffer {
 public:
  // The guard before the checked region is 256 bytes, so the region keeps the buffer's 256-byte alignment and the
  // kernels' vector paths (float4, uint2) are the ones tested; the guard after it is an odd count of elements, so an
  // overrun by less than a vector is caught too.
  static constexpr std::size_t kFrontGuard = 256 / sizeof(T);
  static constexpr std::size_t kBackGuard = 67;
  static_assert(256 % sizeof(T) == 0, "element size must divide 256");

  GuardedBuffer(Context& ctx, std::size_t n) : ctx_(ctx), n_(n) {
    std::vector<T> init(kFrontGuard + n + kBackGuard);
    fill_bytes(init.data(), kFrontGuard, kGuardByte);
    fill_bytes(init.data() + kFrontGuard, n, kPoisonByte);
    fill_bytes(init.data() + kFrontGuard + n, kBackGuard, kGuardByte);
    buffer_ = Buffer::on_device(ctx, init.size() * sizeof(T));
    copy_bytes(ctx, buffer_.data(), ctx.device(), init.data(), Device::cpu(), init.size() * sizeof(T));
    ctx.synchronize();
  }

  T* data() const { return static_cast<T*>(buffer_.data()) + kFrontGuard; }
  TensorView view(std::initializer_list<std::int64_t> sizes) const {
    return TensorView::contiguous(data(), dtype_v<T>, ctx_.device(), sizes);
  }
  TensorView view() const { return view({static_cast<std::int64_t>(n_)}); }

  // Copies everything back; fails the current test if a guard changed.
  std::vector<T> download() {
    std::vector<T> all(kFrontGuard + n_ + kBackGuard);
    ctx_.synchronize();
    copy_bytes(ctx_, all.data(), Device::cpu(), buffer_.data(), ctx_.device(), all.size() * sizeof(T));
    ctx_.synchronize();
    const std::vector<unsigned char> front(kFrontGuard * sizeof(T), kGuardByte), back(kBackGuard * sizeof(T), kGuardByte);
    EXPECT_EQ(0, std::memcmp(all.data(), front.data(), front.size())) << "guard before the output was written";
    EXPECT_EQ(0, std::memcmp(all.data() + kFrontGuard + n_, back.data(), back.size()))
        << "guard after the output was written";
    const auto first = all.begin() + static_cast<std::ptrdiff_t>(kFrontGuard);
    return std::vector<T>(first, first + static_cast<std::ptrdiff_t>(n_));
  }

 private:
  // 0xFF bytes make an f32/bf16/f16 NaN and -1 for integers; 0xA5 bytes make a recognisable guard.
  static constexpr unsigned char kPoisonByte = 0xFF;
  static constexpr unsigned char kGuardByte = 0xA5;
  static void fill_bytes(T* p, std::size_t count, unsigned char byte) { std::memset(static_cast<void*>(p), byte, count * sizeof(T)); }

  Context& ctx_;
  std::size_t n_;
  Buffer buffer_;
};

// Copy a device (or host) tensor into a host vector.
template <typename T>
std::vector<T> to_host(Context& ctx, const TensorView& t) {
  std::vector<T> out(static_cast<std::size_t>(t.numel()));
  ctx.synchronize();
  copy(ctx, TensorView::contiguous(out.data(), t.dtype, Device::cpu(), t.sizes.data(), t.ndim), t);  // packed
  ctx.synchronize();
  return out;
}

}  // namespace reckon::testing
