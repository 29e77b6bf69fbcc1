// BPR-max's per-column terms, shared by the CPU loop and the CUDA kernel (softmax.h has the maths). A row takes
// three passes over its columns: the negatives' maximum score, the four sums below, then the gradient; only the
// columns' exponentials (BprMaxColumn, on the CPU) are kept between passes, so the gradient may overwrite the scores.
#pragma once

#include <cmath>

#include "reckon/kernels/softmax/softmax_impl.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

constexpr float kBprMaxEpsilon = 1e-24f;

RECKON_HOST_DEVICE float bpr_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / add_rn(1.0f, expf(-x));
  const float e = expf(x);
  return e / add_rn(1.0f, e);
}

RECKON_HOST_DEVICE float bpr_score(const BprMaxArgs& a, std::int64_t b, std::int64_t j) {
  const float z = a.scores[b * a.cols + j];
  return a.bias != nullptr ? add_rn(z, a.bias[j]) : z;
}

// Σ e_j, Σ e_j σ_j, Σ e_j σ_j (1 − σ_j) and Σ e_j r_j² over a row's negatives, e_j = exp(r_j − max).
struct BprMaxSums {
  float e, e_sigma, e_sigma_slope, e_square;  // no initialisers: a __shared__ copy needs a trivial constructor
  RECKON_HOST_DEVICE BprMaxSums operator+(const BprMaxSums& o) const {
    return {add_rn(e, o.e), add_rn(e_sigma, o.e_sigma), add_rn(e_sigma_slope, o.e_sigma_slope),
            add_rn(e_square, o.e_square)};
  }
};

// A negative column's e_j = exp(r_j − max) and σ_j = σ(r_target − r_j): the two exponentials of a column, which the
// CPU keeps from the sums' pass for the gradient's (the CUDA kernel computes them again).
struct BprMaxColumn {
  float e, sigma;
};

RECKON_HOST_DEVICE BprMaxColumn bpr_max_column(float r, float target_score, float top) {
  return {expf(sub_rn(r, top)), bpr_sigmoid(sub_rn(target_score, r))};
}

RECKON_HOST_DEVICE BprMaxSums bpr_max_terms(float r, const BprMaxColumn& c) {
  const float e_sigma = mul_rn(c.e, c.sigma);
  return {c.e, e_sigma, mul_rn(e_sigma, sub_rn(1.0f, c.sigma)), mul_rn(c.e, mul_rn(r, r))};
}

RECKON_HOST_DEVICE BprMaxSums bpr_max_terms(float r, float target_score, float top) {
  return bpr_max_terms(r, bpr_max_column(r, target_score, top));
}

// The row's P, R, 1 / (P + ε) and loss from its sums.
struct BprMaxRow {
  float p, r, inverse, loss, target_grad;
};

RECKON_HOST_DEVICE BprMaxRow bpr_max_row(const BprMaxArgs& a, const BprMaxSums& s) {
  BprMaxRow row;
  row.p = s.e_sigma / s.e;
  row.r = s.e_square / s.e;
  row.inverse = 1.0f / add_rn(row.p, kBprMaxEpsilon);
  row.loss = add_rn(-logf(add_rn(row.p, kBprMaxEpsilon)), mul_rn(a.regularization, row.r));
  row.target_grad = mul_rn(-mul_rn(s.e_sigma_slope / s.e, row.inverse), a.scale);
  return row;
}

// The gradient of a negative column with score r.
RECKON_HOST_DEVICE float bpr_max_negative_grad(const BprMaxArgs& a, const BprMaxRow& row, float r,
                                               const BprMaxColumn& c, float sum_e) {
  const float s = c.e / sum_e;
  const float rank = mul_rn(sub_rn(row.p, mul_rn(c.sigma, c.sigma)), row.inverse);
  const float reg = mul_rn(a.regularization, sub_rn(add_rn(mul_rn(r, r), mul_rn(2.0f, r)), row.r));
  return mul_rn(mul_rn(s, add_rn(rank, reg)), a.scale);
}

RECKON_HOST_DEVICE float bpr_max_negative_grad(const BprMaxArgs& a, const BprMaxRow& row, float r, float target_score,
                                               float top, float sum_e) {
  return bpr_max_negative_grad(a, row, r, bpr_max_column(r, target_score, top), sum_e);
}

}  // namespace reckon::detail
