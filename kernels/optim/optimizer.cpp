#include "reckon/kernels/optim/optimizer.h"

#include <cmath>

#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/kernels/optim/optimizer_impl.h"
#include "reckon/kernels/optim/optimizer_math.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"

namespace reckon {

const char* to_string(OptimizerKind kind) noexcept {
  switch (kind) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdagrad: return "adagrad";
    case OptimizerKind::kRowwiseAdagrad: return "rowwise-adagrad";
    case OptimizerKind::kAdam: return "adam";
  }
  return "?";
}

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "sgd") return OptimizerKind::kSgd;
  if (name == "adagrad") return OptimizerKind::kAdagrad;
  if (name == "rowwise-adagrad" || name == "rowwise_adagrad") return OptimizerKind::kRowwiseAdagrad;
  if (name == "adam") return OptimizerKind::kAdam;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown optimizer '", name,
               "': expected sgd, adagrad, rowwise-adagrad or adam");
}

float default_eps(OptimizerKind kind) noexcept {
  switch (kind) {
    case OptimizerKind::kSgd: return 0.0f;
    case OptimizerKind::kAdagrad:
    case OptimizerKind::kRowwiseAdagrad: return 1e-10f;
    case OptimizerKind::kAdam: break;
  }
  return 1e-8f;
}

namespace detail {

OptimizerScalars optimizer_scalars(const Optimizer& o, const char* op) {
  const float eps = o.eps == kDefaultEps ? default_eps(o.kind) : o.eps;
  RECKON_CHECK_ARG(o.clock != nullptr || (std::isfinite(o.learning_rate) && o.learning_rate >= 0.0f), op,
                   ": learning rate must be finite and >= 0, got ", o.learning_rate);
  RECKON_CHECK_ARG(std::isfinite(eps) && eps >= 0.0f, op, ": eps must be finite and >= 0, got ", eps);
  RECKON_CHECK_ARG(std::isfinite(o.weight_decay), op, ": weight decay must be finite, got ", o.weight_decay);
  const bool adam = o.kind == OptimizerKind::kAdam;
  RECKON_CHECK_ARG(!adam || (o.beta1 >= 0.0f && o.beta1 < 1.0f && o.beta2 >= 0.0f && o.beta2 < 1.0f), op,
                   ": Adam's betas must be in [0, 1), got ", o.beta1, ", ", o.beta2);
  OptimizerScalars s{};
  s.kind = o.kind;
  s.neg_lr = -o.learning_rate;
  s.eps = eps;
  s.beta1 = o.beta1;
  s.one_minus_beta1 = 1.0f - o.beta1;
  s.beta2 = o.beta2;
  s.one_minus_beta2 = 1.0f - o.beta2;
  s.bias_correction1 = s.bias_correction2 = 1.0f;
  s.weight_decay = o.weight_decay;
  s.decoupled = o.decoupled_weight_decay;
  s.decay_factor = o.decoupled_weight_decay ? 1.0f - o.learning_rate * o.weight_decay : 1.0f;
  if (o.clock != nullptr) {
    RECKON_CHECK_ARG(!adam || (o.beta1 == o.clock->beta1() && o.beta2 == o.clock->beta2()), op, ": Adam's betas (",
                     o.beta1, ", ", o.beta2, ") differ from the step clock's (", o.clock->beta1(), ", ",
                     o.clock->beta2(), ")");
    s.clock = o.clock->scalars();
  } else if (adam) {
    RECKON_CHECK_ARG(o.step >= 1, op, ": Adam's step must be >= 1, got ", o.step);
    s.bias_correction1 = adam_bias_correction(o.beta1, o.step);
    s.bias_correction2 = adam_bias_correction(o.beta2, o.step);
  }
  return s;
}

}  // namespace detail

namespace {

struct UpdateProblem {
  detail::OptimizerScalars s;
  float* params;
  const float* grads;
  float* state1;
  float* state2;
  std::int64_t n;
};

void update_cuda_run(Context& ctx, const UpdateProblem& q) {
#if RECKON_WITH_CUDA
  detail::optimizer_update_cuda(ctx, q.s, q.params, q.grads, q.state1, q.state2, q.n);
#else
  (void)ctx, (void)q;
#endif
}

// One loop per kind, so each is branch-free and vectorises.
template <typename Step>
void update_loop(Context& ctx, const UpdateProblem& q, const detail::OptimizerScalars& s, Step step) {
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < q.n; ++i) {
    const float g = detail::regularised_gradient(s, q.grads[i], q.params[i]);
    q.params[i] = step(g, detail::decayed_weight(s, q.params[i]), i);
  }
}

void update_cpu(Context& ctx, const UpdateProblem& q) {
  const detail::OptimizerScalars s = detail::clocked(q.s);
  switch (s.kind) {
    case OptimizerKind::kSgd:
      update_loop(ctx, q, s, [&s](float g, float w, std::int64_t) { return detail::sgd_step(s, g, w); });
      break;
    case OptimizerKind::kAdagrad:
      update_loop(ctx, q, s, [&](float g, float w, std::int64_t i) { return detail::adagrad_step(s, g, w, q.state1[i]); });
      break;
    case OptimizerKind::kAdam:
      update_loop(ctx, q, s, [&](float g, float w, std::int64_t i) {
        return detail::adam_step(s, g, w, q.state1[i], q.state2[i]);
      });
      break;
    case OptimizerKind::kRowwiseAdagrad: break;  // refused by optimizer_update
  }
}

const auto kUpdate = cuda_then_cpu<UpdateProblem>("optimizer_update", "cuda_grid_stride",
                                                  "a CUDA context (skips while the context holds a device error)",
                                                  update_cuda_run, update_cpu);

void check_operand(Context& ctx, const TensorView& t, const char* what, std::int64_t n) {
  RECKON_CHECK_ARG(t.dtype == DType::kF32 && t.is_contiguous() && t.numel() == n, "optimizer_update: ", what,
                   " must be contiguous f32 of ", n, " elements, got ", t.shape_str());
  check_device(t, what, ctx.device());
}

}  // namespace

void optimizer_update(Context& ctx, const Optimizer& optimizer, const TensorView& params, const TensorView& grads,
                      const TensorView& state1, const TensorView& state2) {
  RECKON_CHECK_ARG(optimizer.kind != OptimizerKind::kRowwiseAdagrad,
                   "optimizer_update: row-wise Adagrad keeps one state per table row; it updates embedding tables "
                   "(kernels/embedding), not dense parameters");
  const detail::OptimizerScalars s = detail::optimizer_scalars(optimizer, "optimizer_update");
  const std::int64_t n = params.numel();
  check_operand(ctx, params, "parameters", n);
  check_operand(ctx, grads, "gradients", n);
  const bool one_state = optimizer.kind != OptimizerKind::kSgd;
  const bool two_states = optimizer.kind == OptimizerKind::kAdam;
  if (one_state) check_operand(ctx, state1, "state1", n);
  if (two_states) check_operand(ctx, state2, "state2", n);
  if (n == 0) return;
  dispatch(ctx, kUpdate,
           UpdateProblem{s, static_cast<float*>(params.data), static_cast<const float*>(grads.data),
                         one_state ? static_cast<float*>(state1.data) : nullptr,
                         two_states ? static_cast<float*>(state2.data) : nullptr, n});
}

namespace {
Optimizer adam_settings(const AdamOptions& o) {
  Optimizer a;
  a.kind = OptimizerKind::kAdam;
  a.learning_rate = o.learning_rate;
  a.beta1 = o.beta1;
  a.beta2 = o.beta2;
  a.eps = o.eps;
  a.weight_decay = o.weight_decay;
  a.decoupled_weight_decay = o.decoupled_weight_decay;
  return a;
}
Optimizer simple_settings(OptimizerKind kind, float learning_rate, float eps, float weight_decay,
                          const StepClock* clock) {
  Optimizer o;
  o.kind = kind;
  o.learning_rate = learning_rate;
  o.eps = eps;
  o.weight_decay = weight_decay;
  o.clock = clock;
  return o;
}
}  // namespace

void adam_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& m,
                 const TensorView& v, const AdamOptions& options, std::int64_t step) {
  Optimizer o = adam_settings(options);
  o.step = step;
  optimizer_update(ctx, o, params, grads, m, v);
}

void adam_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& m,
                 const TensorView& v, const AdamOptions& options, const StepClock& clock) {
  Optimizer o = adam_settings(options);
  o.clock = &clock;
  optimizer_update(ctx, o, params, grads, m, v);
}

void sgd_update(Context& ctx, const TensorView& params, const TensorView& grads, float learning_rate,
                float weight_decay) {
  optimizer_update(ctx, simple_settings(OptimizerKind::kSgd, learning_rate, 0.0f, weight_decay, nullptr), params,
                   grads);
}

void sgd_update(Context& ctx, const TensorView& params, const TensorView& grads, const StepClock& clock,
                float weight_decay) {
  optimizer_update(ctx, simple_settings(OptimizerKind::kSgd, 0.0f, 0.0f, weight_decay, &clock), params, grads);
}

void adagrad_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& sum_squares,
                    float learning_rate, float eps, float weight_decay) {
  optimizer_update(ctx, simple_settings(OptimizerKind::kAdagrad, learning_rate, eps, weight_decay, nullptr), params,
                   grads, sum_squares);
}

void adagrad_update(Context& ctx, const TensorView& params, const TensorView& grads, const TensorView& sum_squares,
                    const StepClock& clock, float eps, float weight_decay) {
  optimizer_update(ctx, simple_settings(OptimizerKind::kAdagrad, 0.0f, eps, weight_decay, &clock), params, grads,
                   sum_squares);
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> optim_ops() { return {describe(kUpdate)}; }
}  // namespace reckon::detail
