#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "reckon/runtime/philox.h"

namespace reckon {
namespace {

// Known-answer vectors of Random123's kat_vectors for philox4x32 with 10 rounds: counter[4], key[2] -> output[4].
struct Kat {
  Philox4x32 counter;
  std::uint32_t key0, key1;
  Philox4x32 expected;
};

TEST(Philox, MatchesPublishedKnownAnswers) {
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 got = philox4x32_10(k.counter, k.key0, k.key1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, StreamMatchesRandomAccess) {
  PhiloxStream s(123, 9, 0);
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(s.next_u32(), philox_word(123, 9, i)) << i;
  PhiloxStream mid(123, 9, 13);  // starting inside a block
  for (std::uint64_t i = 13; i < 40; ++i) ASSERT_EQ(mid.next_u32(), philox_word(123, 9, i)) << i;
}

TEST(Philox, SeedsStreamsAndBlocksAreIndependent) {
  std::set<std::uint32_t> seen;
  for (std::uint64_t seed : {0ull, 1ull, 1ull << 32}) {
    for (std::uint64_t stream : {0ull, 1ull, 1ull << 32}) {
      for (std::uint64_t block : {0ull, 1ull, 1ull << 32}) seen.insert(philox_block(seed, stream, block).v[0]);
    }
  }
  EXPECT_EQ(seen.size(), 27u);  // high halves of 64-bit seed, stream and block all matter
}

TEST(Philox, UniformsAreInRangeWithTheRightMoments) {
  PhiloxStream s(2026, 0);
  const int n = 1 << 20;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const float u = s.next_uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    sum_sq += static_cast<double>(u) * u;
  }
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  // Standard error of the mean is sqrt(1/12/n) ~ 2.8e-4; 6 sigma bounds.
  EXPECT_NEAR(mean, 0.5, 1.7e-3);
  EXPECT_NEAR(var, 1.0 / 12, 1e-3);
  EXPECT_EQ(uniform_from_bits(0xffffffffu), 1.0f - 1.0f / 16777216.0f);
  EXPECT_EQ(uniform_open_from_bits(0), 1.0f / 16777216.0f);
  EXPECT_EQ(uniform_open_from_bits(0xffffffffu), 1.0f);
}

TEST(Philox, UniformBelowCoversTheRange) {
  PhiloxStream s(5, 5);
  int counts[7] = {};
  for (int i = 0; i < 70000; ++i) {
    const std::uint32_t k = uniform_below(s.next_u32(), 7);
    ASSERT_LT(k, 7u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

}  // namespace
}  // namespace reckon
