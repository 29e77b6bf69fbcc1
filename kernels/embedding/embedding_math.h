// Per-row arithmetic shared by the CPU and CUDA embedding kernels, written once so both round identically (every
// product and sum rounded on its own: runtime/fp.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/embedding/embedding_impl.h"
#include "reckon/kernels/optim/optimizer_math.h"
#include "reckon/runtime/dtype.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

RECKON_HOST_DEVICE float load_weight(const float* row, std::int64_t d) { return row[d]; }
RECKON_HOST_DEVICE float load_weight(const bf16* row, std::int64_t d) { return to_float(row[d]); }

// Resolve an id under the index policy: the row to read, or -1 when the id is out of range and must be reported.
RECKON_HOST_DEVICE std::int64_t resolve_row(std::int64_t id, std::int64_t rows, bool use_oov_row, std::int64_t oov_row) {
  if (id >= 0 && id < rows) return id;
  return use_oov_row ? oov_row : -1;
}

using reckon::add_rn;
using reckon::madd;
using reckon::mul_rn;

// Backward: the coefficient of entry j of a bag of `length` entries.
RECKON_HOST_DEVICE float entry_coefficient(PoolingMode pooling, const float* per_sample_weights, std::int64_t j,
                                           std::int64_t length) {
  if (per_sample_weights != nullptr) return per_sample_weights[j];
  if (pooling == PoolingMode::kMean) return 1.0f / static_cast<float>(length);
  return 1.0f;
}

// The table a global key belongs to: the last table whose row_base is <= key (tables sorted by row_base).
RECKON_HOST_DEVICE int find_table(const EmbeddingBwdTable* tables, int num_tables, std::uint64_t key) {
  int lo = 0, hi = num_tables - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (static_cast<std::uint64_t>(tables[mid].row_base) <= key) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace reckon::detail
