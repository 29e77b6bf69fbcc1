#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "reckon/runtime/dtype.h"

namespace reckon {
namespace {

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI32), 4u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_STREQ(dtype_name(DType::kBF16), "bf16");
  static_assert(dtype_v<float> == DType::kF32 && dtype_v<std::int64_t> == DType::kI64);
}

bool is_nan_bits_bf16(std::uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }
bool is_nan_bits_f16(std::uint16_t b) { return (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu) != 0; }

TEST(BF16, EveryValueRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const bf16 x{static_cast<std::uint16_t>(b)};
    const bf16 y = to_bf16(to_float(x));
    if (is_nan_bits_bf16(x.bits)) {
      EXPECT_TRUE(std::isnan(to_float(y))) << b;
    } else {
      ASSERT_EQ(y.bits, x.bits) << b;
    }
  }
}

TEST(BF16, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(to_float(to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
  EXPECT_EQ(to_float(to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(to_float(to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20))), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isinf(to_float(to_bf16(std::numeric_limits<float>::max()))));
  EXPECT_TRUE(std::isnan(to_float(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(F16, EveryValueRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const f16 x{static_cast<std::uint16_t>(b)};
    const f16 y = to_f16(to_float(x));
    if (is_nan_bits_f16(x.bits)) {
      EXPECT_TRUE(std::isnan(to_float(y))) << b;
    } else {
      ASSERT_EQ(y.bits, x.bits) << b;
    }
  }
}

// Reference: round |x| to the nearest multiple of the half spacing at its magnitude, ties to even, in double.
double reference_f16(double x) {
  const double a = std::fabs(x);
  if (a >= 65520.0) return std::copysign(std::numeric_limits<double>::infinity(), x);
  const int e = a < std::ldexp(1.0, -14) ? -14 : std::ilogb(a);
  const double spacing = std::ldexp(1.0, e - 10);
  return std::copysign(std::nearbyint(a / spacing) * spacing, x);  // default rounding mode: ties to even
}

TEST(F16, MatchesReferenceRoundingIncludingSubnormals) {
  std::uint32_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1664525u + 1013904223u;
    // Spread over exponents from deep subnormal to overflow.
    const float mant = 1.0f + static_cast<float>(state >> 9) * std::ldexp(1.0f, -23);
    const int exp = static_cast<int>((state >> 3) % 48) - 30;
    const float x = ((state & 1) ? -1.0f : 1.0f) * std::ldexp(mant, exp);
    const float got = to_float(to_f16(x));
    const double want = reference_f16(x);
    ASSERT_EQ(static_cast<double>(got), want) << "x = " << x;
  }
  EXPECT_EQ(to_float(to_f16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(to_float(to_f16(65520.0f))));
  EXPECT_EQ(to_float(to_f16(65519.0f)), 65504.0f);
  EXPECT_EQ(to_float(to_f16(std::ldexp(1.0f, -24))), std::ldexp(1.0f, -24));
  EXPECT_EQ(to_float(to_f16(std::ldexp(1.0f, -25))), 0.0f);  // tie with zero goes to even (zero)
  EXPECT_EQ(to_float(to_f16(std::ldexp(1.5f, -25))), std::ldexp(1.0f, -24));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(to_float(to_f16(-0.0f))), 0x80000000u);
}

}  // namespace
}  // namespace reckon
