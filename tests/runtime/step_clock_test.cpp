// The step clock: Adam's bias corrections are the numbers the host computed before (float(1 − pow(β, t))), its
// updates on either device, and the optimizers and dropout reading it exactly as they read host scalars.
#include "reckon/runtime/step_clock.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/embedding/embedding.h"
#include "testing.h"

namespace reckon {
namespace {

TEST(StepClock, BiasCorrectionsAreTheHostPowRounded) {
  for (const float beta : {0.9f, 0.99f, 0.999f, 0.9999f, 0.5f}) {
    std::int64_t mismatches = 0, first = 0;
    for (std::int64_t t = 1; t <= 1'000'000; ++t) {
      const auto host = static_cast<float>(1.0 - std::pow(static_cast<double>(beta), static_cast<double>(t)));
      if (detail::adam_bias_correction(beta, t) != host && mismatches++ == 0) first = t;
    }
    EXPECT_EQ(mismatches, 0) << "beta " << beta << ", first at step " << first;
  }
  for (const std::int64_t t : {std::int64_t{1} << 31, std::int64_t{1} << 40, std::int64_t{1} << 62}) {
    EXPECT_EQ(detail::adam_bias_correction(0.999f, t), 1.0f);
  }
}

TEST(StepClock, AdvancesAndIsSetWhereTheStepRuns) {
  Context ctx(Device::cpu());
  const StepClock clock(ctx, 0.01f, 0.9f, 0.999f, 3);
  StepScalars s = clock.read(ctx);
  EXPECT_EQ(s.step, 0);
  EXPECT_EQ(s.bias_correction1, 1.0f);
  EXPECT_EQ(s.learning_rate, 0.01f);
  EXPECT_EQ(s.rng_base >> 63, 1u) << "the clock's streams are in the upper half of the stream space";
  clock.advance(ctx);
  clock.advance(ctx);
  s = clock.read(ctx);
  EXPECT_EQ(s.step, 2);
  EXPECT_EQ(s.bias_correction1, detail::adam_bias_correction(0.9f, 2));
  EXPECT_EQ(s.bias_correction2, detail::adam_bias_correction(0.999f, 2));
  EXPECT_EQ(s.rng_stream, s.rng_base + 6);
  clock.set_learning_rate(ctx, 0.5f);
  clock.set_step(ctx, 10);
  s = clock.read(ctx);
  EXPECT_EQ(s.learning_rate, 0.5f);
  EXPECT_EQ(s.step, 10);
  EXPECT_EQ(s.bias_correction1, detail::adam_bias_correction(0.9f, 10));
  const StepClock other(ctx, 0.01f);
  EXPECT_NE(other.read(ctx).rng_base, s.rng_base) << "two clocks draw different streams";
  EXPECT_THROW(clock.set_step(ctx, -1), Error);
  EXPECT_THROW(clock.set_learning_rate(ctx, NAN), Error);
  EXPECT_THROW(StepClock(ctx, 0.1f, 1.0f), Error);
  EXPECT_THROW(StepClock().advance(ctx), Error);
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i % 17) - 8.0f) / 8.0f;
  return v;
}

TensorView view(std::vector<float>& v) {
  return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), {static_cast<std::int64_t>(v.size())});
}

// Three steps with the clock and three with host scalars give the same parameters bit for bit.
TEST(StepClock, DenseOptimizersReadItAsTheyReadHostScalars) {
  Context ctx(Device::cpu());
  const std::size_t n = 100;
  const StepClock clock(ctx, 0.003f);
  AdamOptions adam;
  adam.learning_rate = 0.003f;
  adam.weight_decay = 0.01f;
  adam.decoupled_weight_decay = true;
  std::vector<float> p1 = ramp(n, 1), p2 = p1, g = ramp(n, 0.1f), m1(n), v1(n), m2(n), v2(n);
  std::vector<float> q1 = p1, q2 = p1, s1(n), s2(n), r1 = p1, r2 = p1;
  for (std::int64_t step = 1; step <= 3; ++step) {
    clock.advance(ctx);
    adam_update(ctx, view(p1), view(g), view(m1), view(v1), adam, step);
    adam_update(ctx, view(p2), view(g), view(m2), view(v2), adam, clock);
    adagrad_update(ctx, view(q1), view(g), view(s1), 0.003f, 1e-10f, 0.01f);
    adagrad_update(ctx, view(q2), view(g), view(s2), clock, 1e-10f, 0.01f);
    sgd_update(ctx, view(r1), view(g), 0.003f, 0.01f);
    sgd_update(ctx, view(r2), view(g), clock, 0.01f);
  }
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(q1, q2);
  EXPECT_EQ(r1, r2);
  AdamOptions other_betas = adam;
  other_betas.beta1 = 0.8f;
  EXPECT_THROW(adam_update(ctx, view(p2), view(g), view(m2), view(v2), other_betas, clock), Error);
}

TEST(StepClock, DropoutDrawsTheClocksStreamOfTheStep) {
  Context ctx(Device::cpu());
  const StepClock clock(ctx, 0.1f, 0.9f, 0.999f, 2);
  clock.advance(ctx);
  const std::uint64_t stream = clock.read(ctx).rng_stream;
  std::vector<float> a = ramp(1000, 1), b = a, c = a;
  dropout_fwd(ctx, view(a), 0.3f, clock, 1);
  dropout_fwd(ctx, view(b), 0.3f, stream + 1);
  EXPECT_EQ(a, b);
  clock.advance(ctx);
  dropout_fwd(ctx, view(c), 0.3f, clock, 1);
  EXPECT_NE(a, c) << "the next step draws another mask";
  EXPECT_THROW(dropout_fwd(ctx, view(c), 0.3f, clock, 2), Error) << "index beyond the clock's streams per step";
}

// The sparse optimizers with a clock: the same rows as with the step and learning rate given on the host.
TEST(StepClock, SparseAdamReadsItAsItReadsTheStep) {
  Context ctx(Device::cpu());
  const std::int64_t rows = 8, D = 4, B = 6;
  std::vector<float> w1 = ramp(rows * D, 1), w2 = w1, m1(rows * D), m2(rows * D), v1(rows * D), v2(rows * D);
  std::vector<std::int64_t> ids{1, 3, 3, 7, 0, 1}, offsets{0, 1, 2, 3, 4, 5, 6};
  std::vector<float> diff = ramp(B * D, 0.2f);
  const auto table = [&](std::vector<float>& v) {
    return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), {rows, D});
  };
  EmbeddingBags bags;
  bags.offsets = TensorView::contiguous(offsets.data(), DType::kI64, Device::cpu(), {B + 1});
  bags.indices = TensorView::contiguous(ids.data(), DType::kI64, Device::cpu(), {B});
  const TensorView d = TensorView::contiguous(diff.data(), DType::kF32, Device::cpu(), {B, 1, D});
  const StepClock clock(ctx, 0.05f);
  for (std::int64_t step = 1; step <= 3; ++step) {
    clock.advance(ctx);
    SparseOptimizer host{SparseOptimizerKind::kAdam, 0.05f};
    host.step = step;
    SparseOptimizer clocked{SparseOptimizerKind::kAdam, 1.0f};  // the clock's rate is the one used
    clocked.clock = &clock;
    const std::vector<TensorView> t1{table(w1)}, t2{table(w2)};
    const std::vector<EmbeddingOptimizerState> s1{{table(m1), table(v1)}}, s2{{table(m2), table(v2)}};
    embedding_bag_bwd_update(ctx, t1, {&bags, 1}, d, {PoolingMode::kSum}, host, s1);
    embedding_bag_bwd_update(ctx, t2, {&bags, 1}, d, {PoolingMode::kSum}, clocked, s2);
  }
  EXPECT_EQ(w1, w2);
  EXPECT_EQ(v1, v2);
}

// The device runs the host's arithmetic: a thousand steps on the GPU end where the host's end, bit for bit.
TEST(StepClockCuda, DeviceUpdatesAreTheHosts) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context gpu(Device::cuda(0)), cpu(Device::cpu());
  const StepClock g(gpu, 0.01f, 0.9f, 0.999f, 4), c(cpu, 0.01f, 0.9f, 0.999f, 4);
  for (int i = 0; i < 1000; ++i) {
    g.advance(gpu);
    c.advance(cpu);
  }
  g.set_learning_rate(gpu, 0.25f);
  c.set_learning_rate(cpu, 0.25f);
  const StepScalars a = g.read(gpu), b = c.read(cpu);
  EXPECT_EQ(a.step, 1000);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.bias_correction1, b.bias_correction1);
  EXPECT_EQ(a.bias_correction2, b.bias_correction2);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.rng_stream - a.rng_base, b.rng_stream - b.rng_base);
}

}  // namespace
}  // namespace reckon
