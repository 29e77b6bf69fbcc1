// Internal (not installed): what random.cpp and random.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is random.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/random/random.h"

namespace reckon {
namespace detail {
enum class RandomFill : std::uint8_t { kUniform, kNormal, kBits };
struct RandomFillArgs {
  RandomFill fill;
  std::uint64_t seed;
  std::uint64_t stream;
  float a;  // uniform: lo; normal: mean
  float b;  // uniform: hi - lo; normal: stddev
};
void random_fill_cuda(Context& ctx, const TensorView& dst, const RandomFillArgs& args);
}  // namespace detail
}  // namespace reckon
