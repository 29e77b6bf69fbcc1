// Per-row arithmetic shared by the CPU and CUDA embedding kernels, so both round identically.
#pragma once

#include <cstdint>

#include "reckon/runtime/dtype.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

RECKON_HOST_DEVICE float load_weight(const float* row, std::int64_t d) { return row[d]; }
RECKON_HOST_DEVICE float load_weight(const bf16* row, std::int64_t d) {
  return to_float(row[d]);
}

// Resolve an id under the index policy: the row to read, or -1 when the id is out of range and must be reported.
RECKON_HOST_DEVICE std::int64_t resolve_row(std::int64_t id, std::int64_t rows, bool use_oov_row, std::int64_t oov_row) {
  if (id >= 0 && id < rows) return id;
  return use_oov_row ? oov_row : -1;
}

}  // namespace reckon::detail
