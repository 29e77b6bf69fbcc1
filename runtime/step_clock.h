// The per-step scalars of a training loop, kept where its steps run: device memory on a CUDA context, host memory on
// a CPU one. The step's ops read them there and the step advances them there (advance() is an op), so a step
// captured in a CUDA graph (runtime/graph.h) is a real step at every replay: the step count, Adam's bias
// corrections, the learning rate and the step's random streams move on, as in PyTorch's Adam(capturable=True),
// which keeps its step count on the device for the same reason. CPU and GPU compute the same values bit for bit.
#pragma once

#include <cstdint>

#include "reckon/runtime/fp.h"
#include "reckon/runtime/memory.h"

namespace reckon {

struct StepScalars {
  std::int64_t step = 0;  // steps taken; within a step, after its advance(), the 1-based current step
  float learning_rate = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f;                      // Adam's: the bias corrections are for these
  float bias_correction1 = 1.0f, bias_correction2 = 1.0f;  // 1 − β^step
  std::uint64_t rng_base = 0;                              // the clock's block of Philox stream ids
  std::uint64_t rng_streams_per_step = 0;
  std::uint64_t rng_stream = 0;  // the current step's first stream id: rng_base + step · rng_streams_per_step
};

class StepClock {
 public:
  StepClock() = default;
  // A clock at step 0. Its random streams are its own: a block of 2^32 ids in the upper half of the stream space,
  // chosen by ctx.next_rng_stream(), so they never meet the ids other ops draw (rng_streams_per_step · steps must
  // stay below 2^32).
  StepClock(Context& ctx, float learning_rate, float beta1 = 0.9f, float beta2 = 0.999f,
            std::uint64_t rng_streams_per_step = 0);

  // Enqueued on ctx's stream: step += 1, then the corrections and random streams of the new step.
  void advance(Context& ctx) const;
  // Enqueued: a new learning rate (a schedule), or a step count (resuming a run); the corrections follow the step.
  void set_learning_rate(Context& ctx, float learning_rate) const;
  void set_step(Context& ctx, std::int64_t step) const;
  // The scalars now (synchronises the context).
  StepScalars read(Context& ctx) const;

  // Where ops read the scalars: device memory on a CUDA context, host memory on a CPU one.
  const StepScalars* scalars() const { return static_cast<const StepScalars*>(storage_.data()); }
  float beta1() const { return beta1_; }
  float beta2() const { return beta2_; }
  std::uint64_t rng_streams_per_step() const { return rng_streams_per_step_; }
  explicit operator bool() const { return storage_.data() != nullptr; }

 private:
  Buffer storage_;
  float beta1_ = 0.9f, beta2_ = 0.999f;
  std::uint64_t rng_streams_per_step_ = 0;
};

namespace detail {

// (hi, lo) with hi + lo = a · b exactly, and their double-double product.
RECKON_HOST_DEVICE void dd_mul(double ah, double al, double bh, double bl, double& hi, double& lo) {
  const double p = dmul_rn(ah, bh);
  const double e = dadd_rn(dfma_rn(ah, bh, -p), dadd_rn(dmul_rn(ah, bl), dmul_rn(al, bh)));
  hi = dadd_rn(p, e);
  lo = dadd_rn(e, -dadd_rn(hi, -p));
}

// 1 − β^step rounded to float. β^step by squaring in double-double (about 100 bits), so the result is the float
// nearest the exact value, which is what float(1 − std::pow(β, step)) gives too (tested over a million steps);
// the same operations on host and device, so CPU and GPU agree bit for bit.
RECKON_HOST_DEVICE float adam_bias_correction(float beta, std::int64_t step) {
  double rh = 1.0, rl = 0.0, bh = beta, bl = 0.0;
  for (std::int64_t e = step; e > 0; e >>= 1) {
    if ((e & 1) != 0) dd_mul(rh, rl, bh, bl, rh, rl);
    if (e > 1) dd_mul(bh, bl, bh, bl, bh, bl);
  }
  // 1 − (rh + rl) in double (1 − rh is exact while rh >= 0.5), then rounded to float.
  const double head = dadd_rn(1.0, -rh);
  return static_cast<float>(dadd_rn(head, -rl));
}

RECKON_HOST_DEVICE void advance_step(StepScalars& s, std::int64_t step) {
  s.step = step;
  s.bias_correction1 = step >= 1 ? adam_bias_correction(s.beta1, step) : 1.0f;
  s.bias_correction2 = step >= 1 ? adam_bias_correction(s.beta2, step) : 1.0f;
  s.rng_stream = s.rng_base + static_cast<std::uint64_t>(step) * s.rng_streams_per_step;
}

// What an update of the clock changes; the CUDA side runs the same function in one thread.
enum class StepClockUpdate : int { kAdvance, kSetStep, kSetLearningRate };

RECKON_HOST_DEVICE void update_step_clock(StepScalars& s, StepClockUpdate what, std::int64_t step,
                                          float learning_rate) {
  switch (what) {
    case StepClockUpdate::kAdvance: advance_step(s, s.step + 1); break;
    case StepClockUpdate::kSetStep: advance_step(s, step); break;
    case StepClockUpdate::kSetLearningRate: s.learning_rate = learning_rate; break;
  }
}

}  // namespace detail
}  // namespace reckon
