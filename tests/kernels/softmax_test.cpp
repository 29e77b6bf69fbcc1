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

}  // namespace
}  // namespace reckon
