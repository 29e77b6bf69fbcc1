// The optimizers' element arithmetic, shared by the CPU and CUDA dense update and the embedding family's fused
// update, so all of them round identically (every product and sum rounded on its own: runtime/fp.h).
#pragma once

#include <cmath>

#include "reckon/kernels/optim/optimizer_impl.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

// The scalars with the clock's learning rate and bias corrections, where there is a clock.
RECKON_HOST_DEVICE OptimizerScalars clocked(OptimizerScalars s) {
  if (s.clock == nullptr) return s;
  const float lr = s.clock->learning_rate;
  s.neg_lr = -lr;
  s.bias_correction1 = s.clock->bias_correction1;
  s.bias_correction2 = s.clock->bias_correction2;
  s.decay_factor = s.decoupled ? sub_rn(1.0f, mul_rn(lr, s.weight_decay)) : 1.0f;
  return s;
}

// g' (L2 adds weight_decay · w; decoupled decay leaves the gradient alone).
RECKON_HOST_DEVICE float regularised_gradient(const OptimizerScalars& s, float g, float w) {
  return s.decoupled ? g : madd(s.weight_decay, w, g);
}
// The weight the step starts from (decoupled decay shrinks it first).
RECKON_HOST_DEVICE float decayed_weight(const OptimizerScalars& s, float w) {
  return s.decoupled ? mul_rn(w, s.decay_factor) : w;
}

RECKON_HOST_DEVICE float sgd_step(const OptimizerScalars& s, float g, float w) { return madd(s.neg_lr, g, w); }

RECKON_HOST_DEVICE float adagrad_step(const OptimizerScalars& s, float g, float w, float& sum_squares) {
  sum_squares = madd(g, g, sum_squares);
  return madd(s.neg_lr, g / add_rn(sqrtf(sum_squares), s.eps), w);
}

RECKON_HOST_DEVICE float adam_step(const OptimizerScalars& s, float g, float w, float& m, float& v) {
  m = madd(s.beta1, m, mul_rn(s.one_minus_beta1, g));
  v = madd(s.beta2, v, mul_rn(mul_rn(s.one_minus_beta2, g), g));
  const float m_hat = m / s.bias_correction1;
  const float v_hat = v / s.bias_correction2;
  return madd(s.neg_lr, m_hat / add_rn(sqrtf(v_hat), s.eps), w);
}

// Row-wise Adagrad: the row's new state from the old one and Σ_d g'², and the row's step denominator √s + eps.
RECKON_HOST_DEVICE float rowwise_state(float state, float sum_squares, int dim) {
  return add_rn(state, sum_squares / static_cast<float>(dim));
}
RECKON_HOST_DEVICE float rowwise_denominator(const OptimizerScalars& s, float state) {
  return add_rn(sqrtf(state), s.eps);
}
RECKON_HOST_DEVICE float rowwise_step(const OptimizerScalars& s, float g, float w, float denominator) {
  return madd(s.neg_lr, g / denominator, w);
}

// One element of any kind, from g' and the (decayed) weight; s1/s2 point at its state (unused ones may be null),
// rowwise_denom is row-wise Adagrad's.
RECKON_HOST_DEVICE float optimizer_step(const OptimizerScalars& s, float g, float w, float* s1, float* s2,
                                        float rowwise_denom) {
  switch (s.kind) {
    case OptimizerKind::kSgd: return sgd_step(s, g, w);
    case OptimizerKind::kAdagrad: return adagrad_step(s, g, w, *s1);
    case OptimizerKind::kRowwiseAdagrad: return rowwise_step(s, g, w, rowwise_denom);
    case OptimizerKind::kAdam: return adam_step(s, g, w, *s1, *s2);
  }
  return w;
}

}  // namespace reckon::detail
