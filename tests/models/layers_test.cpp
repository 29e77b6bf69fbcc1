// Layers: gradients against finite differences, the arena's sizing rules, a model written from layers (the README's)
// learning a planted rule, and CPU = CUDA for a step of it.
#include "reckon/models/layers/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reckon/models/layers/arena.h"
#include "testing.h"

namespace reckon::layers {
namespace {

std::vector<float> host(Context& ctx, const TensorView& t) { return testing::to_host<float>(ctx, t); }

void upload(Context& ctx, const TensorView& dst, const std::vector<float>& values) {
  copy_bytes(ctx, dst.data, ctx.device(), values.data(), Device::cpu(), values.size() * sizeof(float));
  ctx.synchronize();
}

// Σ_b c[b] · mlp(x)[b] and its gradient in x and in the parameters, against central differences in double.
TEST(Layers, MlpBackwardIsTheFiniteDifference) {
  Context ctx(Device::cpu());
  ActivationArena arena;
  constexpr std::int64_t B = 5, in = 7;
  ctx.set_seed(3);
  const Mlp mlp(ctx, "mlp", in, {6, 4}, 1, 0.0f, arena);
  const int x_slot = arena.add(in), dx_slot = arena.add(in), y_slot = arena.add(1), dy_slot = arena.add(1);
  arena.reserve(ctx, B);
  const TensorView x = arena.view(x_slot, {B, in}), dx = arena.view(dx_slot, {B, in});
  const TensorView y = arena.view(y_slot, {B, 1}), dy = arena.view(dy_slot, {B, 1});
  std::vector<float> xs = testing::random_floats(B * in, -1, 1, 1);
  const std::vector<float> c = testing::random_floats(B, -1, 1, 2);
  const StepClock clock(ctx, 0.1f);
  const auto objective = [&](const std::vector<float>& at) {
    upload(ctx, x, at);
    mlp.forward(ctx, x, y, false, clock, DenseMath::kF32);
    const std::vector<float> out = host(ctx, y);
    double sum = 0;
    for (std::int64_t b = 0; b < B; ++b) sum += double{c[b]} * out[b];
    return sum;
  };
  (void)objective(xs);
  upload(ctx, dy, c);
  mlp.backward(ctx, x, dy, dx, false, clock, DenseMath::kF32);
  const std::vector<float> got = host(ctx, dx);
  const double at = objective(xs);
  int checked = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    std::vector<float> plus = xs, minus = xs;
    plus[i] += 2e-3f;
    minus[i] -= 2e-3f;
    const double forward = (objective(plus) - at) / (double{plus[i]} - xs[i]);
    const double backward = (at - objective(minus)) / (double{xs[i]} - minus[i]);
    if (std::abs(forward - backward) > 1e-2) continue;  // a ReLU kink inside the step: no derivative to compare
    ++checked;
    EXPECT_NEAR(got[i], (forward + backward) / 2, 1e-3 + 1e-2 * std::abs(forward)) << "input " << i;
  }
  EXPECT_GT(checked, 30);
  std::vector<NamedTensor> params;
  mlp.append_parameters(params);
  ASSERT_EQ(params.size(), 6u);
  EXPECT_EQ(params[0].name, "mlp.0.weight");
  EXPECT_EQ(params[5].name, "mlp.2.bias");
}

TEST(Layers, ArenaGrowsOnlyPastItsCapacity) {
  Context ctx(Device::cpu());
  ActivationArena arena;
  const int a = arena.add(3), b = arena.add(0, 1);
  arena.reserve(ctx, 10);
  const void* first = arena.view(a, {10, 3}).data;
  arena.reserve(ctx, 4);
  EXPECT_EQ(arena.view(a, {4, 3}).data, first);  // smaller batches reuse the block
  EXPECT_EQ(arena.capacity(), 10);
  EXPECT_THROW((void)arena.view(a, {11, 3}), Error);
  EXPECT_THROW((void)arena.view(b, {2}), Error);
  EXPECT_THROW((void)arena.view(7, {1}), Error);
  EXPECT_THROW((void)arena.add(1), Error);  // slots come before the first reserve
  arena.reserve(ctx, 20);
  EXPECT_EQ(arena.capacity(), 20);
  EXPECT_EQ(arena.view(a, {20, 3}).numel(), 60);
}

// The README's model: three categorical fields -> FieldEmbedding -> Mlp -> SigmoidBce. The label is 1 when the
// first two fields' ids have the same parity: the rule needs both fields (no single field predicts it).
struct Batch {
  std::vector<std::int32_t> ids[3], offsets;
  std::vector<float> labels;
};

Batch make_batch(std::int64_t size, std::uint64_t stream) {
  Batch b;
  PhiloxStream rng(stream, 9);
  for (std::int32_t i = 0; i <= size; ++i) b.offsets.push_back(i);
  for (std::int64_t i = 0; i < size; ++i) {
    for (auto& field : b.ids) field.push_back(static_cast<std::int32_t>(uniform_below(rng.next_u32(), 20)));
    b.labels.push_back(b.ids[0].back() % 2 == b.ids[1].back() % 2 ? 1.0f : 0.0f);
  }
  return b;
}

class ParityModel {
 public:
  static constexpr std::int64_t kFields = 3, kDim = 8;
  explicit ParityModel(Context& ctx)
      : embedding_(ctx, "embedding", {20, 20, 20}, kDim, OptimizerKind::kAdam, 0.1f, streams(ctx)),
        mlp_(ctx, "mlp", kFields * kDim, {32}, 1, 0.0f, arena_),
        sparse_(ctx, {OptimizerKind::kAdam, 0.02f}),
        dense_(ctx, {OptimizerKind::kAdam, 0.01f}),
        emb_(arena_.add(kFields * kDim)), d_emb_(arena_.add(kFields * kDim)),
        logit_(arena_.add(1)), d_logit_(arena_.add(1)), prob_(arena_.add(1)), loss_(arena_.add(0, 1)) {}

  // One training step; returns the batch's mean loss (reads it: synchronises).
  float step(Context& ctx, std::span<const EmbeddingBags> bags, const TensorView& labels) {
    const std::int64_t B = labels.numel();
    arena_.reserve(ctx, B);
    sparse_.advance(ctx);
    dense_.advance(ctx);
    const TensorView emb = arena_.view(emb_, {B, kFields * kDim}), d_emb = arena_.view(d_emb_, {B, kFields * kDim});
    embedding_.forward(ctx, bags, arena_.view(emb_, {B, kFields, kDim}));
    mlp_.forward(ctx, emb, arena_.view(logit_, {B, 1}), true, dense_.clock(), DenseMath::kF32);
    SigmoidBce::forward_backward(ctx, arena_.view(logit_, {B}), labels, arena_.view(loss_, {1}),
                                 arena_.view(d_logit_, {B}), 1.0f / static_cast<float>(B), arena_.view(prob_, {B}));
    mlp_.backward(ctx, emb, arena_.view(d_logit_, {B, 1}), d_emb, false, dense_.clock(), DenseMath::kF32);
    mlp_.update(ctx, dense_, 0.0f);
    embedding_.backward_update(ctx, bags, arena_.view(d_emb_, {B, kFields, kDim}), sparse_, 0.0f);
    return host(ctx, arena_.view(loss_, {1}))[0] / static_cast<float>(B);
  }
  std::vector<NamedTensor> parameters() const {
    std::vector<NamedTensor> out;
    embedding_.append_parameters(out);
    mlp_.append_parameters(out);
    return out;
  }

 private:
  static std::vector<std::uint64_t> streams(Context& ctx) {
    return {ctx.next_rng_stream(), ctx.next_rng_stream(), ctx.next_rng_stream()};
  }
  ActivationArena arena_;
  FieldEmbedding embedding_;
  Mlp mlp_;
  ParameterGroup sparse_, dense_;
  int emb_, d_emb_, logit_, d_logit_, prob_, loss_;
};

// Trains on a device; returns the losses of each step and the final parameters.
std::pair<std::vector<float>, std::vector<std::vector<float>>> train_parity(Device device, int steps) {
  Context ctx(device, 5);
  ParityModel model(ctx);
  std::vector<float> losses;
  const std::int64_t B = 256;
  Tensor ids = Tensor::empty(ctx, DType::kI32, {3, B}), offsets = Tensor::empty(ctx, DType::kI32, {B + 1});
  Tensor labels = Tensor::empty(ctx, DType::kF32, {B});
  for (int s = 0; s < steps; ++s) {
    const Batch b = make_batch(B, static_cast<std::uint64_t>(s));
    for (int f = 0; f < 3; ++f) {
      copy_bytes(ctx, ids.data<std::int32_t>() + f * B, device, b.ids[f].data(), Device::cpu(), B * 4);
    }
    copy_bytes(ctx, offsets.data<std::int32_t>(), device, b.offsets.data(), Device::cpu(), (B + 1) * 4);
    copy_bytes(ctx, labels.data<float>(), device, b.labels.data(), Device::cpu(), B * 4);
    std::vector<EmbeddingBags> bags;
    for (int f = 0; f < 3; ++f) {
      bags.push_back({offsets, TensorView::contiguous(ids.data<std::int32_t>() + f * B, DType::kI32, device, {B})});
    }
    losses.push_back(model.step(ctx, bags, labels));
  }
  std::vector<std::vector<float>> params;
  for (const NamedTensor& p : model.parameters()) params.push_back(host(ctx, p.view));
  return {losses, params};
}

TEST(Layers, AModelWrittenFromLayersLearnsAPlantedRule) {
  const auto [losses, params] = train_parity(Device::cpu(), 300);
  // Chance is log 2 = 0.693; the rule is deterministic, so the loss heads for 0.
  EXPECT_NEAR(losses.front(), 0.693f, 0.05f);
  EXPECT_LT(losses.back(), 0.1f);
  EXPECT_EQ(params.size(), 3u + 4u);
}

TEST(LayersCuda, StepsMatchTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  const auto cpu = train_parity(Device::cpu(), 20), gpu = train_parity(Device::cuda(0), 20);
  // The embeddings and element-wise ops agree bit for bit; the products differ in summation order.
  EXPECT_TRUE(testing::all_close(gpu.first, cpu.first, {1e-4, 1e-5}));
  for (std::size_t i = 0; i < cpu.second.size(); ++i) {
    EXPECT_TRUE(testing::all_close(gpu.second[i], cpu.second[i], {1e-3, 1e-4})) << "parameter " << i;
  }
}

}  // namespace
}  // namespace reckon::layers

#include "reckon/models/layers/conv.h"

namespace reckon::layers {
namespace {

// Conv3d (ReLU) -> GlobalPool (average, masked by lengths): the input's gradient through the chain against central
// differences, and padded positions beyond a sample's length get none.
TEST(ConvLayers, ConvReluMaskedPoolBackwardIsTheFiniteDifference) {
  Context ctx(Device::cpu());
  constexpr std::int64_t N = 2, C = 2, D = 5, H = 3, W = 4, K = 3;
  Conv3dOptions o;
  o.pad = {1, 1, 1};
  o.activation = Activation::kRelu;
  ctx.set_seed(9);
  const Conv3d conv(ctx, "conv", C, K, {3, 3, 3}, o, ctx.next_rng_stream(), ctx.next_rng_stream());
  const GlobalPool pool(PoolMode::kAverage);
  std::vector<float> x = testing::random_floats(N * C * D * H * W, -1, 1, 5), y(N * K * D * H * W), g(N * K);
  std::vector<float> dy(y.size()), dx(x.size()), c = testing::random_floats(N * K, -1, 1, 6);
  std::vector<std::int32_t> lengths = {5, 3};
  const auto v = [](auto& data, std::initializer_list<std::int64_t> sizes) {
    return TensorView::contiguous(data.data(), dtype_v<typename std::decay_t<decltype(data)>::value_type>,
                                  Device::cpu(), sizes);
  };
  const TensorView lv = v(lengths, {N});
  const auto objective = [&](std::vector<float>& at) {
    conv.forward(ctx, v(at, {N, C, D, H, W}), v(y, {N, K, D, H, W}));
    pool.forward(ctx, v(y, {N, K, D, H, W}), lv, v(g, {N, K}), {});
    double sum = 0;
    for (std::size_t i = 0; i < g.size(); ++i) sum += double{c[i]} * g[i];
    return sum;
  };
  const double at = objective(x);
  pool.backward(ctx, v(c, {N, K}), lv, {}, v(dy, {N, K, D, H, W}));
  relu_bwd(ctx, v(y, {N, K * D * H * W}), v(dy, {N, K * D * H * W}));
  conv.backward(ctx, v(x, {N, C, D, H, W}), v(dy, {N, K, D, H, W}), v(dx, {N, C, D, H, W}));
  int checked = 0;
  for (std::size_t i = 0; i < x.size(); i += 3) {
    std::vector<float> plus = x, minus = x;
    plus[i] += 1e-3f;
    minus[i] -= 1e-3f;
    const double forward = (objective(plus) - at) / (double{plus[i]} - x[i]);
    const double backward = (at - objective(minus)) / (double{x[i]} - minus[i]);
    if (std::abs(forward - backward) > 1e-2) continue;  // a ReLU kink inside the step
    ++checked;
    EXPECT_NEAR(dx[i], (forward + backward) / 2, 1e-3 + 1e-2 * std::abs(forward)) << "input " << i;
  }
  EXPECT_GT(checked, 40);
  // Sample 1 has length 3: outputs at d >= 3 get no gradient from the pool.
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t i = 3 * H * W; i < D * H * W; ++i) EXPECT_EQ(dy[static_cast<std::size_t>((K + k) * D * H * W + i)], 0.0f);
  }
  std::vector<NamedTensor> params;
  conv.append_parameters(params);
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].view.numel(), K * C * 27);
}

}  // namespace
}  // namespace reckon::layers
