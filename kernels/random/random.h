// Random fills from the shared Philox4x32-10 streams (runtime/philox.h).
//
// Element i of dst takes word i % 4 of Philox block i / 4 of (ctx.seed(), stream). Uniform fills are bitwise
// identical on CPU and CUDA (integer-to-float conversion and one correctly rounded fma). Normal fills use the
// Box-Muller transform on word pairs (0,1) and (2,3) of each block; they agree to a few ulps, not bitwise, because
// logf/sinf/cosf differ between the host libm and CUDA's device math. Deterministic for a given seed and stream.
//
// dst: contiguous, f32 or bf16 (bf16 rounds to nearest even) for uniform/normal; i32 for bits.
#pragma once

#include <cstdint>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

// Pass as `stream` to take a fresh stream from the context (ctx.next_rng_stream()).
inline constexpr std::uint64_t kNextRngStream = ~std::uint64_t{0};

// Uniform in [lo, hi): lo + (hi - lo) * u with u = (bits >> 8) * 2^-24, computed as one fma.
void random_uniform(Context& ctx, const TensorView& dst, float lo, float hi, std::uint64_t stream = kNextRngStream);
// Normal with the given mean and standard deviation.
void random_normal(Context& ctx, const TensorView& dst, float mean, float stddev,
                   std::uint64_t stream = kNextRngStream);
// The raw 32-bit words, stored in an i32 tensor.
void random_bits(Context& ctx, const TensorView& dst, std::uint64_t stream = kNextRngStream);

}  // namespace reckon
