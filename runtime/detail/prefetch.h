// A software prefetch the optimiser cannot drop.
//
// GCC treats a function whose only effect is __builtin_prefetch as const, and when it does not inline such a helper
// it deletes the calls as having no effect: the sparse optimizer's row prefetch vanished from the build that way
// (docs/PERF.md, fifth session). An asm volatile statement is never removed. A prefetch never faults, so any address
// may be given.
#pragma once

#include <cstdint>

namespace reckon::detail {

inline void prefetch_read(const void* address) {
#if defined(__x86_64__) && !defined(__CUDA_ARCH__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(address)));
#else
  __builtin_prefetch(address);
#endif
}

// Every cache line of [address, address + bytes).
inline void prefetch_span(const void* address, std::int64_t bytes) {
  const auto* at = static_cast<const char*>(address);
  for (std::int64_t offset = 0; offset < bytes; offset += 64) prefetch_read(at + offset);
}

}  // namespace reckon::detail
