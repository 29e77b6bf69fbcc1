// The optimizer module: the dense update against a double-precision reference, the embedding family's fused update
// against the dense one (the same element functions, so the same bits), defaults and names, and CPU = CUDA.
#include "reckon/kernels/optim/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reckon/kernels/embedding/embedding.h"
#include "testing.h"

namespace reckon {
namespace {

constexpr std::int64_t kRows = 6, kDim = 5;
constexpr int kSteps = 3;

struct Setting {
  const char* name;
  Optimizer optimizer;
};

std::vector<Setting> settings() {
  std::vector<Setting> out;
  for (const OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam}) {
    Optimizer o;
    o.kind = kind;
    o.learning_rate = 0.05f;
    o.weight_decay = 0.01f;
    out.push_back({to_string(kind), o});
    o.decoupled_weight_decay = true;
    out.push_back({"decoupled", o});
  }
  return out;
}

Tensor upload(Context& ctx, const std::vector<float>& host) {
  Tensor t = Tensor::empty(ctx, DType::kF32, {static_cast<std::int64_t>(host.size())});
  copy(ctx, t, TensorView::contiguous(const_cast<float*>(host.data()), DType::kF32, Device::cpu(),
                                      {static_cast<std::int64_t>(host.size())}));
  ctx.synchronize();
  return t;
}

TensorView view(std::vector<float>& v, std::initializer_list<std::int64_t> sizes, Device device = Device::cpu()) {
  return TensorView::contiguous(v.data(), DType::kF32, device, sizes);
}

// kSteps dense updates of a [kRows, kDim] parameter; returns the parameter, then state1 and state2.
std::vector<float> run_dense(Device device, Optimizer o) {
  Context ctx(device);
  const std::int64_t n = kRows * kDim;
  Tensor p = upload(ctx, testing::random_floats(n, -1, 1, 1));
  Tensor s1 = upload(ctx, std::vector<float>(n, 0.0f)), s2 = upload(ctx, std::vector<float>(n, 0.0f));
  for (int step = 1; step <= kSteps; ++step) {
    Tensor g = upload(ctx, testing::random_floats(n, -1, 1, 10 + step));
    o.step = step;
    optimizer_update(ctx, o, p, g, s1, s2);
  }
  std::vector<float> out = testing::to_host<float>(ctx, p);
  for (const Tensor* s : {&s1, &s2}) {
    const std::vector<float> h = testing::to_host<float>(ctx, *s);
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

// The same as run_dense, with decoupled decay off, in double: the maths of optimizer.h.
std::vector<double> reference(const Optimizer& o) {
  const std::int64_t n = kRows * kDim;
  const std::vector<float> p0 = testing::random_floats(n, -1, 1, 1);
  std::vector<double> p(p0.begin(), p0.end()), s1(n, 0.0), s2(n, 0.0);
  const double eps = default_eps(o.kind);
  for (int step = 1; step <= kSteps; ++step) {
    const std::vector<float> g = testing::random_floats(n, -1, 1, 10 + step);
    for (std::int64_t i = 0; i < n; ++i) {
      double gi = g[i];
      if (o.decoupled_weight_decay) {
        p[i] *= 1.0 - o.learning_rate * o.weight_decay;
      } else {
        gi += o.weight_decay * p[i];
      }
      switch (o.kind) {
        case OptimizerKind::kSgd: p[i] -= o.learning_rate * gi; break;
        case OptimizerKind::kAdagrad:
          s1[i] += gi * gi;
          p[i] -= o.learning_rate * gi / (std::sqrt(s1[i]) + eps);
          break;
        case OptimizerKind::kAdam: {
          s1[i] = o.beta1 * s1[i] + (1 - o.beta1) * gi;
          s2[i] = o.beta2 * s2[i] + (1 - o.beta2) * gi * gi;
          const double m_hat = s1[i] / (1 - std::pow(double{o.beta1}, step));
          const double v_hat = s2[i] / (1 - std::pow(double{o.beta2}, step));
          p[i] -= o.learning_rate * m_hat / (std::sqrt(v_hat) + eps);
          break;
        }
        case OptimizerKind::kRowwiseAdagrad: break;
      }
    }
  }
  return p;
}

TEST(Optimizer, DenseUpdateFollowsTheReference) {
  RECKON_TRACE_SEED();
  for (const Setting& s : settings()) {
    SCOPED_TRACE(s.name);
    std::vector<float> got = run_dense(Device::cpu(), s.optimizer);
    got.resize(kRows * kDim);
    EXPECT_TRUE(testing::all_close(got, reference(s.optimizer), {1e-5, 1e-6}));
  }
}

// The embedding backward's fused update, each bag one distinct row with weight 1, sees the dense update's gradient
// row for row: the two must agree bit for bit, state included.
std::vector<float> run_fused(Optimizer o) {
  Context ctx(Device::cpu());
  const std::int64_t n = kRows * kDim;
  std::vector<float> table = testing::random_floats(n, -1, 1, 1), s1(n, 0.0f), s2(n, 0.0f);
  std::vector<std::int32_t> offsets(kRows + 1), indices(kRows);
  for (std::int32_t b = 0; b <= kRows; ++b) offsets[b] = b;
  for (std::int32_t b = 0; b < kRows; ++b) indices[b] = kRows - 1 - b;  // bag b updates row kRows-1-b
  const TensorView tables[] = {view(table, {kRows, kDim})};
  const EmbeddingBags bags[] = {{TensorView::contiguous(offsets.data(), DType::kI32, Device::cpu(), {kRows + 1}),
                                 TensorView::contiguous(indices.data(), DType::kI32, Device::cpu(), {kRows})}};
  EmbeddingOptimizerState states[1];
  if (o.kind != OptimizerKind::kSgd) states[0].state1 = view(s1, {kRows, kDim});
  if (o.kind == OptimizerKind::kAdam) states[0].state2 = view(s2, {kRows, kDim});
  for (int step = 1; step <= kSteps; ++step) {
    const std::vector<float> g = testing::random_floats(n, -1, 1, 10 + step);
    std::vector<float> diff(n);  // bag b's gradient is row kRows-1-b's
    for (std::int64_t b = 0; b < kRows; ++b) {
      for (std::int64_t d = 0; d < kDim; ++d) diff[b * kDim + d] = g[(kRows - 1 - b) * kDim + d];
    }
    o.step = step;
    embedding_bag_bwd_update(ctx, tables, bags, view(diff, {kRows, kDim}), {}, o, states);
  }
  ctx.synchronize();
  std::vector<float> out = table;
  out.insert(out.end(), s1.begin(), s1.end());
  out.insert(out.end(), s2.begin(), s2.end());
  return out;
}

TEST(Optimizer, EmbeddingUpdateIsTheDenseUpdateRowByRow) {
  for (const Setting& s : settings()) {
    SCOPED_TRACE(s.name);
    const std::vector<float> dense = run_dense(Device::cpu(), s.optimizer), fused = run_fused(s.optimizer);
    EXPECT_TRUE(testing::bitwise_equal(dense.data(), fused.data(), dense.size() * sizeof(float)));
  }
}

TEST(Optimizer, DefaultsNamesAndRefusals) {
  EXPECT_EQ(default_eps(OptimizerKind::kAdam), 1e-8f);
  EXPECT_EQ(default_eps(OptimizerKind::kAdagrad), 1e-10f);
  EXPECT_EQ(default_eps(OptimizerKind::kRowwiseAdagrad), 1e-10f);
  for (const OptimizerKind k : {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kRowwiseAdagrad,
                                OptimizerKind::kAdam}) {
    EXPECT_EQ(parse_optimizer_kind(to_string(k)), k);
  }
  EXPECT_EQ(parse_optimizer_kind("rowwise_adagrad"), OptimizerKind::kRowwiseAdagrad);
  EXPECT_THROW((void)parse_optimizer_kind("adamax"), Error);

  Context ctx(Device::cpu());
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c(3, 0.0f);
  Optimizer o;
  o.kind = OptimizerKind::kRowwiseAdagrad;
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4}), view(b, {4})), Error);  // rows only
  o.kind = OptimizerKind::kAdam;
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4}), view(b, {4}), view(c, {3})), Error);  // size
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4})), Error);  // Adam without its moments
  o.step = 0;
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4}), view(b, {4}), view(b, {4})), Error);
  o.step = 1;
  o.beta1 = 1.0f;
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4}), view(b, {4}), view(b, {4})), Error);
  o.beta1 = 0.9f;
  o.learning_rate = NAN;
  EXPECT_THROW(optimizer_update(ctx, o, view(a, {4}), view(b, {4}), view(b, {4}), view(b, {4})), Error);
  EXPECT_EQ(a, std::vector<float>(4, 1.0f));  // nothing moved
}

TEST(OptimizerCuda, BitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  for (const Setting& s : settings()) {
    SCOPED_TRACE(s.name);
    const std::vector<float> cpu = run_dense(Device::cpu(), s.optimizer), gpu = run_dense(Device::cuda(0), s.optimizer);
    EXPECT_TRUE(testing::bitwise_equal(cpu.data(), gpu.data(), cpu.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace reckon
