// The order top-k selects by, shared by host and device: higher score first, NaN lowest, ties by lower column.
#pragma once

#include <cstdint>

#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

RECKON_HOST_DEVICE float topk_key(float score) { return score != score ? -__builtin_huge_valf() : score; }

// True when (sa, ca) ranks before (sb, cb).
RECKON_HOST_DEVICE bool topk_before(float sa, std::int32_t ca, float sb, std::int32_t cb) {
  const float a = topk_key(sa), b = topk_key(sb);
  return a > b || (a == b && static_cast<std::uint32_t>(ca) < static_cast<std::uint32_t>(cb));
}

}  // namespace reckon::detail
