// The order top-k selects by, shared by host and device: higher score first, NaN lowest, ties by lower column.
#pragma once

#include "reckon/kernels/topk/topk_impl.h"

#include <cstdint>

#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

RECKON_HOST_DEVICE float topk_key(float score) { return score != score ? -__builtin_huge_valf() : score; }

// True when (sa, ca) ranks before (sb, cb).
RECKON_HOST_DEVICE bool topk_before(float sa, std::int32_t ca, float sb, std::int32_t cb) {
  const float a = topk_key(sa), b = topk_key(sb);
  return a > b || (a == b && static_cast<std::uint32_t>(ca) < static_cast<std::uint32_t>(cb));
}

// How the CUDA top-k cuts rows when there are too few to fill the device: `slices` blocks per row, each over
// `slice` consecutive columns (the last one shorter, none empty), so that about `wanted_blocks` blocks run; a slice
// keeps at least kTopkMinSlice columns, so selecting from it costs more than merging its k candidates.
inline constexpr std::int64_t kTopkMinSlice = 64 * 1024;
struct TopkSlicing {
  std::int64_t slices, slice;
};
inline TopkSlicing topk_slicing(std::int64_t rows, std::int64_t cols, std::int64_t wanted_blocks) {
  const std::int64_t most = cols / kTopkMinSlice > 1 ? cols / kTopkMinSlice : 1;
  std::int64_t slices = rows > 0 ? (wanted_blocks + rows - 1) / rows : 1;
  slices = slices < 1 ? 1 : slices > most ? most : slices;
  return {slices, slices == 1 ? cols : (cols + slices - 1) / slices};
}

}  // namespace reckon::detail
