// GRU cell and layer. The cell: the forward against the definition in double, the backward against finite differences of a scalar
// loss, bad shapes refused, and CUDA against the CPU (a few ulps: σ and tanh are each platform's). The layer: a
// sequence against the definition in double, the cell path on CUDA and cuDNN's RNN against the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/error.h"
#include "testing.h"

namespace reckon {
namespace {

struct Cell {
  std::int64_t B, H;
  std::vector<float> gx, gh, h;
};

Cell make_cell(std::int64_t B, std::int64_t H, std::uint64_t stream) {
  return {B, H, testing::random_floats(static_cast<std::size_t>(B * 3 * H), -2, 2, stream),
          testing::random_floats(static_cast<std::size_t>(B * 3 * H), -2, 2, stream + 1),
          testing::random_floats(static_cast<std::size_t>(B * H), -1, 1, stream + 2)};
}

TensorView view(std::vector<float>& v, std::initializer_list<std::int64_t> sizes) {
  return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), sizes);
}

// h' in double, straight from the definition.
std::vector<double> reference(const Cell& c) {
  std::vector<double> out(static_cast<std::size_t>(c.B * c.H));
  const auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  for (std::int64_t b = 0; b < c.B; ++b) {
    for (std::int64_t j = 0; j < c.H; ++j) {
      const auto at = [&](const std::vector<float>& g, int gate) { return double{g[static_cast<std::size_t>(b * 3 * c.H + gate * c.H + j)]}; };
      const double r = sig(at(c.gx, 0) + at(c.gh, 0)), z = sig(at(c.gx, 1) + at(c.gh, 1));
      const double n = std::tanh(at(c.gx, 2) + r * at(c.gh, 2));
      out[static_cast<std::size_t>(b * c.H + j)] = (1 - z) * n + z * c.h[static_cast<std::size_t>(b * c.H + j)];
    }
  }
  return out;
}

std::vector<float> forward(Context& ctx, Cell& c, std::vector<float>* saved = nullptr) {
  std::vector<float> out(static_cast<std::size_t>(c.B * c.H)), keep(static_cast<std::size_t>(c.B * 4 * c.H));
  gru_cell_fwd(ctx, view(c.gx, {c.B, 3 * c.H}), view(c.gh, {c.B, 3 * c.H}), view(c.h, {c.B, c.H}), view(out, {c.B, c.H}),
               view(keep, {c.B, 4 * c.H}));
  if (saved != nullptr) *saved = keep;
  return out;
}

TEST(GruCpu, ForwardIsTheDefinition) {
  Context ctx(Device::cpu());
  Cell c = make_cell(5, 7, 10);
  EXPECT_TRUE(testing::all_close(forward(ctx, c), reference(c), testing::fp32_tolerance(4)));
}

// L = Σ w ⊙ h'; its gradient by the backward against central differences in double.
TEST(GruCpu, BackwardIsTheFiniteDifference) {
  Context ctx(Device::cpu());
  Cell c = make_cell(3, 4, 20);
  std::vector<float> w = testing::random_floats(static_cast<std::size_t>(c.B * c.H), -1, 1, 30), saved;
  forward(ctx, c, &saved);
  std::vector<float> dgx(c.gx.size()), dgh(c.gh.size()), dh(c.h.size());
  gru_cell_bwd(ctx, view(c.h, {c.B, c.H}), view(saved, {c.B, 4 * c.H}), view(w, {c.B, c.H}), view(dgx, {c.B, 3 * c.H}),
               view(dgh, {c.B, 3 * c.H}), view(dh, {c.B, c.H}));
  const auto loss = [&](Cell& x) {
    const std::vector<double> y = reference(x);
    double sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += w[i] * y[i];
    return sum;
  };
  const double eps = 1e-3;
  const auto check = [&](std::vector<float> Cell::*field, const std::vector<float>& analytic) {
    for (std::size_t i = 0; i < analytic.size(); ++i) {
      Cell plus = c, minus = c;
      (plus.*field)[i] += static_cast<float>(eps);
      (minus.*field)[i] -= static_cast<float>(eps);
      const double numeric = (loss(plus) - loss(minus)) / (2 * eps);
      EXPECT_NEAR(analytic[i], numeric, 2e-3) << i;
    }
  };
  check(&Cell::gx, dgx);
  check(&Cell::gh, dgh);
  check(&Cell::h, dh);  // h reaches h' only through z ⊙ h here: its products are outside the cell
}

TEST(GruCpu, BadShapesAreRefused) {
  Context ctx(Device::cpu());
  Cell c = make_cell(2, 3, 40);
  std::vector<float> out(6), saved(24), small(5);
  EXPECT_THROW(gru_cell_fwd(ctx, view(c.gx, {2, 9}), view(c.gh, {3, 6}), view(c.h, {2, 3}), view(out, {2, 3}),
                            view(saved, {2, 12})),
               Error);
  EXPECT_THROW(gru_cell_fwd(ctx, view(c.gx, {2, 9}), view(c.gh, {2, 9}), view(c.h, {2, 3}), view(out, {2, 3}),
                            view(small, {5})),
               Error);
}

TEST(GruCuda, MatchesTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  Cell c = make_cell(37, 129, 50);
  std::vector<float> saved;
  const std::vector<float> want = forward(cpu, c, &saved);
  const std::vector<float> dy = testing::random_floats(want.size(), -1, 1, 60);
  std::vector<float> dgx(c.gx.size()), dgh(c.gh.size()), dh(c.h.size()), dy_copy = dy;
  gru_cell_bwd(cpu, view(c.h, {c.B, c.H}), view(saved, {c.B, 4 * c.H}), view(dy_copy, {c.B, c.H}),
               view(dgx, {c.B, 3 * c.H}), view(dgh, {c.B, 3 * c.H}), view(dh, {c.B, c.H}));
  const auto put = [&](const std::vector<float>& host) {
    testing::GuardedBuffer<float> b(gpu, host.size());
    copy_bytes(gpu, b.data(), gpu.device(), host.data(), Device::cpu(), host.size() * 4);
    return b;
  };
  auto gx = put(c.gx), gh = put(c.gh), h = put(c.h), y = put(dy);
  testing::GuardedBuffer<float> out(gpu, want.size()), keep(gpu, saved.size()), ggx(gpu, dgx.size()), ggh(gpu, dgh.size()),
      gdh(gpu, dh.size());
  gru_cell_fwd(gpu, gx.view({c.B, 3 * c.H}), gh.view({c.B, 3 * c.H}), h.view({c.B, c.H}), out.view({c.B, c.H}),
               keep.view({c.B, 4 * c.H}));
  gru_cell_bwd(gpu, h.view({c.B, c.H}), keep.view({c.B, 4 * c.H}), y.view({c.B, c.H}), ggx.view({c.B, 3 * c.H}),
               ggh.view({c.B, 3 * c.H}), gdh.view({c.B, c.H}));
  const testing::Tolerance ulps{1e-6, 1e-7};
  EXPECT_TRUE(testing::all_close(out.download(), want, ulps));
  EXPECT_TRUE(testing::all_close(ggx.download(), dgx, ulps));
  EXPECT_TRUE(testing::all_close(ggh.download(), dgh, ulps));
  EXPECT_TRUE(testing::all_close(gdh.download(), dh, ulps));
}

// A layer's operands: x [T, B, I], h0 [B, H] and the weights, small values.
struct Layer {
  std::int64_t T, B, I, H;
  std::vector<float> x, h0, w_x, w_h, b_x, b_h;
};

Layer make_layer(std::int64_t T, std::int64_t B, std::int64_t I, std::int64_t H) {
  const auto n = [](std::int64_t v) { return static_cast<std::size_t>(v); };
  return {T, B, I, H, testing::random_floats(n(T * B * I), -1, 1, 20), testing::random_floats(n(B * H), -1, 1, 21),
          testing::random_floats(n(I * 3 * H), -0.5, 0.5, 22), testing::random_floats(n(H * 3 * H), -0.5, 0.5, 23),
          testing::random_floats(n(3 * H), -0.5, 0.5, 24), testing::random_floats(n(3 * H), -0.5, 0.5, 25)};
}

// y [T, B, H] in double: the products and the cell straight from the definition.
std::vector<double> layer_reference(const Layer& l, bool zero_h0) {
  const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const auto at = [](const std::vector<float>& v, std::int64_t i) { return double{v[static_cast<std::size_t>(i)]}; };
  std::vector<double> h(static_cast<std::size_t>(l.B * l.H)), y;
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = zero_h0 ? 0.0 : l.h0[i];
  for (std::int64_t t = 0; t < l.T; ++t) {
    std::vector<double> next(h.size());
    for (std::int64_t b = 0; b < l.B; ++b) {
      for (std::int64_t j = 0; j < l.H; ++j) {
        double gx[3], gh[3];
        for (int g = 0; g < 3; ++g) {
          const std::int64_t col = g * l.H + j;
          gx[g] = at(l.b_x, col);
          gh[g] = at(l.b_h, col);
          for (std::int64_t i = 0; i < l.I; ++i) gx[g] += at(l.x, (t * l.B + b) * l.I + i) * at(l.w_x, i * 3 * l.H + col);
          for (std::int64_t k = 0; k < l.H; ++k) gh[g] += h[static_cast<std::size_t>(b * l.H + k)] * at(l.w_h, k * 3 * l.H + col);
        }
        const double r = sig(gx[0] + gh[0]), z = sig(gx[1] + gh[1]), cand = std::tanh(gx[2] + r * gh[2]);
        next[static_cast<std::size_t>(b * l.H + j)] = (1 - z) * cand + z * h[static_cast<std::size_t>(b * l.H + j)];
      }
    }
    h = next;
    y.insert(y.end(), h.begin(), h.end());
  }
  return y;
}

std::vector<float> run_layer(Context& ctx, Layer& l, bool zero_h0, const char* implementation = nullptr) {
  std::vector<float> y(static_cast<std::size_t>(l.T * l.B * l.H));
  if (ctx.device().is_cpu()) {
    const GruWeights w{view(l.w_x, {l.I, 3 * l.H}), view(l.w_h, {l.H, 3 * l.H}), view(l.b_x, {3 * l.H}), view(l.b_h, {3 * l.H})};
    gru_layer_fwd(ctx, view(l.x, {l.T, l.B, l.I}), zero_h0 ? TensorView{} : view(l.h0, {l.B, l.H}), w,
                  view(y, {l.T, l.B, l.H}), {implementation});
    return y;
  }
  const auto upload = [&](std::vector<float>& v, std::initializer_list<std::int64_t> sizes) {
    Tensor t = Tensor::empty(ctx, DType::kF32, sizes);
    copy_bytes(ctx, t.view().data, ctx.device(), v.data(), Device::cpu(), v.size() * 4);
    return t;
  };
  const Tensor x = upload(l.x, {l.T, l.B, l.I}), h0 = upload(l.h0, {l.B, l.H}), w_x = upload(l.w_x, {l.I, 3 * l.H}),
               w_h = upload(l.w_h, {l.H, 3 * l.H}), b_x = upload(l.b_x, {3 * l.H}), b_h = upload(l.b_h, {3 * l.H});
  testing::GuardedBuffer<float> out(ctx, y.size());
  gru_layer_fwd(ctx, x, zero_h0 ? TensorView{} : h0.view(), GruWeights{w_x, w_h, b_x, b_h}, out.view({l.T, l.B, l.H}),
                {implementation});
  return out.download();
}

TEST(GruLayerCpu, SequenceIsTheDefinition) {
  Context ctx(Device::cpu());
  Layer l = make_layer(6, 3, 5, 4);
  for (const bool zero_h0 : {false, true}) {
    EXPECT_TRUE(testing::all_close(run_layer(ctx, l, zero_h0), layer_reference(l, zero_h0), {1e-5, 1e-6})) << zero_h0;
  }
}

TEST(GruLayerCpu, BadShapesAndImplementationsAreRefused) {
  Context ctx(Device::cpu());
  Layer l = make_layer(2, 3, 5, 4);
  std::vector<float> y(static_cast<std::size_t>(2 * 3 * 4));
  const GruWeights w{view(l.w_x, {5, 12}), view(l.w_h, {4, 12}), view(l.b_x, {12}), view(l.b_h, {12})};
  EXPECT_THROW(gru_layer_fwd(ctx, view(l.x, {2, 3, 5}), TensorView{}, w, view(y, {2, 4, 3})), Error);
  const GruWeights wrong{view(l.w_x, {4, 12}), view(l.w_h, {4, 12}), view(l.b_x, {12}), view(l.b_h, {12})};
  EXPECT_THROW(gru_layer_fwd(ctx, view(l.x, {2, 3, 5}), TensorView{}, wrong, view(y, {2, 3, 4})), Error);
  EXPECT_THROW(gru_layer_fwd(ctx, view(l.x, {2, 3, 5}), TensorView{}, w, view(y, {2, 3, 4}), {"cuda_cudnn"}), Error);
}

TEST(GruLayerCuda, CellPathAndCudnnMatchTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  Layer l = make_layer(12, 70, 48, 100);
  for (const bool zero_h0 : {false, true}) {
    const std::vector<float> want = run_layer(cpu, l, zero_h0);
    EXPECT_TRUE(testing::all_close(run_layer(gpu, l, zero_h0, "cuda_cell"), want, {1e-4, 1e-6})) << zero_h0;
    if (!RECKON_WITH_CUDNN) continue;
    EXPECT_TRUE(testing::all_close(run_layer(gpu, l, zero_h0, "cuda_cudnn"), want, {1e-4, 1e-6})) << zero_h0;
  }
}

}  // namespace
}  // namespace reckon
