// Softmax cross-entropy: loss and gradient against the definition in double, in place, ignored rows, extreme
// logits, bad targets refused, and CUDA against the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reckon/kernels/softmax/softmax.h"
#include "reckon/runtime/error.h"
#include "testing.h"

namespace reckon {
namespace {

TensorView f32(std::vector<float>& v, std::initializer_list<std::int64_t> sizes) {
  return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), sizes);
}
TensorView i32(std::vector<std::int32_t>& v) {
  return TensorView::contiguous(v.data(), DType::kI32, Device::cpu(), {static_cast<std::int64_t>(v.size())});
}

// Loss and gradient in double.
void reference(const std::vector<float>& z, const std::vector<std::int32_t>& t, std::int64_t N, double scale,
               std::vector<double>& loss, std::vector<double>& grad) {
  const auto B = static_cast<std::int64_t>(t.size());
  loss.assign(static_cast<std::size_t>(B), 0.0);
  grad.assign(z.size(), 0.0);
  for (std::int64_t b = 0; b < B; ++b) {
    if (t[static_cast<std::size_t>(b)] < 0) continue;
    double top = -INFINITY, sum = 0;
    for (std::int64_t j = 0; j < N; ++j) top = std::max(top, double{z[static_cast<std::size_t>(b * N + j)]});
    for (std::int64_t j = 0; j < N; ++j) sum += std::exp(z[static_cast<std::size_t>(b * N + j)] - top);
    const double lse = top + std::log(sum);
    loss[static_cast<std::size_t>(b)] = lse - z[static_cast<std::size_t>(b * N + t[static_cast<std::size_t>(b)])];
    for (std::int64_t j = 0; j < N; ++j) {
      grad[static_cast<std::size_t>(b * N + j)] =
          (std::exp(z[static_cast<std::size_t>(b * N + j)] - lse) - (j == t[static_cast<std::size_t>(b)] ? 1.0 : 0.0)) * scale;
    }
  }
}

TEST(SoftmaxCpu, LossAndGradientAreTheDefinitionInPlaceToo) {
  Context ctx(Device::cpu());
  const std::int64_t B = 6, N = 1000;
  std::vector<float> z = testing::random_floats(static_cast<std::size_t>(B * N), -8, 8, 1);
  z[5] = 80.0f;  // a large logit: exp would overflow without the row maximum
  std::vector<std::int32_t> t{3, 999, -1, 0, 500, 5};
  std::vector<double> want_loss, want_grad;
  reference(z, t, N, 0.25, want_loss, want_grad);
  std::vector<float> loss(static_cast<std::size_t>(B)), grad(z.size());
  softmax_cross_entropy(ctx, f32(z, {B, N}), i32(t), f32(loss, {B}), f32(grad, {B, N}), 0.25f);
  EXPECT_TRUE(testing::all_close(loss, want_loss, testing::fp32_tolerance(N, 8)));
  EXPECT_TRUE(testing::all_close(grad, want_grad, {1e-5, 1e-8}));
  EXPECT_EQ(loss[2], 0.0f);  // the ignored row
  std::vector<float> in_place = z, loss2(loss.size());
  softmax_cross_entropy(ctx, f32(in_place, {B, N}), i32(t), f32(loss2, {B}), f32(in_place, {B, N}), 0.25f);
  EXPECT_EQ(in_place, grad);
  EXPECT_EQ(loss2, loss);
}

TEST(SoftmaxCpu, BadTargetsAndShapesAreRefused) {
  Context ctx(Device::cpu());
  std::vector<float> z(20), loss(2), grad(20);
  std::vector<std::int32_t> t{0, 10};
  EXPECT_THROW(softmax_cross_entropy(ctx, f32(z, {2, 10}), i32(t), f32(loss, {2}), f32(grad, {2, 10})), Error);
  t = {0, -2};
  EXPECT_THROW(softmax_cross_entropy(ctx, f32(z, {2, 10}), i32(t), f32(loss, {2}), f32(grad, {2, 10})), Error);
  t = {0, 1};
  EXPECT_THROW(softmax_cross_entropy(ctx, f32(z, {2, 10}), i32(t), f32(loss, {2}), f32(grad, {4, 5})), Error);
}

TEST(SoftmaxCuda, MatchesTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  const std::int64_t B = 33, N = 40'000;
  const std::vector<float> z = testing::random_floats(static_cast<std::size_t>(B * N), -10, 10, 2);
  std::vector<std::int32_t> t(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) t[static_cast<std::size_t>(b)] = b == 7 ? -1 : static_cast<std::int32_t>((b * 1237) % N);
  std::vector<double> want_loss, want_grad;
  reference(z, t, N, 1.0 / B, want_loss, want_grad);
  testing::GuardedBuffer<float> zb(gpu, z.size()), loss(gpu, static_cast<std::size_t>(B));
  testing::GuardedBuffer<std::int32_t> tb(gpu, t.size());
  copy_bytes(gpu, zb.data(), gpu.device(), z.data(), Device::cpu(), z.size() * 4);
  copy_bytes(gpu, tb.data(), gpu.device(), t.data(), Device::cpu(), t.size() * 4);
  softmax_cross_entropy(gpu, zb.view({B, N}), tb.view(), loss.view({B}), zb.view({B, N}), 1.0f / B);  // in place
  EXPECT_TRUE(testing::all_close(loss.download(), want_loss, testing::fp32_tolerance(N, 10)));
  EXPECT_TRUE(testing::all_close(zb.download(), want_grad, {1e-4, 1e-9}));
}

// BPR-max's loss of one row in double, by its definition (softmax.h); the gradient is checked against its central
// differences, so the test does not share the kernel's derivation.
double bpr_max_reference(const std::vector<double>& r, std::int32_t t, const std::vector<std::int32_t>& items, double lambda) {
  double top = -INFINITY;
  for (std::size_t j = 0; j < r.size(); ++j) {
    if (items[j] != items[static_cast<std::size_t>(t)]) top = std::max(top, r[j]);
  }
  if (top == -INFINITY) return 0.0;
  double sum = 0, p = 0, reg = 0;
  for (std::size_t j = 0; j < r.size(); ++j) {
    if (items[j] == items[static_cast<std::size_t>(t)]) continue;
    const double e = std::exp(r[j] - top);
    sum += e;
    p += e / (1.0 + std::exp(r[j] - r[static_cast<std::size_t>(t)]));
    reg += e * r[j] * r[j];
  }
  return -std::log(p / sum + 1e-24) + lambda * reg / sum;
}

struct BprMaxCase {
  std::int64_t B = 5, M = 12;
  std::vector<float> scores, bias;
  std::vector<std::int32_t> targets{0, 1, -1, 3, 4}, items;
  float lambda = 0.7f, scale = 0.5f;
  BprMaxCase() {
    scores = testing::random_floats(static_cast<std::size_t>(B * M), -3, 3, 5);
    bias = testing::random_floats(static_cast<std::size_t>(M), -1, 1, 6);
    items = {10, 11, 12, 13, 14, 11, 20, 21, 22, 23, 24, 25};  // column 5 repeats row 1's target item
  }
  std::vector<double> row(std::int64_t b) const {
    std::vector<double> r(static_cast<std::size_t>(M));
    for (std::int64_t j = 0; j < M; ++j) r[static_cast<std::size_t>(j)] = double{scores[static_cast<std::size_t>(b * M + j)]} + bias[static_cast<std::size_t>(j)];
    return r;
  }
};

TEST(BprMaxCpu, LossIsTheDefinitionAndGradientItsDerivative) {
  Context ctx(Device::cpu());
  BprMaxCase c;
  std::vector<float> loss(static_cast<std::size_t>(c.B)), grad(c.scores.size());
  bpr_max_loss(ctx, f32(c.scores, {c.B, c.M}), f32(c.bias, {c.M}), i32(c.targets), i32(c.items), f32(loss, {c.B}),
               f32(grad, {c.B, c.M}), c.lambda, c.scale);
  for (std::int64_t b = 0; b < c.B; ++b) {
    const std::int32_t t = c.targets[static_cast<std::size_t>(b)];
    const std::size_t at = static_cast<std::size_t>(b * c.M);
    if (t < 0) {
      EXPECT_EQ(loss[static_cast<std::size_t>(b)], 0.0f);
      for (std::int64_t j = 0; j < c.M; ++j) EXPECT_EQ(grad[at + static_cast<std::size_t>(j)], 0.0f);
      continue;
    }
    std::vector<double> r = c.row(b);
    EXPECT_NEAR(loss[static_cast<std::size_t>(b)], bpr_max_reference(r, t, c.items, c.lambda), 1e-5) << "row " << b;
    for (std::int64_t j = 0; j < c.M; ++j) {
      const double h = 1e-5, keep = r[static_cast<std::size_t>(j)];
      r[static_cast<std::size_t>(j)] = keep + h;
      const double up = bpr_max_reference(r, t, c.items, c.lambda);
      r[static_cast<std::size_t>(j)] = keep - h;
      const double down = bpr_max_reference(r, t, c.items, c.lambda);
      r[static_cast<std::size_t>(j)] = keep;
      EXPECT_NEAR(grad[at + static_cast<std::size_t>(j)], c.scale * (up - down) / (2 * h), 2e-5) << "row " << b << " column " << j;
    }
  }
  EXPECT_EQ(grad[static_cast<std::size_t>(1 * c.M + 5)], 0.0f);  // the target item's other column is not a negative
  std::vector<float> in_place = c.scores, loss2(loss.size());
  bpr_max_loss(ctx, f32(in_place, {c.B, c.M}), f32(c.bias, {c.M}), i32(c.targets), i32(c.items), f32(loss2, {c.B}),
               f32(in_place, {c.B, c.M}), c.lambda, c.scale);
  EXPECT_EQ(in_place, grad);
  EXPECT_EQ(loss2, loss);
}

TEST(BprMaxCpu, ARowWithoutNegativesAndBadInputs) {
  Context ctx(Device::cpu());
  std::vector<float> z{1, 2, 3, 4}, loss(2), grad(4);
  std::vector<std::int32_t> t{0, 1}, items{7, 7};
  bpr_max_loss(ctx, f32(z, {2, 2}), TensorView{}, i32(t), i32(items), f32(loss, {2}), f32(grad, {2, 2}), 1.0f);
  EXPECT_EQ(loss, (std::vector<float>{0, 0}));
  EXPECT_EQ(grad, (std::vector<float>{0, 0, 0, 0}));
  t = {0, 2};
  EXPECT_THROW(bpr_max_loss(ctx, f32(z, {2, 2}), TensorView{}, i32(t), i32(items), f32(loss, {2}), f32(grad, {2, 2}), 1.0f), Error);
  t = {0, 1};
  EXPECT_THROW(bpr_max_loss(ctx, f32(z, {2, 2}), TensorView{}, i32(t), i32(items), f32(loss, {2}), f32(grad, {2, 2}), -1.0f), Error);
  std::vector<std::int32_t> short_items{7};
  EXPECT_THROW(bpr_max_loss(ctx, f32(z, {2, 2}), TensorView{}, i32(t), i32(short_items), f32(loss, {2}), f32(grad, {2, 2}), 1.0f), Error);
}

TEST(BprMaxCuda, MatchesTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  const std::int64_t B = 70, M = 2'100;
  std::vector<float> z = testing::random_floats(static_cast<std::size_t>(B * M), -6, 6, 7);
  std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(M), -1, 1, 8);
  std::vector<std::int32_t> t(static_cast<std::size_t>(B)), items(static_cast<std::size_t>(M));
  for (std::int64_t j = 0; j < M; ++j) items[static_cast<std::size_t>(j)] = static_cast<std::int32_t>((j * 37) % 1'500);
  for (std::int64_t b = 0; b < B; ++b) t[static_cast<std::size_t>(b)] = b == 9 ? -1 : static_cast<std::int32_t>(b);
  std::vector<float> want_loss(static_cast<std::size_t>(B)), want_grad(z.size());
  bpr_max_loss(cpu, f32(z, {B, M}), f32(bias, {M}), i32(t), i32(items), f32(want_loss, {B}), f32(want_grad, {B, M}), 1.0f, 1.0f / B);
  testing::GuardedBuffer<float> zb(gpu, z.size()), bb(gpu, bias.size()), loss(gpu, static_cast<std::size_t>(B));
  testing::GuardedBuffer<std::int32_t> tb(gpu, t.size()), ib(gpu, items.size());
  copy_bytes(gpu, zb.data(), gpu.device(), z.data(), Device::cpu(), z.size() * 4);
  copy_bytes(gpu, bb.data(), gpu.device(), bias.data(), Device::cpu(), bias.size() * 4);
  copy_bytes(gpu, tb.data(), gpu.device(), t.data(), Device::cpu(), t.size() * 4);
  copy_bytes(gpu, ib.data(), gpu.device(), items.data(), Device::cpu(), items.size() * 4);
  bpr_max_loss(gpu, zb.view({B, M}), bb.view({M}), tb.view(), ib.view(), loss.view({B}), zb.view({B, M}), 1.0f, 1.0f / B);
  std::vector<double> loss_d(want_loss.begin(), want_loss.end()), grad_d(want_grad.begin(), want_grad.end());
  EXPECT_TRUE(testing::all_close(loss.download(), loss_d, {1e-5, 1e-6}));
  EXPECT_TRUE(testing::all_close(zb.download(), grad_d, {1e-4, 1e-9}));
}

}  // namespace
}  // namespace reckon
