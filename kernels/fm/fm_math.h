// The per-sample FM arithmetic shared by the CPU and CUDA kernels (see fm.h for the order of operations).
#pragma once

#include <cstdint>

#include "reckon/kernels/fm/fm_impl.h"
#include "reckon/runtime/fp.h"

namespace reckon::detail {

// Row of field f of sample b, or null when its id is out of range (and not mapped to the OOV row).
RECKON_HOST_DEVICE const float* fm_row(const FmRows& in, std::int64_t b, int f, int fields, int dim) {
  if (in.src != nullptr) return in.src + (b * fields + f) * static_cast<std::int64_t>(dim);
  const std::int64_t at = b * fields + f;
  std::int64_t id = in.indices_i64 ? static_cast<const std::int64_t*>(in.indices)[at]
                                   : static_cast<const std::int32_t*>(in.indices)[at];
  if (id < 0 || id >= in.rows[f]) {
    if (!in.use_oov_row) return nullptr;
    id = in.oov_row;
  }
  return in.tables[f] + id * dim;
}

RECKON_HOST_DEVICE float fm_value(const float* values, std::int64_t b, int f, int fields) {
  return values != nullptr ? values[b * fields + f] : 1.0f;
}

// ½ (S² − Q) for one column.
RECKON_HOST_DEVICE float fm_column_term(float s, float q) { return mul_rn(0.5f, sub_rn(mul_rn(s, s), q)); }

// ∂y/∂e for one element: dy · x · (S − v).
RECKON_HOST_DEVICE float fm_row_gradient(float dy, float x, float s, float v) {
  return mul_rn(mul_rn(dy, x), sub_rn(s, v));
}

}  // namespace reckon::detail
