// Element types: f32, f16, bf16, i32, i64. The 16-bit float types are plain bit containers on the host so that
// public headers need no CUDA headers; device code reinterprets them as __half / __nv_bfloat16.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace reckon {

enum class DType : std::uint8_t { kF32, kF16, kBF16, kI32, kI64 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) noexcept;

struct bf16 {
  std::uint16_t bits = 0;
};
struct f16 {
  std::uint16_t bits = 0;
};

// float -> bf16 with round-to-nearest-even (as __float2bfloat16_rn); NaN stays a quiet NaN.
constexpr bf16 to_bf16(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x0040u)};
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<std::uint16_t>((u + rounding) >> 16)};
}
constexpr float to_float(bf16 x) { return std::bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16); }

// float -> IEEE half with round-to-nearest-even, subnormals and overflow to infinity (as __float2half_rn).
f16 to_f16(float x) noexcept;
float to_float(f16 x) noexcept;

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct dtype_of<f16> {
  static constexpr DType value = DType::kF16;
};
template <>
struct dtype_of<bf16> {
  static constexpr DType value = DType::kBF16;
};
template <>
struct dtype_of<std::int32_t> {
  static constexpr DType value = DType::kI32;
};
template <>
struct dtype_of<std::int64_t> {
  static constexpr DType value = DType::kI64;
};
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace reckon
