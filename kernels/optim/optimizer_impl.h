// Internal (not installed): the optimizers' scalars, set up once on the host for the dense update and the embedding
// family's fused one, and the CUDA entry point. The contract is optimizer.h.
#pragma once

#include <cstdint>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/runtime/step_clock.h"

namespace reckon::detail {

// With a clock, neg_lr, the bias corrections and decay_factor are replaced where the step runs (clocked()).
struct OptimizerScalars {
  OptimizerKind kind;
  float neg_lr, eps;
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bias_correction1, bias_correction2;
  float weight_decay, decay_factor;  // decay_factor = 1 − lr·wd when decoupled, 1 otherwise
  bool decoupled;
  const StepScalars* clock;
};

// Validates the settings (kInvalidArgument naming `op`) and computes the scalars.
OptimizerScalars optimizer_scalars(const Optimizer& optimizer, const char* op);

void optimizer_update_cuda(Context& ctx, const OptimizerScalars& s, float* params, const float* grads, float* state1,
                           float* state2, std::int64_t n);

}  // namespace reckon::detail
