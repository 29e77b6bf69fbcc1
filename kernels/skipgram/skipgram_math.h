// Arithmetic shared by the CPU and CUDA SGNS steps (see skipgram.h for the order of draws and updates).
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/skipgram/skipgram.h"
#include "reckon/runtime/philox.h"

namespace reckon::detail {

// Counter spacing between centers: enough for 1 + 2 · window · negatives draws at the limits.
inline constexpr int kSgnsDrawShift = 11;
static_assert(1 + 2 * kSgnsMaxWindow * kSgnsMaxNegatives <= (1 << kSgnsDrawShift), "draw stride");

RECKON_HOST_DEVICE PhiloxStream sgns_draws(const SgnsProblem& p, std::int64_t center) {
  return PhiloxStream(p.seed, p.stream, static_cast<std::uint64_t>(center) << kSgnsDrawShift);
}

// A negative from the alias table, from one word: the bucket is the high part of word · V (Lemire's
// multiply-shift) and the accept test uses the low 32 bits of the same product, which are uniform given the
// bucket (24 of them taken, as every uniform here).
RECKON_HOST_DEVICE std::int32_t sgns_negative(const SgnsProblem& p, PhiloxStream& rng) {
  const std::uint64_t product = static_cast<std::uint64_t>(rng.next_u32()) * static_cast<std::uint64_t>(p.vocab);
  const auto bucket = static_cast<std::int64_t>(product >> 32);
  const float accept = uniform_from_bits(static_cast<std::uint32_t>(product));
  return accept < p.alias_prob[bucket] ? static_cast<std::int32_t>(bucket) : p.alias_index[bucket];
}

// The sentence holding position c: the last s with offsets[s] <= c (offsets validated, non-decreasing).
RECKON_HOST_DEVICE std::int64_t sgns_sentence_of(const SgnsProblem& p, std::int64_t c) {
  std::int64_t lo = 0, hi = p.num_sentences - 1;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi + 1) / 2;
    if (p.offsets[mid] <= c) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// The step size for a target given the score f and label: lr · (label − σ(f)), σ computed stably.
RECKON_HOST_DEVICE float sgns_gradient(float f, float label, float lr) {
  const float sigma = f >= 0.0f ? 1.0f / (1.0f + expf(-f)) : expf(f) / (1.0f + expf(f));
  return lr * (label - sigma);
}

// −log σ(f) for a positive, −log σ(−f) for a negative.
RECKON_HOST_DEVICE float sgns_loss(float f, float label) {
  const float z = label > 0.5f ? f : -f;
  return (z > 0.0f ? 0.0f : -z) + log1pf(expf(-fabsf(z)));
}

}  // namespace reckon::detail
