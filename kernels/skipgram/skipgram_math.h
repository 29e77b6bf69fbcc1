// Arithmetic shared by the CPU and CUDA SGNS steps (see skipgram.h for the order of draws and updates).
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/skipgram/skipgram_impl.h"
#include "reckon/runtime/philox.h"

namespace reckon::detail {

// Operands of sgns_step's device errors (runtime/detail/device_errors.h).
inline constexpr int kSgnsOffsetsOperand = 0;
inline constexpr int kSgnsTokensOperand = 1;
inline constexpr int kSgnsAliasOperand = 2;

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
#if defined(__CUDA_ARCH__)
  // The whole warp draws the same word, so the branch is uniform and saves the second load.
  return accept < p.alias_prob[bucket] ? static_cast<std::int32_t>(bucket) : p.alias_index[bucket];
#else
  // Both loads and a select, no branch: the accept test is a coin flip the CPU cannot predict.
  const std::int32_t alias = p.alias_index[bucket];
  const std::int32_t keep = -static_cast<std::int32_t>(accept < p.alias_prob[bucket]);  // all ones or zero
  return (static_cast<std::int32_t>(bucket) & keep) | (alias & ~keep);
#endif
}

// What a step checks before any row moves, the same on both devices: offsets entry s (0 first, num_tokens last,
// non-decreasing), a token, alias table entry b.
RECKON_HOST_DEVICE bool sgns_offset_valid(const SgnsProblem& p, std::int64_t s) {
  return (s > 0 || p.offsets[0] == 0) && (s < p.num_sentences || p.offsets[s] == p.num_tokens) &&
         (s == p.num_sentences || p.offsets[s] <= p.offsets[s + 1]);
}
RECKON_HOST_DEVICE bool sgns_token_valid(const SgnsProblem& p, std::int32_t token) {
  return token >= 0 && token < p.vocab;
}
RECKON_HOST_DEVICE bool sgns_alias_entry_valid(const SgnsProblem& p, std::int64_t b) {
  return sgns_token_valid(p, p.alias_index[b]) && p.alias_prob[b] >= 0.0f;  // NaN fails
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

// e^x for the sigmoid, inlined (the library call is a tenth of a training step): x = n·ln2 + r with |r| <= ln2/2
// (ln2 split in two for an exact product), e^r by its Taylor polynomial to degree 7 (relative error < 2e-8 before
// rounding), times 2^n built in the exponent bits. Saturates to 0 and +inf outside [-87, 88].
RECKON_HOST_DEVICE float sgns_exp(float x) {
  if (x < -87.0f) return 0.0f;
  if (x > 88.0f) return __builtin_huge_valf();
  const float n = floorf(x * 1.44269504f + 0.5f);
  const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
#if defined(__CUDA_ARCH__)
  const float scale = __int_as_float(static_cast<int>(bits));
#else
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof(scale));
#endif
  return p * scale;
}

// The step size for a target given the score f and label: lr · (label − σ(f)); 1 / (1 + e^-f) is stable for every
// f (e^-f overflowing to inf gives σ = 0).
RECKON_HOST_DEVICE float sgns_gradient(float f, float label, float lr) {
  const float sigma = 1.0f / (1.0f + sgns_exp(-f));
  return lr * (label - sigma);
}

// −log σ(f) for a positive, −log σ(−f) for a negative.
RECKON_HOST_DEVICE float sgns_loss(float f, float label) {
  const float z = label > 0.5f ? f : -f;
  return (z > 0.0f ? 0.0f : -z) + log1pf(expf(-fabsf(z)));
}

}  // namespace reckon::detail
