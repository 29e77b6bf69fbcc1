#include "reckon/runtime/step_clock.h"

#include <cmath>

#include "reckon/config.h"
#include "reckon/runtime/error.h"

namespace reckon {
namespace detail {

#if RECKON_WITH_CUDA
void step_clock_update_cuda(Context& ctx, StepScalars* scalars, StepClockUpdate what, std::int64_t step,
                            float learning_rate);
#endif

namespace {

void update(Context& ctx, const Buffer& storage, StepClockUpdate what, std::int64_t step, float learning_rate) {
  RECKON_CHECK_ARG(storage.data() != nullptr, "an empty StepClock");
  RECKON_CHECK_ARG(storage.device() == ctx.device(), "a StepClock on ", storage.device().str(),
                   " used with a context on ", ctx.device().str());
  auto* s = static_cast<StepScalars*>(storage.data());
  if (ctx.device().is_cpu()) {
    update_step_clock(*s, what, step, learning_rate);
    return;
  }
#if RECKON_WITH_CUDA
  step_clock_update_cuda(ctx, s, what, step, learning_rate);
#endif
}

}  // namespace
}  // namespace detail

StepClock::StepClock(Context& ctx, float learning_rate, float beta1, float beta2, std::uint64_t rng_streams_per_step)
    : beta1_(beta1), beta2_(beta2), rng_streams_per_step_(rng_streams_per_step) {
  RECKON_CHECK_ARG(std::isfinite(learning_rate), "a StepClock's learning rate must be finite, got ", learning_rate);
  RECKON_CHECK_ARG(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "a StepClock's betas must be in [0, 1), got ",
                   beta1, " and ", beta2);
  StepScalars initial;
  initial.learning_rate = learning_rate;
  initial.beta1 = beta1;
  initial.beta2 = beta2;
  initial.rng_base = (std::uint64_t{1} << 63) | (ctx.next_rng_stream() << 32);
  initial.rng_streams_per_step = rng_streams_per_step;
  detail::advance_step(initial, 0);
  storage_ = Buffer::on_device(ctx, sizeof(StepScalars));
  // Copied from a pinned staging buffer that lives until the copy is done (synchronised below).
  Buffer staging = Buffer::pinned(sizeof(StepScalars));
  *static_cast<StepScalars*>(staging.data()) = initial;
  copy_bytes(ctx, storage_.data(), ctx.device(), staging.data(), Device::cpu(), sizeof(StepScalars));
  ctx.synchronize();
}

void StepClock::advance(Context& ctx) const {
  detail::update(ctx, storage_, detail::StepClockUpdate::kAdvance, 0, 0.0f);
}

void StepClock::set_learning_rate(Context& ctx, float learning_rate) const {
  RECKON_CHECK_ARG(std::isfinite(learning_rate), "a StepClock's learning rate must be finite, got ", learning_rate);
  detail::update(ctx, storage_, detail::StepClockUpdate::kSetLearningRate, 0, learning_rate);
}

void StepClock::set_step(Context& ctx, std::int64_t step) const {
  RECKON_CHECK_ARG(step >= 0, "a step count must be >= 0, got ", step);
  detail::update(ctx, storage_, detail::StepClockUpdate::kSetStep, step, 0.0f);
}

StepScalars StepClock::read(Context& ctx) const {
  RECKON_CHECK_ARG(storage_.data() != nullptr, "an empty StepClock");
  StepScalars out;
  copy_bytes(ctx, &out, Device::cpu(), storage_.data(), storage_.device(), sizeof(StepScalars));
  ctx.synchronize();
  return out;
}

}  // namespace reckon
