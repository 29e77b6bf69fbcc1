// Per-row arithmetic shared by the CPU and CUDA embedding kernels, written once so both round identically (every
// product and sum rounded on its own: runtime/fp.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/embedding/embedding_impl.h"
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

// g' = g + weight_decay · w
// The update's scalars with the clock's learning rate and bias corrections, where there is a clock.
RECKON_HOST_DEVICE EmbeddingUpdateScalars clocked(EmbeddingUpdateScalars u) {
  if (u.clock == nullptr) return u;
  u.neg_lr = -u.clock->learning_rate;
  if (u.kind == SparseOptimizerKind::kAdam) {
    u.bias_correction1 = u.clock->bias_correction1;
    u.bias_correction2 = u.clock->bias_correction2;
  }
  return u;
}

RECKON_HOST_DEVICE float regularised_gradient(const EmbeddingUpdateScalars& u, float g, float w) {
  return madd(u.weight_decay, w, g);
}

// Row-wise Adagrad: the new row state from the old one and Σ_d g'², and the step's denominator √s + eps.
RECKON_HOST_DEVICE float rowwise_state(const EmbeddingUpdateScalars&, float state, float sum_squares, int dim) {
  return add_rn(state, sum_squares / static_cast<float>(dim));
}
RECKON_HOST_DEVICE float rowwise_denominator(const EmbeddingUpdateScalars& u, float state) {
  return add_rn(sqrtf(state), u.eps);
}

// One column of the update. s1/s2 point at the column's state (unused ones may be null); rowwise_denom is used by
// row-wise Adagrad only.
RECKON_HOST_DEVICE float update_column(const EmbeddingUpdateScalars& u, float gg, float w, float* s1, float* s2,
                                       float rowwise_denom) {
  switch (u.kind) {
    case SparseOptimizerKind::kSgd: return madd(u.neg_lr, gg, w);
    case SparseOptimizerKind::kAdagrad: {
      const float s = madd(gg, gg, *s1);
      *s1 = s;
      return madd(u.neg_lr, gg / add_rn(sqrtf(s), u.eps), w);
    }
    case SparseOptimizerKind::kRowwiseAdagrad: return madd(u.neg_lr, gg / rowwise_denom, w);
    case SparseOptimizerKind::kAdam: {
      const float m = madd(u.beta1, *s1, mul_rn(u.one_minus_beta1, gg));
      const float v = madd(u.beta2, *s2, mul_rn(mul_rn(u.one_minus_beta2, gg), gg));
      *s1 = m;
      *s2 = v;
      const float m_hat = m / u.bias_correction1;
      const float v_hat = v / u.bias_correction2;
      return madd(u.neg_lr, m_hat / add_rn(sqrtf(v_hat), u.eps), w);
    }
  }
  return w;
}

}  // namespace reckon::detail
