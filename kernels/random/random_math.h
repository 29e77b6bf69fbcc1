// The per-block arithmetic shared by the CPU and CUDA random fills, written once so both compute the same values.
#pragma once

#include <cmath>

#include "reckon/kernels/random/random_impl.h"
#include "reckon/runtime/philox.h"

namespace reckon::detail {

// Fills out[0..3] with the four values of Philox block `block` for the requested distribution.
RECKON_HOST_DEVICE void random_block_values(const RandomFillArgs& args, std::uint64_t block, float out[4]) {
  const Philox4x32 r = philox_block(args.seed, args.stream, block);
  if (args.fill == RandomFill::kUniform) {
    for (int k = 0; k < 4; ++k) out[k] = fmaf(args.b, uniform_from_bits(r.v[k]), args.a);
  } else {
    constexpr float kTwoPi = 6.28318530717958647692f;
    for (int k = 0; k < 4; k += 2) {
      const float radius = sqrtf(-2.0f * logf(uniform_open_from_bits(r.v[k])));
      const float angle = kTwoPi * uniform_from_bits(r.v[k + 1]);
      out[k] = fmaf(args.b, radius * cosf(angle), args.a);
      out[k + 1] = fmaf(args.b, radius * sinf(angle), args.a);
    }
  }
}

}  // namespace reckon::detail
