// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
// generator written once for host and device. The same (key, counter) gives the same four 32-bit words on the
// CPU and on any GPU, so CPU and CUDA paths draw identical streams.
//
// reckon's convention: key = the 64-bit seed; counter = (block index low, block index high, stream low, stream
// high). Element i of a stream is word i % 4 of block i / 4. Uniform floats take the top 24 bits, exact in f32.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define RECKON_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define RECKON_HOST_DEVICE inline
#endif

namespace reckon {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace detail {
RECKON_HOST_DEVICE void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  hi = __umulhi(a, b);
  lo = a * b;
#else
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
#endif
}
}  // namespace detail

// The raw bijection: ten rounds of Philox4x32 on `counter` under `key`.
RECKON_HOST_DEVICE Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u;
  constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
  constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
  std::uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    detail::mulhilo32(kMul0, c0, hi0, lo0);
    detail::mulhilo32(kMul1, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ key0;
    const std::uint32_t n2 = hi0 ^ c3 ^ key1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// Block `block` of stream `stream` under `seed`: four 32-bit words.
RECKON_HOST_DEVICE Philox4x32 philox_block(std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  const Philox4x32 counter{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                            static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}};
  return philox4x32_10(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Word i % 4 of a block. On the device a select chain, not v[i & 3]: indexing an array with a runtime value puts
// it (and whatever holds it, such as a PhiloxStream) in local memory instead of registers.
RECKON_HOST_DEVICE std::uint32_t philox_block_word(const Philox4x32& block, std::uint64_t i) {
#if defined(__CUDA_ARCH__)
  const unsigned w = static_cast<unsigned>(i & 3);
  const std::uint32_t low = w & 1 ? block.v[1] : block.v[0];
  const std::uint32_t high = w & 1 ? block.v[3] : block.v[2];
  return w & 2 ? high : low;
#else
  return block.v[i & 3];
#endif
}

// Word i of stream `stream` (a convenience for element-wise use; prefer philox_block when using all four).
RECKON_HOST_DEVICE std::uint32_t philox_word(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  return philox_block_word(philox_block(seed, stream, i >> 2), i);
}

// A uniform float in [0, 1) from the top 24 bits of a word: every value is exact and identical on host and device.
RECKON_HOST_DEVICE float uniform_from_bits(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// A uniform float in (0, 1], for logarithms.
RECKON_HOST_DEVICE float uniform_open_from_bits(std::uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

// An integer uniform in [0, n) by Lemire's multiply-shift (bias below 2^-32 * n, negligible for n << 2^32).
RECKON_HOST_DEVICE std::uint32_t uniform_below(std::uint32_t bits, std::uint32_t n) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits) * n) >> 32);
}

// A sequential generator over one stream, for host loops and per-thread device loops.
class PhiloxStream {
 public:
  RECKON_HOST_DEVICE PhiloxStream(std::uint64_t seed, std::uint64_t stream, std::uint64_t start = 0)
      : seed_(seed), stream_(stream), next_(start) {}
  RECKON_HOST_DEVICE std::uint32_t next_u32() {
    if ((next_ & 3) == 0 || !valid_) {
      block_ = philox_block(seed_, stream_, next_ >> 2);
      valid_ = true;
    }
    return philox_block_word(block_, next_++);
  }
  RECKON_HOST_DEVICE float next_uniform() { return uniform_from_bits(next_u32()); }
  RECKON_HOST_DEVICE std::uint64_t position() const { return next_; }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t next_;
  Philox4x32 block_{};
  bool valid_ = false;
};

}  // namespace reckon
