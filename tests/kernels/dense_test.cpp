// Dense layers: CPU against double-precision references, CUDA against CPU (bitwise for element-wise ops and
// reductions, tolerance for cuBLAS vs OpenBLAS products and for transcendental functions), bad input.
#include "reckon/kernels/dense/dense.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reckon/kernels/dense/dense_math.h"
#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

// Host tensors uploaded to a context; keeps the buffers alive.
struct Uploads {
  Context& ctx;
  std::vector<Buffer> keep;
  TensorView put(const std::vector<float>& host, std::initializer_list<std::int64_t> shape) {
    keep.push_back(Buffer::on_device(ctx, std::max<std::size_t>(host.size(), 1) * sizeof(float)));
    copy_bytes(ctx, keep.back().data(), ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(float));
    ctx.synchronize();
    return TensorView::contiguous(keep.back().data(), DType::kF32, ctx.device(), shape);
  }
};

struct LinearCase {
  std::int64_t batch, in, out;
};
// M = 0 and N = 0 make an empty reduction in forward / backward-data (cuBLAS refuses their leading dimension 0).
const LinearCase kLinearCases[] = {{1, 1, 1}, {33, 17, 31}, {256, 129, 64}, {512, 624, 400}, {5, 0, 3}, {6, 4, 0}};

struct LinearResult {
  std::vector<float> y, diff_src, diff_w, diff_b;
  std::vector<float> prior, diff_src_added;  // linear_bwd_data_accumulate onto `prior`
};

LinearResult run_linear(Device device, const LinearCase& c, Activation act, std::uint64_t stream) {
  const auto x = testing::random_floats(static_cast<std::size_t>(c.batch * c.in), -1, 1, stream);
  const auto w = testing::random_floats(static_cast<std::size_t>(c.in * c.out), -0.5f, 0.5f, stream + 1);
  const auto b = testing::random_floats(static_cast<std::size_t>(c.out), -0.5f, 0.5f, stream + 2);
  const auto dy = testing::random_floats(static_cast<std::size_t>(c.batch * c.out), -1, 1, stream + 3);
  Context ctx(device);
  Uploads u{ctx, {}};
  const TensorView xv = u.put(x, {c.batch, c.in}), wv = u.put(w, {c.in, c.out}), bv = u.put(b, {c.out}),
                   dyv = u.put(dy, {c.batch, c.out});
  GuardedBuffer<float> y(ctx, static_cast<std::size_t>(c.batch * c.out)), dx(ctx, static_cast<std::size_t>(c.batch * c.in)),
      dw(ctx, static_cast<std::size_t>(c.in * c.out)), db(ctx, static_cast<std::size_t>(c.out));
  linear_fwd(ctx, xv, wv, bv, y.view({c.batch, c.out}), act);
  linear_bwd_data(ctx, dyv, wv, dx.view({c.batch, c.in}));
  linear_bwd_weights(ctx, xv, dyv, dw.view({c.in, c.out}), db.view({c.out}));
  const auto prior = testing::random_floats(static_cast<std::size_t>(c.batch * c.in), -2, 2, stream + 4);
  const TensorView added = u.put(prior, {c.batch, c.in});
  linear_bwd_data_accumulate(ctx, dyv, wv, added);
  return {y.download(), dx.download(), dw.download(), db.download(), prior, testing::to_host<float>(ctx, added)};
}

void reference_linear(const LinearCase& c, Activation act, std::uint64_t stream, std::vector<double>* y_out,
                      std::vector<double>* dx_out, std::vector<double>* dw_out, std::vector<double>* db_out) {
  const auto x = testing::random_floats(static_cast<std::size_t>(c.batch * c.in), -1, 1, stream);
  const auto w = testing::random_floats(static_cast<std::size_t>(c.in * c.out), -0.5f, 0.5f, stream + 1);
  const auto b = testing::random_floats(static_cast<std::size_t>(c.out), -0.5f, 0.5f, stream + 2);
  const auto dy = testing::random_floats(static_cast<std::size_t>(c.batch * c.out), -1, 1, stream + 3);
  auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  y_out->assign(at(c.batch * c.out), 0);
  dx_out->assign(at(c.batch * c.in), 0);
  dw_out->assign(at(c.in * c.out), 0);
  db_out->assign(at(c.out), 0);
  for (std::int64_t i = 0; i < c.batch; ++i) {
    for (std::int64_t j = 0; j < c.out; ++j) {
      double s = b[at(j)];
      for (std::int64_t k = 0; k < c.in; ++k) s += static_cast<double>(x[at(i * c.in + k)]) * w[at(k * c.out + j)];
      (*y_out)[at(i * c.out + j)] = act == Activation::kRelu ? std::max(s, 0.0) : s;
      for (std::int64_t k = 0; k < c.in; ++k) {
        (*dx_out)[at(i * c.in + k)] += static_cast<double>(dy[at(i * c.out + j)]) * w[at(k * c.out + j)];
        (*dw_out)[at(k * c.out + j)] += static_cast<double>(x[at(i * c.in + k)]) * dy[at(i * c.out + j)];
      }
      (*db_out)[at(j)] += dy[at(i * c.out + j)];
    }
  }
}

std::string name(const LinearCase& c) {
  return "B=" + std::to_string(c.batch) + " M=" + std::to_string(c.in) + " N=" + std::to_string(c.out);
}

TEST(DenseCpu, LinearForwardAndBackwardMatchDoubleReference) {
  RECKON_TRACE_SEED();
  std::uint64_t stream = 0;
  for (const LinearCase& c : kLinearCases) {
    for (Activation act : {Activation::kNone, Activation::kRelu}) {
      SCOPED_TRACE(name(c) + (act == Activation::kRelu ? " relu" : ""));
      stream += 10;
      const LinearResult got = run_linear(Device::cpu(), c, act, stream);
      std::vector<double> y, dx, dw, db;
      reference_linear(c, act, stream, &y, &dx, &dw, &db);
      EXPECT_TRUE(testing::all_close(got.y, y, testing::fp32_tolerance(c.in, 0.5)));
      EXPECT_TRUE(testing::all_close(got.diff_src, dx, testing::fp32_tolerance(c.out, 0.5)));
      EXPECT_TRUE(testing::all_close(got.diff_w, dw, testing::fp32_tolerance(c.batch, 1.0)));
      EXPECT_TRUE(testing::all_close(got.diff_b, db, testing::fp32_tolerance(c.batch, 1.0)));
      std::vector<double> added(dx.size());
      for (std::size_t i = 0; i < dx.size(); ++i) added[i] = dx[i] + got.prior[i];
      EXPECT_TRUE(testing::all_close(got.diff_src_added, added, testing::fp32_tolerance(c.out + 1, 0.5)));
    }
  }
}

std::vector<float> run_dropout(Device device, std::size_t n, float rate, std::uint64_t seed, bool backward) {
  Context ctx(device, seed);
  Uploads u{ctx, {}};
  const auto x = testing::random_floats(n, 0.5f, 1.5f, 50);
  const TensorView xv = u.put(x, {static_cast<std::int64_t>(n)});
  backward ? dropout_bwd(ctx, xv, rate, 9) : dropout_fwd(ctx, xv, rate, 9);
  return testing::to_host<float>(ctx, xv);
}

TEST(DenseCpu, DropoutKeepsTheRightFractionScaledAndBackwardUsesTheSameMask) {
  const std::size_t n = 200000;
  const auto fwd = run_dropout(Device::cpu(), n, 0.3f, 77, false);
  const auto bwd = run_dropout(Device::cpu(), n, 0.3f, 77, true);
  const auto x = testing::random_floats(n, 0.5f, 1.5f, 50);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (fwd[i] != 0.0f) {
      ++kept;
      ASSERT_FLOAT_EQ(fwd[i], x[i] / 0.7f);
    }
    ASSERT_EQ(fwd[i] == 0.0f, bwd[i] == 0.0f) << i;
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.7, 0.005);
  const auto other_seed = run_dropout(Device::cpu(), n, 0.3f, 78, false);
  EXPECT_NE(other_seed, fwd);
  EXPECT_THROW(run_dropout(Device::cpu(), 10, 1.0f, 1, false), Error);
}

struct BceResult {
  float loss;
  std::vector<float> diff, prob;
};

BceResult run_bce(Device device, const std::vector<float>& z, const std::vector<float>& y, float scale) {
  Context ctx(device);
  Uploads u{ctx, {}};
  const auto n = static_cast<std::int64_t>(z.size());
  const TensorView zv = u.put(z, {n}), yv = u.put(y, {n});
  GuardedBuffer<float> loss(ctx, 1), diff(ctx, z.size()), prob(ctx, z.size());
  sigmoid_bce_with_logits(ctx, zv, yv, loss.view({1}), diff.view({n}), scale, prob.view({n}));
  return {loss.download()[0], diff.download(), prob.download()};
}

std::vector<float> labels(std::size_t n, std::uint64_t stream) {
  auto u = testing::random_floats(n, 0, 1, stream);
  for (float& x : u) x = x < 0.3f ? 1.0f : 0.0f;
  return u;
}

TEST(DenseCpu, BceIsStableAndMatchesReference) {
  std::vector<float> z = testing::random_floats(1000, -8, 8, 60);
  z.insert(z.end(), {100.0f, -100.0f, 0.0f, 30.0f, -30.0f});
  const std::vector<float> y = labels(z.size(), 61);
  const BceResult got = run_bce(Device::cpu(), z, y, 1.0f / static_cast<float>(z.size()));
  double loss = 0;
  std::vector<double> diff(z.size()), prob(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(z[i])));
    loss += -(y[i] * std::log(std::max(p, 1e-300)) + (1 - y[i]) * std::log(std::max(1 - p, 1e-300)));
    diff[i] = (p - y[i]) / static_cast<double>(z.size());
    prob[i] = p;
  }
  ASSERT_TRUE(std::isfinite(got.loss));
  EXPECT_NEAR(got.loss, loss, 1e-5 * loss + 1e-4);
  EXPECT_TRUE(testing::all_close(got.diff, diff, {1e-5, 1e-8}));
  EXPECT_TRUE(testing::all_close(got.prob, prob, {1e-5, 1e-7}));
}

BceResult run_squared_error(Device device, const std::vector<float>& p, const std::vector<float>& t, float scale) {
  Context ctx(device);
  Uploads u{ctx, {}};
  const auto n = static_cast<std::int64_t>(p.size());
  GuardedBuffer<float> loss(ctx, 1), diff(ctx, p.size());
  squared_error(ctx, u.put(p, {n}), u.put(t, {n}), loss.view({1}), diff.view({n}), scale);
  return {loss.download()[0], diff.download(), {}};
}

TEST(DenseCpu, SquaredErrorMatchesReferenceAndRefusesShapes) {
  const std::vector<float> p = testing::random_floats(1001, -3, 3, 62), t = testing::random_floats(1001, -3, 3, 63);
  const BceResult got = run_squared_error(Device::cpu(), p, t, 0.5f);
  double loss = 0;
  std::vector<double> diff(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    loss += std::pow(static_cast<double>(p[i]) - t[i], 2);
    diff[i] = (static_cast<double>(p[i]) - t[i]);  // 2 · e · 0.5
  }
  EXPECT_NEAR(got.loss, loss, 1e-5 * loss);
  EXPECT_TRUE(testing::all_close(got.diff, diff, {1e-6, 1e-7}));
  Context ctx(Device::cpu());
  GuardedBuffer<float> a(ctx, 4), b(ctx, 3), l(ctx, 1);
  EXPECT_THROW(squared_error(ctx, a.view({4}), b.view({3}), l.view({1}), {}, 1.0f), Error);
}

struct AdamRun {
  std::vector<float> p, m, v;
};

AdamRun run_adam(Device device, const AdamOptions& o, int steps) {
  Context ctx(device);
  Uploads u{ctx, {}};
  const std::size_t n = 1000;
  const TensorView p = u.put(testing::random_floats(n, -1, 1, 70), {1000}), m = u.put(std::vector<float>(n, 0.0f), {1000}),
                   v = u.put(std::vector<float>(n, 0.0f), {1000});
  for (int s = 1; s <= steps; ++s) {
    const TensorView g = u.put(testing::random_floats(n, -1, 1, 70 + static_cast<std::uint64_t>(s)), {1000});
    adam_update(ctx, p, g, m, v, o, s);
  }
  return {testing::to_host<float>(ctx, p), testing::to_host<float>(ctx, m), testing::to_host<float>(ctx, v)};
}

std::vector<double> reference_adam(const AdamOptions& o, int steps) {
  const std::size_t n = 1000;
  const auto p0 = testing::random_floats(n, -1, 1, 70);
  std::vector<double> p(p0.begin(), p0.end()), m(n, 0), v(n, 0);
  for (int s = 1; s <= steps; ++s) {
    const auto g = testing::random_floats(n, -1, 1, 70 + static_cast<std::uint64_t>(s));
    for (std::size_t i = 0; i < n; ++i) {
      double gi = g[i];
      if (o.decoupled_weight_decay) {
        p[i] *= 1 - static_cast<double>(o.learning_rate) * o.weight_decay;
      } else {
        gi += o.weight_decay * p[i];
      }
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      const double mh = m[i] / (1 - std::pow(o.beta1, s)), vh = v[i] / (1 - std::pow(o.beta2, s));
      p[i] -= o.learning_rate * mh / (std::sqrt(vh) + o.eps);
    }
  }
  return p;
}

const AdamOptions kAdam{1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, false};
const AdamOptions kAdamW{1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f, true};

TEST(DenseCpu, AdamAndAdamWMatchReference) {
  for (const AdamOptions& o : {kAdam, kAdamW}) {
    SCOPED_TRACE(o.decoupled_weight_decay ? "AdamW" : "Adam");
    EXPECT_TRUE(testing::all_close(run_adam(Device::cpu(), o, 4).p, reference_adam(o, 4), {1e-5, 1e-6}));
  }
}

// SGD (adagrad = false) or Adagrad over `steps` steps of random gradients; returns parameters then sums of squares.
std::vector<float> run_simple_optimizer(Device device, bool adagrad, int steps) {
  Context ctx(device);
  Uploads u{ctx, {}};
  const std::size_t n = 1000;
  const TensorView p = u.put(testing::random_floats(n, -1, 1, 90), {1000}), ss = u.put(std::vector<float>(n, 0.0f), {1000});
  for (int s = 1; s <= steps; ++s) {
    const TensorView g = u.put(testing::random_floats(n, -1, 1, 90 + static_cast<std::uint64_t>(s)), {1000});
    if (adagrad) {
      adagrad_update(ctx, p, g, ss, 0.1f, 1e-10f, 0.01f);
    } else {
      sgd_update(ctx, p, g, 0.1f, 0.01f);
    }
  }
  auto out = testing::to_host<float>(ctx, p);
  const auto state = testing::to_host<float>(ctx, ss);
  out.insert(out.end(), state.begin(), state.end());
  return out;
}

TEST(DenseCpu, SgdAndAdagradMatchReference) {
  for (const bool adagrad : {false, true}) {
    SCOPED_TRACE(adagrad ? "Adagrad" : "SGD");
    const std::size_t n = 1000;
    const auto p0 = testing::random_floats(n, -1, 1, 90);
    std::vector<double> p(p0.begin(), p0.end()), ss(n, 0.0);
    for (int s = 1; s <= 3; ++s) {
      const auto g = testing::random_floats(n, -1, 1, 90 + static_cast<std::uint64_t>(s));
      for (std::size_t i = 0; i < n; ++i) {
        const double gi = g[i] + 0.01 * p[i];
        if (adagrad) {
          ss[i] += gi * gi;
          p[i] -= 0.1 * gi / (std::sqrt(ss[i]) + 1e-10);
        } else {
          p[i] -= 0.1 * gi;
        }
      }
    }
    const auto got = run_simple_optimizer(Device::cpu(), adagrad, 3);
    EXPECT_TRUE(testing::all_close(std::vector<float>(got.begin(), got.begin() + n), p, {1e-5, 1e-6}));
    if (adagrad) {
      EXPECT_TRUE(testing::all_close(std::vector<float>(got.begin() + n, got.end()), ss, {1e-5, 1e-6}));
    }
  }
  Context ctx(Device::cpu());
  std::vector<float> a(4), b(5);
  EXPECT_THROW(sgd_update(ctx, TensorView::contiguous(a.data(), DType::kF32, Device::cpu(), {4}),
                          TensorView::contiguous(b.data(), DType::kF32, Device::cpu(), {5}), 0.1f),
               Error);
}

TEST(DenseCpu, ColumnSumAndReluBackward) {
  Context ctx(Device::cpu());
  Uploads u{ctx, {}};
  const std::int64_t rows = 1000, cols = 7;
  const auto x = testing::random_floats(static_cast<std::size_t>(rows * cols), -1, 1, 80);
  std::vector<float> out(7);
  column_sum(ctx, u.put(x, {rows, cols}), TensorView::contiguous(out.data(), DType::kF32, Device::cpu(), {cols}));
  for (std::int64_t n = 0; n < cols; ++n) {
    double s = 0;
    for (std::int64_t b = 0; b < rows; ++b) s += x[static_cast<std::size_t>(b * cols + n)];
    EXPECT_NEAR(out[static_cast<std::size_t>(n)], s, 1e-4);
  }
  // Wider than one column block of the CPU loop (64), with a partial last block and a partial last row chunk.
  const std::int64_t wide = 130, tall = 600;
  const auto y = testing::random_floats(static_cast<std::size_t>(wide * tall), -1, 1, 81);
  std::vector<float> wide_out(static_cast<std::size_t>(wide));
  column_sum(ctx, u.put(y, {tall, wide}), TensorView::contiguous(wide_out.data(), DType::kF32, Device::cpu(), {wide}));
  for (std::int64_t n = 0; n < wide; ++n) {
    double s = 0;
    for (std::int64_t b = 0; b < tall; ++b) s += y[static_cast<std::size_t>(b * wide + n)];
    EXPECT_NEAR(wide_out[static_cast<std::size_t>(n)], s, 1e-4) << "column " << n;
  }
  std::vector<float> act = {0.0f, 1.0f, -2.0f, 3.0f}, diff = {5, 6, 7, 8};
  relu_bwd(ctx, TensorView::contiguous(act.data(), DType::kF32, Device::cpu(), {2, 2}),
           TensorView::contiguous(diff.data(), DType::kF32, Device::cpu(), {2, 2}));
  EXPECT_EQ(diff, (std::vector<float>{0, 6, 0, 8}));
  std::vector<float> nan_in = {std::nanf(""), -1.0f};
  bias_relu_fwd(ctx, {}, TensorView::contiguous(nan_in.data(), DType::kF32, Device::cpu(), {1, 2}));
  EXPECT_TRUE(std::isnan(nan_in[0])) << "ReLU must let NaN through so divergence is noticed";
  EXPECT_EQ(nan_in[1], 0.0f);
}

TEST(DenseMath, ColumnSumGridStaysWithinTheDeviceLimit) {
  // 16,777,217 rows are 65,537 chunks of 256: more than a grid's y may hold; the chunk count stays exact.
  const detail::ColumnSumGrid tall = detail::column_sum_grid(16'777'217, 2, 256);
  EXPECT_EQ(tall.chunks, 65'537);
  EXPECT_EQ(tall.y, 65'535u);
  EXPECT_EQ(tall.x, 1u);
  const detail::ColumnSumGrid small = detail::column_sum_grid(1000, 700, 256);
  EXPECT_EQ(small.chunks, 4);
  EXPECT_EQ(small.y, 4u);
  EXPECT_EQ(small.x, 3u);
  EXPECT_EQ(detail::column_sum_grid(0, 5, 256).chunks, 1) << "no rows still writes one (zero) partial per column";
}

TEST(DenseCpu, ShapeErrorsAreClear) {
  Context ctx(Device::cpu());
  std::vector<float> a(12), b(12), c(12);
  const TensorView x = TensorView::contiguous(a.data(), DType::kF32, Device::cpu(), {3, 4});
  const TensorView w = TensorView::contiguous(b.data(), DType::kF32, Device::cpu(), {3, 4});
  const TensorView y = TensorView::contiguous(c.data(), DType::kF32, Device::cpu(), {3, 4});
  try {
    linear_fwd(ctx, x, w, {}, y);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.message().find("linear"), std::string::npos) << e.message();
  }
  EXPECT_THROW(adam_update(ctx, x, w, y, TensorView::contiguous(a.data(), DType::kF32, Device::cpu(), {2}), kAdam, 1), Error);
  EXPECT_THROW(adam_update(ctx, x, w, y, x, kAdam, 0), Error);
}

std::vector<float> run_fill(Device device, std::size_t n, float value) {
  Context ctx(device);
  Uploads u{ctx, {}};
  const TensorView t = u.put(testing::random_floats(n, -1, 1, 95), {static_cast<std::int64_t>(n)});
  fill(ctx, t, value);
  return testing::to_host<float>(ctx, t);
}

TEST(DenseCpu, FillWritesEveryElement) {
  for (const float value : {0.0f, -2.5f}) {
    EXPECT_EQ(run_fill(Device::cpu(), 1001, value), std::vector<float>(1001, value));
  }
  EXPECT_EQ(run_fill(Device::cpu(), 0, 1.0f), std::vector<float>());
  Context ctx(Device::cpu());
  std::vector<std::int32_t> ints(4);
  EXPECT_THROW(fill(ctx, TensorView::contiguous(ints.data(), DType::kI32, Device::cpu(), {4}), 0.0f), Error);
}

TEST(DenseCuda, FillWritesEveryElement) {
  RECKON_SKIP_WITHOUT_CUDA();
  EXPECT_EQ(run_fill(Device::cuda(0), 100003, -2.5f), std::vector<float>(100003, -2.5f));
}

TEST(DenseCuda, MatchesCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 500;
  for (const LinearCase& c : kLinearCases) {
    SCOPED_TRACE(name(c));
    stream += 10;
    const LinearResult cpu = run_linear(Device::cpu(), c, Activation::kRelu, stream);
    const LinearResult gpu = run_linear(Device::cuda(0), c, Activation::kRelu, stream);
    // Products differ in summation order only (no TF32): the fp32 bound for the reduction length.
    EXPECT_TRUE(testing::all_close(gpu.y, cpu.y, testing::fp32_tolerance(c.in, 1.0)));
    EXPECT_TRUE(testing::all_close(gpu.diff_src, cpu.diff_src, testing::fp32_tolerance(c.out, 1.0)));
    EXPECT_TRUE(testing::all_close(gpu.diff_src_added, cpu.diff_src_added, testing::fp32_tolerance(c.out + 1, 1.0)));
    EXPECT_TRUE(testing::all_close(gpu.diff_w, cpu.diff_w, testing::fp32_tolerance(c.batch, 1.0)));
    EXPECT_TRUE(testing::bitwise_equal(gpu.diff_b.data(), cpu.diff_b.data(), cpu.diff_b.size() * 4));
  }
  const auto df = run_dropout(Device::cpu(), 100003, 0.5f, 5, false), dg = run_dropout(Device::cuda(0), 100003, 0.5f, 5, false);
  EXPECT_TRUE(testing::bitwise_equal(df.data(), dg.data(), df.size() * 4));
  for (const bool adagrad : {false, true}) {
    const auto sc = run_simple_optimizer(Device::cpu(), adagrad, 3), sg = run_simple_optimizer(Device::cuda(0), adagrad, 3);
    EXPECT_TRUE(testing::bitwise_equal(sc.data(), sg.data(), sc.size() * 4)) << (adagrad ? "Adagrad" : "SGD");
  }
  const auto ac = run_adam(Device::cpu(), kAdamW, 3), ag = run_adam(Device::cuda(0), kAdamW, 3);
  EXPECT_TRUE(testing::bitwise_equal(ac.p.data(), ag.p.data(), ac.p.size() * 4));
  EXPECT_TRUE(testing::bitwise_equal(ac.v.data(), ag.v.data(), ac.v.size() * 4));
  std::vector<float> z = testing::random_floats(70000, -10, 10, 90);
  const std::vector<float> y = labels(z.size(), 91);
  const BceResult bc = run_bce(Device::cpu(), z, y, 1.0f), bg = run_bce(Device::cuda(0), z, y, 1.0f);
  // expf/log1pf differ by a few ulps between glibc and CUDA.
  EXPECT_NEAR(bg.loss, bc.loss, 1e-5 * bc.loss);
  EXPECT_TRUE(testing::all_close(bg.diff, bc.diff, {1e-5, 1e-7}));
  const std::vector<float> sp = testing::random_floats(70001, -3, 3, 92), st = testing::random_floats(70001, -3, 3, 93);
  const BceResult ec = run_squared_error(Device::cpu(), sp, st, 0.25f), eg = run_squared_error(Device::cuda(0), sp, st, 0.25f);
  EXPECT_TRUE(testing::bitwise_equal(eg.diff.data(), ec.diff.data(), ec.diff.size() * 4));  // the same rounded steps
  EXPECT_NEAR(eg.loss, ec.loss, 1e-5 * ec.loss);  // summation order
}

// Sizes past the grid's y limit in the column sum's chunks (16,777,217 rows), and the empty BCE.
TEST(DenseCuda, TallReductionsAndEmptyInputsMatchCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  const std::size_t tall = 16'777'217;
  const std::vector<float> z = testing::random_floats(tall, -10, 10, 95);
  const std::vector<float> y = labels(tall, 96);
  const BceResult bc = run_bce(Device::cpu(), z, y, 1.0f), bg = run_bce(Device::cuda(0), z, y, 1.0f);
  EXPECT_NEAR(bg.loss, bc.loss, 1e-5 * bc.loss);
  EXPECT_TRUE(testing::all_close(bg.diff, bc.diff, {1e-5, 1e-7}));
  const BceResult empty = run_bce(Device::cuda(0), {}, {}, 1.0f);
  EXPECT_EQ(empty.loss, 0.0f);
  const std::vector<float> x = testing::random_floats(tall * 2, -1, 1, 97);
  const auto sums = [&](Device device) {
    Context ctx(device);
    Uploads u{ctx, {}};
    GuardedBuffer<float> out(ctx, 2);
    column_sum(ctx, u.put(x, {static_cast<std::int64_t>(tall), 2}), out.view({2}));
    return out.download();
  };
  const std::vector<float> cpu = sums(Device::cpu()), gpu = sums(Device::cuda(0));
  EXPECT_TRUE(testing::bitwise_equal(gpu.data(), cpu.data(), 2 * sizeof(float)));
}

}  // namespace
}  // namespace reckon
