// Optimizers, written once for dense parameters and for the rows of embedding tables (kernels/embedding fuses the
// same element functions into its backward). One OptimizerKind; per element, with g the gradient and w the weight:
//   L2 (default):  g' = g + weight_decay · w
//   decoupled (AdamW, decoupled_weight_decay):  g' = g;  w ← w · (1 − lr · weight_decay) before the step
//   sgd:              w -= lr · g'
//   adagrad:          s += g'²;            w -= lr · g' / (√s + eps)                  state1: s, one per weight
//   row-wise adagrad: s += mean_d(g'²);    w -= lr · g' / (√s + eps)                  state1: s, one per table row
//   adam:             m = β1 m + (1−β1) g';  v = β2 v + (1−β2) g'²;
//                     w -= lr · (m / (1−β1^step)) / (√(v / (1−β2^step)) + eps)     state1: m, state2: v
// Every product and sum is rounded on its own (runtime/fp.h), so CPU and CUDA agree bit for bit. Row-wise Adagrad
// needs rows: embedding tables only.
// Defaults: eps 1e-8 for Adam (Kingma & Ba), 1e-10 for the Adagrads (Duchi et al.'s ε is only a guard against 0/0;
// larger values slow the first steps of rare rows); betas 0.9, 0.999.
// With a StepClock the learning rate, step and Adam's bias corrections are read where the step runs
// (runtime/step_clock.h), the form a step captured in a CUDA graph needs.
#pragma once

#include <cstdint>
#include <string>

#include "reckon/runtime/context.h"
#include "reckon/runtime/step_clock.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

enum class OptimizerKind : std::uint8_t { kSgd, kAdagrad, kRowwiseAdagrad, kAdam };
// The embedding family's name for the same kinds.
using SparseOptimizerKind = OptimizerKind;

// sgd, adagrad, rowwise-adagrad, adam (to_string); parse also accepts rowwise_adagrad.
const char* to_string(OptimizerKind kind) noexcept;
OptimizerKind parse_optimizer_kind(const std::string& name);

inline constexpr float kDefaultEps = -1.0f;  // eps: the kind's default (default_eps)
float default_eps(OptimizerKind kind) noexcept;  // Adam 1e-8, the Adagrads 1e-10, SGD 0

struct Optimizer {
  OptimizerKind kind = OptimizerKind::kSgd;
  float learning_rate = 0.01f;
  float eps = kDefaultEps;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float weight_decay = 0.0f;
  std::int64_t step = 1;  // Adam's 1-based step count for bias correction, when there is no clock
  // When set, the learning rate, step and Adam's bias corrections are read from the clock where the step runs
  // (learning_rate and step above are not used; the betas must be the clock's).
  const StepClock* clock = nullptr;
  bool decoupled_weight_decay = false;  // AdamW's decay (any kind) instead of L2 on the gradient
};
// The embedding family's name: the same settings.
using SparseOptimizer = Optimizer;

// One step on a dense parameter: params -= update(grads), state1 and state2 (f32, params' size, contiguous) as the
// kind needs them (empty views where it needs none). All tensors on the context's device.
void optimizer_update(Context& ctx, const Optimizer& optimizer, const TensorView& params, const TensorView& grads,
                      const TensorView& state1 = {}, const TensorView& state2 = {});

// Shorthands for optimizer_update.
struct AdamOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;
};
void adam_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& m,
                 const TensorView& v, const AdamOptions& options, std::int64_t step);
void adam_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& m,
                 const TensorView& v, const AdamOptions& options, const StepClock& clock);
void sgd_update(Context& ctx, const TensorView& params, const TensorView& grads, float learning_rate,
                float weight_decay = 0.0f);
void sgd_update(Context& ctx, const TensorView& params, const TensorView& grads, const StepClock& clock,
                float weight_decay = 0.0f);
void adagrad_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& sum_squares,
                    float learning_rate, float eps = 1e-10f, float weight_decay = 0.0f);
void adagrad_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& sum_squares,
                    const StepClock& clock, float eps = 1e-10f, float weight_decay = 0.0f);

}  // namespace reckon
