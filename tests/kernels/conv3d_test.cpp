// 3D convolution and pooling against plain double-precision references: integer-valued inputs in [-4, 4] (exact in
// f32, so every implementation must match exactly), a problem list with padding, stride, dilation, groups, odd and
// unit sizes, the 2D (D = 1) and 1D (D = H = 1) cases; gradients against finite differences; NDHWC against NCDHW;
// guarded outputs; bad shapes refused; CPU = CUDA bit for bit.
#include "reckon/kernels/conv3d/conv3d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "reckon/config.h"
#include "reckon/runtime/dispatch.h"
#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

struct ConvCase {
  std::int64_t n, c, d, h, w, k, t, r, s;
  Conv3dOptions o;
  std::string name;
};

Conv3dOptions opts(std::array<std::int64_t, 3> stride, std::array<std::int64_t, 3> pad,
                   std::array<std::int64_t, 3> dilation = {1, 1, 1}, std::int64_t groups = 1) {
  Conv3dOptions o;
  o.stride = stride;
  o.pad = pad;
  o.dilation = dilation;
  o.groups = groups;
  return o;
}

std::vector<ConvCase> cases() {
  return {
      {2, 3, 5, 6, 7, 4, 3, 3, 3, opts({1, 1, 1}, {1, 1, 1}), "same 3x3x3"},
      {1, 1, 8, 9, 10, 2, 3, 3, 5, opts({1, 1, 1}, {1, 1, 2}), "C=1, the session model's first layer"},
      {2, 4, 7, 7, 7, 6, 3, 2, 3, opts({2, 2, 3}, {1, 0, 1}), "strides"},
      {1, 2, 9, 9, 9, 3, 3, 3, 3, opts({1, 1, 1}, {2, 2, 2}, {2, 2, 2}), "dilation"},
      {2, 6, 4, 5, 6, 4, 1, 3, 3, opts({1, 1, 1}, {0, 1, 1}, {1, 1, 1}, 2), "groups"},
      {1, 4, 3, 4, 5, 4, 3, 3, 3, opts({1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 4), "depthwise"},
      {3, 5, 2, 3, 4, 1, 1, 1, 1, opts({1, 1, 1}, {0, 0, 0}), "1x1x1, K=1"},
      {2, 3, 1, 12, 11, 4, 1, 3, 3, opts({1, 2, 1}, {0, 1, 1}), "2D (D=1)"},
      {2, 3, 1, 1, 20, 2, 1, 1, 5, opts({1, 1, 2}, {0, 0, 2}), "1D (D=H=1)"},
      {1, 2, 5, 5, 5, 3, 5, 5, 5, opts({1, 1, 1}, {0, 0, 0}), "kernel = input"},
  };
}

// The list and a case of more than one block of 8 filters (19: two whole blocks and a partial one), which the
// small-channel kernels tile by.
std::vector<ConvCase> small_channel_cases() {
  std::vector<ConvCase> all = cases();
  all.push_back({2, 2, 4, 6, 40, 19, 3, 3, 3, opts({1, 1, 1}, {1, 1, 1}), "19 filters, W 40"});
  return all;
}

std::vector<float> integers(std::size_t n, std::uint64_t stream) {
  std::vector<float> v = testing::random_floats(n, -4.5f, 4.5f, stream);
  for (float& x : v) x = std::round(x);
  return v;
}

Conv3dShape shape_of(const ConvCase& c) {
  Conv3dShape s;
  s.n = c.n, s.c = c.c, s.d = c.d, s.h = c.h, s.w = c.w, s.k = c.k, s.t = c.t, s.r = c.r, s.s = c.s;
  s.groups = c.o.groups;
  const auto out = [](std::int64_t in, std::int64_t taps, std::int64_t stride, std::int64_t pad, std::int64_t dil) {
    return (in + 2 * pad - dil * (taps - 1) - 1) / stride + 1;
  };
  s.z = out(c.d, c.t, c.o.stride[0], c.o.pad[0], c.o.dilation[0]);
  s.p = out(c.h, c.r, c.o.stride[1], c.o.pad[1], c.o.dilation[1]);
  s.q = out(c.w, c.s, c.o.stride[2], c.o.pad[2], c.o.dilation[2]);
  return s;
}

// Every product of the definition in conv3d.h (NCDHW): visit(output index, weight index, input index).
template <typename Visit>
void for_each_product(const ConvCase& c, Visit visit) {
  const Conv3dShape s = shape_of(c);
  const std::int64_t cg = s.c / s.groups, kg = s.k / s.groups;
  std::size_t o = 0;
  for (std::int64_t n = 0; n < s.n; ++n)
    for (std::int64_t k = 0; k < s.k; ++k)
      for (std::int64_t z = 0; z < s.z; ++z)
        for (std::int64_t p = 0; p < s.p; ++p)
          for (std::int64_t q = 0; q < s.q; ++q, ++o)
            for (std::int64_t ci = 0; ci < cg; ++ci)
              for (std::int64_t t = 0; t < s.t; ++t)
                for (std::int64_t r = 0; r < s.r; ++r)
                  for (std::int64_t ss = 0; ss < s.s; ++ss) {
                    const std::int64_t d = z * c.o.stride[0] - c.o.pad[0] + t * c.o.dilation[0];
                    const std::int64_t h = p * c.o.stride[1] - c.o.pad[1] + r * c.o.dilation[1];
                    const std::int64_t ww = q * c.o.stride[2] - c.o.pad[2] + ss * c.o.dilation[2];
                    if (d < 0 || d >= s.d || h < 0 || h >= s.h || ww < 0 || ww >= s.w) continue;
                    const auto wi = static_cast<std::size_t>((((k * cg + ci) * s.t + t) * s.r + r) * s.s + ss);
                    const auto xi =
                        static_cast<std::size_t>((((n * s.c + (k / kg) * cg + ci) * s.d + d) * s.h + h) * s.w + ww);
                    visit(o, wi, xi);
                  }
}

// The definition, in double.
std::vector<double> reference_fwd(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                                  const std::vector<float>& bias) {
  const Conv3dShape s = shape_of(c);
  std::vector<double> y(static_cast<std::size_t>(s.n * s.k * s.z * s.p * s.q));
  if (!bias.empty()) {
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = bias[(i / static_cast<std::size_t>(s.z * s.p * s.q)) % static_cast<std::size_t>(s.k)];
  }
  for_each_product(c, [&](std::size_t o, std::size_t wi, std::size_t xi) { y[o] += double{w[wi]} * x[xi]; });
  return y;
}

// dx and dw of the definition, by scattering every product of the forward (double).
void reference_bwd(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                   const std::vector<float>& dy, std::vector<double>& dx, std::vector<double>& dw) {
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  for_each_product(c, [&](std::size_t o, std::size_t wi, std::size_t xi) {
    dx[xi] += double{w[wi]} * dy[o];
    dw[wi] += double{x[xi]} * dy[o];
  });
}

std::int64_t numel(std::initializer_list<std::int64_t> sizes) {
  std::int64_t n = 1;
  for (auto s : sizes) n *= s;
  return n;
}

struct ConvRun {
  std::vector<float> y, dx, dw, dbias;
};

// Forward, data and weight gradients on a device, NCDHW, outputs guarded.
ConvRun run_conv(Device device, ConvCase c, const std::vector<float>& x, const std::vector<float>& w,
                 const std::vector<float>& bias, const std::vector<float>& dy, const char* implementation = nullptr) {
  Context ctx(device);
  c.o.implementation = implementation;
  const Conv3dShape s = shape_of(c);
  const auto put = [&](const std::vector<float>& host, std::initializer_list<std::int64_t> sizes) {
    GuardedBuffer<float> b(ctx, host.size());
    copy_bytes(ctx, b.data(), ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(float));
    ctx.synchronize();
    (void)sizes;
    return b;
  };
  GuardedBuffer<float> xb = put(x, {}), wb = put(w, {}), bb = put(bias, {}), dyb = put(dy, {});
  GuardedBuffer<float> y(ctx, static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q}))),
      dx(ctx, x.size()), dw(ctx, w.size()), db(ctx, bias.size());
  const TensorView xv = xb.view({s.n, s.c, s.d, s.h, s.w}), wv = wb.view({s.k, s.c / s.groups, s.t, s.r, s.s});
  const TensorView dyv = dyb.view({s.n, s.k, s.z, s.p, s.q});
  conv3d_fwd(ctx, xv, wv, bb.view({s.k}), y.view({s.n, s.k, s.z, s.p, s.q}), c.o);
  conv3d_bwd_data(ctx, dyv, wv, dx.view({s.n, s.c, s.d, s.h, s.w}), c.o);
  conv3d_bwd_weights(ctx, xv, dyv, dw.view({s.k, s.c / s.groups, s.t, s.r, s.s}), db.view({s.k}), c.o);
  return {y.download(), dx.download(), dw.download(), db.download()};
}

// The CPU implementations this build has.
std::vector<const char*> cpu_implementations() {
  std::vector<const char*> out{"cpu_direct", "cpu_im2col"};
  if (RECKON_WITH_ONEDNN) {
    out.push_back("cpu_onednn");
    out.push_back("cpu_onednn_plain");
  }
  return out;
}

void expect_the_definition(const char* implementation) {
  SCOPED_TRACE(implementation);
  std::uint64_t stream = 0;
  for (const ConvCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const Conv3dShape s = shape_of(c);
    const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), ++stream);
    const auto w = integers(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), ++stream);
    const auto bias = integers(static_cast<std::size_t>(s.k), ++stream);
    const auto dy = integers(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), ++stream);
    const ConvRun got = run_conv(Device::cpu(), c, x, w, bias, dy, implementation);
    EXPECT_TRUE(testing::all_close(got.y, reference_fwd(c, x, w, bias), testing::kExact));
    std::vector<double> dx, dw;
    reference_bwd(c, x, w, dy, dx, dw);
    EXPECT_TRUE(testing::all_close(got.dx, dx, testing::kExact));
    EXPECT_TRUE(testing::all_close(got.dw, dw, testing::kExact));
    // The gradients are the forward's adjoints: <dy, conv(x, w)> = <dx(dy, w), x> = <dw(x, dy), w>.
    const std::vector<double> y0 = reference_fwd(c, x, w, {});
    double forward = 0, data = 0, weights = 0, bias_sum = 0, dbias_sum = 0;
    for (std::size_t i = 0; i < dy.size(); ++i) forward += double{dy[i]} * y0[i];
    for (std::size_t i = 0; i < x.size(); ++i) data += double{got.dx[i]} * x[i];
    for (std::size_t i = 0; i < w.size(); ++i) weights += double{got.dw[i]} * w[i];
    for (float v : dy) bias_sum += v;
    for (float v : got.dbias) dbias_sum += v;
    EXPECT_EQ(data, forward);
    EXPECT_EQ(weights, forward);
    EXPECT_EQ(dbias_sum, bias_sum);
  }
}

TEST(Conv3dCpu, IntegerInputsMatchTheDefinitionExactly) {
  RECKON_TRACE_SEED();
  for (const char* implementation : cpu_implementations()) expect_the_definition(implementation);
}

// Each gradient element against a central difference of the double reference (the convolution is linear, so the
// difference is exact up to rounding of the inputs): non-integer inputs, a sample of elements.
TEST(Conv3dCpu, GradientsAreTheFiniteDifferences) {
  const ConvCase c = cases()[2];  // strides and padding
  const Conv3dShape s = shape_of(c);
  auto x = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), -1, 1, 41);
  auto w = testing::random_floats(static_cast<std::size_t>(numel({s.k, s.c, s.t, s.r, s.s})), -1, 1, 42);
  const auto dy = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), -1, 1, 43);
  const ConvRun got = run_conv(Device::cpu(), c, x, w, std::vector<float>(static_cast<std::size_t>(s.k), 0.0f), dy);
  const auto objective = [&](const std::vector<float>& xs, const std::vector<float>& ws) {
    const std::vector<double> y = reference_fwd(c, xs, ws, {});
    double sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += dy[i] * y[i];
    return sum;
  };
  const auto check = [&](std::vector<float>& v, const std::vector<float>& grad, bool is_x, const char* what) {
    for (std::size_t i = 0; i < v.size(); i += 7) {
      const float keep = v[i];
      v[i] = keep + 0.25f;
      const double plus = is_x ? objective(v, w) : objective(x, v);
      v[i] = keep - 0.25f;
      const double minus = is_x ? objective(v, w) : objective(x, v);
      v[i] = keep;
      EXPECT_NEAR(grad[i], (plus - minus) / 0.5, 1e-4 * (1 + std::abs(grad[i]))) << what << " " << i;
    }
  };
  check(x, got.dx, true, "dx");
  check(w, got.dw, false, "dw");
}

void expect_channels_last_agrees(const char* implementation);

// NDHWC (and its [K, T, R, S, Cg] filters) gives NCDHW's results, transposed.
TEST(Conv3dCpu, ChannelsLastIsTheSameConvolution) {
  for (const char* implementation : cpu_implementations()) {
    SCOPED_TRACE(implementation);
    expect_channels_last_agrees(implementation);
  }
}

void expect_channels_last_agrees(const char* implementation) {
  for (const ConvCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const Conv3dShape s = shape_of(c);
    const std::int64_t cg = s.c / s.groups;
    const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), 51);
    const auto w = integers(static_cast<std::size_t>(numel({s.k, cg, s.t, s.r, s.s})), 52);
    const auto dy = integers(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), 53);
    const ConvRun want = run_conv(Device::cpu(), c, x, w, std::vector<float>(static_cast<std::size_t>(s.k), 1.0f), dy);
    // [A, C, B...] -> [A, B..., C] for volumes; [K, Cg, T, R, S] -> [K, T, R, S, Cg] for filters.
    const auto last = [](const std::vector<float>& v, std::int64_t a, std::int64_t ch, std::int64_t inner) {
      std::vector<float> out(v.size());
      for (std::int64_t i = 0; i < a; ++i)
        for (std::int64_t j = 0; j < ch; ++j)
          for (std::int64_t e = 0; e < inner; ++e)
            out[static_cast<std::size_t>((i * inner + e) * ch + j)] = v[static_cast<std::size_t>((i * ch + j) * inner + e)];
      return out;
    };
    Context ctx(Device::cpu());
    Conv3dOptions o = c.o;
    o.layout = ConvLayout::kNdhwc;
    o.implementation = implementation;
    std::vector<float> xl = last(x, s.n, s.c, s.d * s.h * s.w), wl = last(w, s.k, cg, s.t * s.r * s.s);
    std::vector<float> dyl = last(dy, s.n, s.k, s.z * s.p * s.q), bias(static_cast<std::size_t>(s.k), 1.0f);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
    const auto v = [](std::vector<float>& data, std::initializer_list<std::int64_t> sizes) {
      return TensorView::contiguous(data.data(), DType::kF32, Device::cpu(), sizes);
    };
    conv3d_fwd(ctx, v(xl, {s.n, s.d, s.h, s.w, s.c}), v(wl, {s.k, s.t, s.r, s.s, cg}), v(bias, {s.k}),
               v(y, {s.n, s.z, s.p, s.q, s.k}), o);
    conv3d_bwd_data(ctx, v(dyl, {s.n, s.z, s.p, s.q, s.k}), v(wl, {s.k, s.t, s.r, s.s, cg}),
                    v(dx, {s.n, s.d, s.h, s.w, s.c}), o);
    conv3d_bwd_weights(ctx, v(xl, {s.n, s.d, s.h, s.w, s.c}), v(dyl, {s.n, s.z, s.p, s.q, s.k}),
                       v(dw, {s.k, s.t, s.r, s.s, cg}), {}, o);
    EXPECT_EQ(y, last(want.y, s.n, s.k, s.z * s.p * s.q));
    EXPECT_EQ(dx, last(want.dx, s.n, s.c, s.d * s.h * s.w));
    EXPECT_EQ(dw, last(want.dw, s.k, cg, s.t * s.r * s.s));
  }
}

// The autotuner picks one of the implementations that accept the problem, remembers it (also in the file named by
// RECKON_CONV_TUNING), and the result is the definition's.
TEST(Conv3dCpu, AutotunedCallsUseTheFastestAndRememberIt) {
  const std::string file = testing::temp_dir("conv3d_tuning") + "/tuning.tsv";
  ::setenv("RECKON_CONV_TUNING", file.c_str(), 1);
  ConvCase c = cases()[3];  // dilation: a shape no other test tunes
  c.o.autotune = true;
  const Conv3dShape s = shape_of(c);
  const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), 65);
  const auto w = integers(static_cast<std::size_t>(numel({s.k, s.c, s.t, s.r, s.s})), 66);
  const auto bias = integers(static_cast<std::size_t>(s.k), 67);
  const auto dy = integers(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), 68);
  for (int round = 0; round < 2; ++round) {
    const ConvRun got = run_conv(Device::cpu(), c, x, w, bias, dy);
    EXPECT_TRUE(testing::all_close(got.y, reference_fwd(c, x, w, bias), testing::kExact));
    const std::string chosen = last_dispatch("conv3d").implementation;
    bool known = false;
    for (const char* name : cpu_implementations()) known = known || chosen == name;
    EXPECT_TRUE(known) << chosen;
  }
  std::ifstream in(file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("cpu op"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 3);  // forward, data and weight gradients, each tuned once
  ::unsetenv("RECKON_CONV_TUNING");
}

// The small-channel forward takes the direct loop's taps in its order with the same fused multiply-adds.
TEST(Conv3dCpu, SmallChannelForwardIsTheDirectLoopBitForBit) {
  std::uint64_t stream = 400;
  for (ConvCase c : small_channel_cases()) {
    if (c.c / c.o.groups > 4 || c.o.stride[2] != 1) continue;
    SCOPED_TRACE(c.name);
    c.o.activation = Activation::kRelu;
    const Conv3dShape s = shape_of(c);
    auto x = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), -1, 1, ++stream);
    auto w = testing::random_floats(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), -1, 1,
                                    ++stream);
    auto bias = testing::random_floats(static_cast<std::size_t>(s.k), -1, 1, ++stream);
    const auto v = [](std::vector<float>& data, std::initializer_list<std::int64_t> sizes) {
      return TensorView::contiguous(data.data(), DType::kF32, Device::cpu(), sizes);
    };
    Context ctx(Device::cpu());
    std::vector<float> want(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q}))), got(want.size());
    Conv3dOptions o = c.o;
    o.implementation = "cpu_direct";
    conv3d_fwd(ctx, v(x, {s.n, s.c, s.d, s.h, s.w}), v(w, {s.k, s.c / s.groups, s.t, s.r, s.s}), v(bias, {s.k}),
               v(want, {s.n, s.k, s.z, s.p, s.q}), o);
    o.implementation = "cpu_small_channels";
    conv3d_fwd(ctx, v(x, {s.n, s.c, s.d, s.h, s.w}), v(w, {s.k, s.c / s.groups, s.t, s.r, s.s}), v(bias, {s.k}),
               v(got, {s.n, s.k, s.z, s.p, s.q}), o);
    EXPECT_EQ(got, want);
  }
}

TEST(Conv3dCpu, BiasAndReluAreFused) {
  const ConvCase c = cases()[0];
  const Conv3dShape s = shape_of(c);
  const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), 61);
  const auto w = integers(static_cast<std::size_t>(numel({s.k, s.c, s.t, s.r, s.s})), 62);
  std::vector<float> bias = integers(static_cast<std::size_t>(s.k), 63), y(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})));
  Context ctx(Device::cpu());
  Conv3dOptions o = c.o;
  o.activation = Activation::kRelu;
  std::vector<float> xs = x, ws = w;
  conv3d_fwd(ctx, TensorView::contiguous(xs.data(), DType::kF32, Device::cpu(), {s.n, s.c, s.d, s.h, s.w}),
             TensorView::contiguous(ws.data(), DType::kF32, Device::cpu(), {s.k, s.c, s.t, s.r, s.s}),
             TensorView::contiguous(bias.data(), DType::kF32, Device::cpu(), {s.k}),
             TensorView::contiguous(y.data(), DType::kF32, Device::cpu(), {s.n, s.k, s.z, s.p, s.q}), o);
  std::vector<double> want = reference_fwd(c, x, w, bias);
  for (double& v : want) v = std::max(v, 0.0);
  EXPECT_TRUE(testing::all_close(y, want, testing::kExact));
}

TEST(Conv3dCpu, BadShapesAreRefusedBeforeAnyWork) {
  Context ctx(Device::cpu());
  std::vector<float> buf(4096, 0.0f);
  const auto v = [&](std::initializer_list<std::int64_t> sizes) {
    return TensorView::contiguous(buf.data(), DType::kF32, Device::cpu(), sizes);
  };
  const auto refused = [&](const TensorView& x, const TensorView& w, const TensorView& y, const Conv3dOptions& o,
                           const std::string& needle) {
    try {
      conv3d_fwd(ctx, x, w, {}, y, o);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
    }
  };
  const Conv3dOptions plain;
  refused(v({1, 2, 3, 3, 3}), v({4, 2, 5, 3, 3}), v({1, 4, 1, 1, 1}), plain, "no output");
  refused(v({1, 2, 3, 3, 3}), v({4, 3, 3, 3, 3}), v({1, 4, 1, 1, 1}), plain, "input channels");
  refused(v({1, 3, 3, 3, 3}), v({4, 1, 3, 3, 3}), v({1, 4, 1, 1, 1}), opts({1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 2),
          "groups must divide");
  refused(v({1, 2, 3, 3}), v({4, 2, 3, 3, 3}), v({1, 4, 1, 1, 1}), plain, "5 dimensions");
  refused(v({1, 2, 3, 3, 3}), v({4, 2, 3, 3, 3}), v({1, 4, 2, 1, 1}), plain, "conv3d y must be [1, 4, 1, 1, 1]");
  refused(v({1, 2, 3, 3, 3}), v({4, 2, 3, 3, 3}), v({1, 4, 1, 1, 1}), opts({0, 1, 1}, {0, 0, 0}), "stride");
  refused(v({1, 2, 3, 3, 3}), v({4, 2, 3, 3, 3}), v({1, 4, 1, 1, 1}), opts({1, 1, 1}, {-1, 0, 0}), "padding");
}

// Pooling against a plain reference: max (with argmax) and both averages, with stride and padding.
struct PoolRef {
  std::vector<double> y;
  std::vector<std::int32_t> argmax;
};

PoolRef reference_pool(const std::vector<float>& x, std::array<std::int64_t, 5> in, std::array<std::int64_t, 5> out,
                       const Pool3dOptions& o) {
  PoolRef ref;
  for (std::int64_t nc = 0; nc < in[0] * in[1]; ++nc)
    for (std::int64_t z = 0; z < out[2]; ++z)
      for (std::int64_t p = 0; p < out[3]; ++p)
        for (std::int64_t q = 0; q < out[4]; ++q) {
          double best = -INFINITY, sum = 0;
          std::int32_t arg = -1;
          std::int64_t inside = 0;
          const std::int64_t at[3] = {z, p, q};
          for (std::int64_t t = 0; t < o.kernel[0]; ++t)
            for (std::int64_t r = 0; r < o.kernel[1]; ++r)
              for (std::int64_t s = 0; s < o.kernel[2]; ++s) {
                const std::int64_t tap[3] = {t, r, s};
                std::int64_t pos[3];
                bool ok = true;
                for (int i = 0; i < 3; ++i) {
                  const std::int64_t stride = o.stride[i] > 0 ? o.stride[i] : o.kernel[i];
                  pos[i] = at[i] * stride - o.pad[i] + tap[i];
                  ok = ok && pos[i] >= 0 && pos[i] < in[2 + i];
                }
                if (!ok) continue;
                const auto flat = static_cast<std::int32_t>((pos[0] * in[3] + pos[1]) * in[4] + pos[2]);
                const double v = x[static_cast<std::size_t>(nc * in[2] * in[3] * in[4] + flat)];
                ++inside;
                sum += v;
                if (arg < 0 || v > best) best = v, arg = flat;
              }
          const double divisor = o.count_include_pad ? static_cast<double>(o.kernel[0] * o.kernel[1] * o.kernel[2])
                                                     : static_cast<double>(inside);
          ref.y.push_back(o.mode == PoolMode::kMax ? best : sum / divisor);
          ref.argmax.push_back(arg);
        }
  return ref;
}

std::vector<Pool3dOptions> pool_cases() {
  std::vector<Pool3dOptions> out;
  for (const PoolMode mode : {PoolMode::kMax, PoolMode::kAverage}) {
    for (const bool include : {true, false}) {
      Pool3dOptions o;
      o.mode = mode;
      o.count_include_pad = include;
      o.kernel = {3, 2, 3};
      o.stride = {2, 1, 2};
      o.pad = {1, 1, 1};
      out.push_back(o);
      o.kernel = {2, 2, 2};
      o.stride = {0, 0, 0};
      o.pad = {0, 0, 0};
      out.push_back(o);
    }
  }
  return out;
}

struct PoolRun {
  std::vector<float> y, dx;
  std::vector<std::int32_t> argmax;
};

PoolRun run_pool(Device device, const std::vector<float>& x, std::array<std::int64_t, 5> in,
                 const std::vector<float>& dy, const Pool3dOptions& o) {
  Context ctx(device);
  GuardedBuffer<float> xb(ctx, x.size()), dyb(ctx, dy.size()), y(ctx, dy.size()), dx(ctx, x.size());
  GuardedBuffer<std::int32_t> arg(ctx, dy.size());
  copy_bytes(ctx, xb.data(), ctx.device(), x.data(), Device::cpu(), x.size() * 4);
  copy_bytes(ctx, dyb.data(), ctx.device(), dy.data(), Device::cpu(), dy.size() * 4);
  const TensorView xv = xb.view({in[0], in[1], in[2], in[3], in[4]});
  const auto out = pool3d_output_sizes(xv, o);
  const bool last = o.layout == ConvLayout::kNdhwc;  // out is [N, C, Z, P, Q] in either layout
  const auto ov = [&](auto& b) {
    return last ? b.view({out[0], out[2], out[3], out[4], out[1]}) : b.view({out[0], out[1], out[2], out[3], out[4]});
  };
  pool3d_fwd(ctx, xv, ov(y), ov(arg), o);
  pool3d_bwd(ctx, ov(dyb), ov(arg), dx.view({in[0], in[1], in[2], in[3], in[4]}), o);
  return {y.download(), dx.download(), arg.download()};
}

TEST(Pool3dCpu, MaxAndAverageMatchTheDefinition) {
  const std::array<std::int64_t, 5> in{2, 3, 5, 4, 6};
  const auto x = testing::random_floats(static_cast<std::size_t>(2 * 3 * 5 * 4 * 6), -1, 1, 71);
  for (const Pool3dOptions& o : pool_cases()) {
    SCOPED_TRACE(std::to_string(static_cast<int>(o.mode)) + (o.count_include_pad ? " include pad" : " exclude pad") +
                 " kernel " + std::to_string(o.kernel[0]));
    Context ctx(Device::cpu());
    std::vector<float> xs = x;
    const auto out = pool3d_output_sizes(TensorView::contiguous(xs.data(), DType::kF32, Device::cpu(),
                                                                {in[0], in[1], in[2], in[3], in[4]}), o);
    const PoolRef ref = reference_pool(x, in, out, o);
    const auto dy = testing::random_floats(ref.y.size(), -1, 1, 72);
    const PoolRun got = run_pool(Device::cpu(), x, in, dy, o);
    EXPECT_TRUE(testing::all_close(got.y, ref.y, {1e-6, 1e-7}));
    if (o.mode == PoolMode::kMax) {
      EXPECT_EQ(got.argmax, ref.argmax);
    }
    // The backward is the forward's adjoint: <dy, pool(x)> is linear in x for the average, and for max at fixed
    // argmax; check <dx, x> against <dy, y>.
    double lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < x.size(); ++i) lhs += double{got.dx[i]} * x[i];
    for (std::size_t i = 0; i < dy.size(); ++i) rhs += double{dy[i]} * got.y[i];
    EXPECT_NEAR(lhs, rhs, 1e-4);
  }
}

// [N, C, spatial] -> [N, spatial, C].
template <typename T>
std::vector<T> to_channels_last(const std::vector<T>& v, std::int64_t n, std::int64_t c, std::int64_t spatial) {
  std::vector<T> out(v.size());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t k = 0; k < c; ++k) {
      for (std::int64_t j = 0; j < spatial; ++j) out[static_cast<std::size_t>((i * spatial + j) * c + k)] = v[static_cast<std::size_t>((i * c + k) * spatial + j)];
    }
  }
  return out;
}

// NDHWC pools (forward, argmax and backward) as NCDHW does, transposed.
TEST(Pool3dCpu, ChannelsLastIsTheSamePool) {
  const std::array<std::int64_t, 5> in{2, 3, 5, 4, 6}, in_last{2, 5, 4, 6, 3};
  const auto x = testing::random_floats(static_cast<std::size_t>(2 * 3 * 5 * 4 * 6), -1, 1, 73);
  for (Pool3dOptions o : pool_cases()) {
    SCOPED_TRACE(std::to_string(static_cast<int>(o.mode)) + " kernel " + std::to_string(o.kernel[0]));
    std::vector<float> xs = x;
    const auto out = pool3d_output_sizes(TensorView::contiguous(xs.data(), DType::kF32, Device::cpu(),
                                                                {in[0], in[1], in[2], in[3], in[4]}), o);
    const std::int64_t outputs = out[2] * out[3] * out[4];
    const auto dy = testing::random_floats(static_cast<std::size_t>(out[0] * out[1] * outputs), -1, 1, 74);
    const PoolRun want = run_pool(Device::cpu(), x, in, dy, o);
    o.layout = ConvLayout::kNdhwc;
    const PoolRun got = run_pool(Device::cpu(), to_channels_last(x, 2, 3, 5 * 4 * 6), in_last,
                                 to_channels_last(dy, 2, 3, outputs), o);
    EXPECT_EQ(got.y, to_channels_last(want.y, 2, 3, outputs));
    EXPECT_EQ(got.dx, to_channels_last(want.dx, 2, 3, 5 * 4 * 6));
    if (o.mode == PoolMode::kMax) {
      EXPECT_EQ(got.argmax, to_channels_last(want.argmax, 2, 3, outputs));
    }
  }
}

TEST(Pool3dCpu, BadWindowsAreRefused) {
  std::vector<float> x(60);
  const TensorView v = TensorView::contiguous(x.data(), DType::kF32, Device::cpu(), {1, 1, 3, 4, 5});
  Pool3dOptions o;
  o.kernel = {4, 2, 2};
  EXPECT_THROW((void)pool3d_output_sizes(v, o), Error);  // the window is larger than D
  o.kernel = {2, 2, 2};
  o.pad = {2, 0, 0};
  EXPECT_THROW((void)pool3d_output_sizes(v, o), Error);  // padding beyond half the window
  o.pad = {0, 0, 0};
  Context ctx(Device::cpu());
  std::vector<float> y(4), dx(60);
  EXPECT_THROW(pool3d_bwd(ctx, TensorView::contiguous(y.data(), DType::kF32, Device::cpu(), {1, 1, 1, 2, 2}), {},
                          TensorView::contiguous(dx.data(), DType::kF32, Device::cpu(), {1, 1, 3, 4, 5}), o),
               Error);  // max without the forward's argmax
}

// Masked global pooling: only the first lengths[n] positions along D count; 0 gives 0 and no gradient; lengths past
// D count as D.
TEST(GlobalPool3dCpu, MaskedByLengths) {
  const std::int64_t N = 4, C = 3, D = 5, H = 2, W = 3;
  auto x = testing::random_floats(static_cast<std::size_t>(N * C * D * H * W), -1, 1, 81);
  std::vector<std::int32_t> lengths = {5, 2, 0, 9};
  const auto dy = testing::random_floats(static_cast<std::size_t>(N * C), -1, 1, 82);
  for (const PoolMode mode : {PoolMode::kMax, PoolMode::kAverage}) {
    Context ctx(Device::cpu());
    std::vector<float> y(static_cast<std::size_t>(N * C)), dx(x.size());
    std::vector<std::int32_t> argmax(y.size());
    std::vector<float> dys = dy;
    const TensorView lv = TensorView::contiguous(lengths.data(), DType::kI32, Device::cpu(), {N});
    global_pool3d_fwd(ctx, TensorView::contiguous(x.data(), DType::kF32, Device::cpu(), {N, C, D, H, W}), lv,
                      TensorView::contiguous(y.data(), DType::kF32, Device::cpu(), {N, C}),
                      TensorView::contiguous(argmax.data(), DType::kI32, Device::cpu(), {N, C}), mode);
    global_pool3d_bwd(ctx, TensorView::contiguous(dys.data(), DType::kF32, Device::cpu(), {N, C}), lv,
                      TensorView::contiguous(argmax.data(), DType::kI32, Device::cpu(), {N, C}),
                      TensorView::contiguous(dx.data(), DType::kF32, Device::cpu(), {N, C, D, H, W}), mode);
    for (std::int64_t n = 0; n < N; ++n) {
      const std::int64_t len = std::min<std::int64_t>(lengths[static_cast<std::size_t>(n)], D);
      for (std::int64_t c = 0; c < C; ++c) {
        double best = -INFINITY, sum = 0, grad = 0;
        for (std::int64_t i = 0; i < D * H * W; ++i) {
          const std::size_t at = static_cast<std::size_t>((n * C + c) * D * H * W + i);
          grad += dx[at];
          if (i / (H * W) >= len) {
            EXPECT_EQ(dx[at], 0.0f);  // padded positions get no gradient
            continue;
          }
          best = std::max(best, double{x[at]});
          sum += x[at];
        }
        const double want = len == 0 ? 0.0 : mode == PoolMode::kMax ? best : sum / static_cast<double>(len * H * W);
        EXPECT_NEAR(y[static_cast<std::size_t>(n * C + c)], want, 1e-6) << n << " " << c;
        EXPECT_NEAR(grad, len == 0 ? 0.0 : dy[static_cast<std::size_t>(n * C + c)], 1e-5) << n << " " << c;
      }
    }
  }
}

// The channels-last global max (its own CPU loop) gives the channels-first one's values and argmax, ties (the first
// wins) and NaN (it wins over numbers) included.
TEST(GlobalPool3dCpu, ChannelsLastMaxIsTheChannelsFirstMax) {
  const std::int64_t N = 3, C = 5, D = 4, H = 3, W = 1;
  auto x = testing::random_floats(static_cast<std::size_t>(N * C * D * H * W), -1, 1, 83);
  x[7] = x[8] = 5.0f;                // a tie in sample 0, channel 0
  x[D * H * W + 4] = NAN;            // a NaN in sample 0, channel 1
  std::vector<std::int32_t> lengths = {4, 1, 0};
  std::vector<float> last(x.size());  // NCDHW -> NDHWC
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t c = 0; c < C; ++c) {
      for (std::int64_t i = 0; i < D * H * W; ++i) last[static_cast<std::size_t>((n * D * H * W + i) * C + c)] = x[static_cast<std::size_t>((n * C + c) * D * H * W + i)];
    }
  }
  Context ctx(Device::cpu());
  const TensorView lv = TensorView::contiguous(lengths.data(), DType::kI32, Device::cpu(), {N});
  std::vector<float> y_first(static_cast<std::size_t>(N * C)), y_last(y_first.size());
  std::vector<std::int32_t> a_first(y_first.size()), a_last(y_first.size());
  global_pool3d_fwd(ctx, TensorView::contiguous(x.data(), DType::kF32, Device::cpu(), {N, C, D, H, W}), lv,
                    TensorView::contiguous(y_first.data(), DType::kF32, Device::cpu(), {N, C}),
                    TensorView::contiguous(a_first.data(), DType::kI32, Device::cpu(), {N, C}), PoolMode::kMax);
  global_pool3d_fwd(ctx, TensorView::contiguous(last.data(), DType::kF32, Device::cpu(), {N, D, H, W, C}), lv,
                    TensorView::contiguous(y_last.data(), DType::kF32, Device::cpu(), {N, C}),
                    TensorView::contiguous(a_last.data(), DType::kI32, Device::cpu(), {N, C}), PoolMode::kMax,
                    ConvLayout::kNdhwc);
  EXPECT_EQ(a_last, a_first);
  EXPECT_EQ(a_first[0], 7);
  EXPECT_TRUE(std::isnan(y_last[1]));
  for (std::size_t i = 0; i < y_first.size(); ++i) {
    if (!std::isnan(y_first[i])) {
      EXPECT_EQ(y_last[i], y_first[i]) << i;
    }
  }
  EXPECT_EQ(y_last[static_cast<std::size_t>(2 * C)], 0.0f);  // length 0
}

TEST(Conv3dCuda, BitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  std::uint64_t stream = 100;
  for (const ConvCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const Conv3dShape s = shape_of(c);
    const auto x = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), -1, 1, ++stream);
    const auto w = testing::random_floats(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), -1,
                                          1, ++stream);
    const auto bias = testing::random_floats(static_cast<std::size_t>(s.k), -1, 1, ++stream);
    const auto dy = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), -1, 1, ++stream);
    const ConvRun cpu = run_conv(Device::cpu(), c, x, w, bias, dy, "cpu_direct");
    const ConvRun gpu = run_conv(Device::cuda(0), c, x, w, bias, dy, "cuda_direct");
    EXPECT_EQ(gpu.y, cpu.y);
    EXPECT_EQ(gpu.dx, cpu.dx);
    EXPECT_EQ(gpu.dw, cpu.dw);
    EXPECT_EQ(gpu.dbias, cpu.dbias);
  }
}

// cuDNN in FMA math with deterministic algorithms: exact on integer inputs, like every implementation. A problem it
// refuses is reported, not failed (the dispatcher then falls back to the direct kernel).
TEST(Conv3dCuda, CudnnMatchesTheDefinition) {
  RECKON_SKIP_WITHOUT_CUDA();
  if (!RECKON_WITH_CUDNN) GTEST_SKIP() << "this build has no cuDNN";
  std::uint64_t stream = 200;
  for (const ConvCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const Conv3dShape s = shape_of(c);
    const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), ++stream);
    const auto w = integers(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), ++stream);
    const auto bias = integers(static_cast<std::size_t>(s.k), ++stream);
    const auto dy = integers(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), ++stream);
    try {
      const ConvRun got = run_conv(Device::cuda(0), c, x, w, bias, dy, "cuda_cudnn");
      EXPECT_TRUE(testing::all_close(got.y, reference_fwd(c, x, w, bias), testing::kExact));
      std::vector<double> dx, dw;
      reference_bwd(c, x, w, dy, dx, dw);
      EXPECT_TRUE(testing::all_close(got.dx, dx, testing::kExact));
      EXPECT_TRUE(testing::all_close(got.dw, dw, testing::kExact));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kUnsupported) << e.what();
      std::printf("cuDNN refused %s: %s\n", c.name.c_str(), e.message().c_str());
    }
  }
}

// The implicit-GEMM forward, data and weight gradients (split-K) sum in another order than the direct kernels:
// exact on integer inputs, which TF32 holds exactly too.
void expect_implicit_gemm_exact(const char* implementation, ConvMath math) {
  std::uint64_t stream = 300;
  for (const ConvCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const Conv3dShape s = shape_of(c);
    const auto x = integers(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), ++stream);
    const auto w = integers(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), ++stream);
    const auto bias = integers(static_cast<std::size_t>(s.k), ++stream);
    Context ctx(Device::cuda(0));
    GuardedBuffer<float> xb(ctx, x.size()), wb(ctx, w.size()), bb(ctx, bias.size());
    GuardedBuffer<float> y(ctx, static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})));
    copy_bytes(ctx, xb.data(), ctx.device(), x.data(), Device::cpu(), x.size() * 4);
    copy_bytes(ctx, wb.data(), ctx.device(), w.data(), Device::cpu(), w.size() * 4);
    copy_bytes(ctx, bb.data(), ctx.device(), bias.data(), Device::cpu(), bias.size() * 4);
    Conv3dOptions o = c.o;
    o.implementation = implementation;
    o.math = math;
    conv3d_fwd(ctx, xb.view({s.n, s.c, s.d, s.h, s.w}), wb.view({s.k, s.c / s.groups, s.t, s.r, s.s}),
               bb.view({s.k}), y.view({s.n, s.k, s.z, s.p, s.q}), o);
    EXPECT_TRUE(testing::all_close(y.download(), reference_fwd(c, x, w, bias), testing::kExact));
    const auto dy = integers(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), ++stream);
    GuardedBuffer<float> dyb(ctx, dy.size()), dx(ctx, x.size());
    copy_bytes(ctx, dyb.data(), ctx.device(), dy.data(), Device::cpu(), dy.size() * 4);
    conv3d_bwd_data(ctx, dyb.view({s.n, s.k, s.z, s.p, s.q}), wb.view({s.k, s.c / s.groups, s.t, s.r, s.s}),
                    dx.view({s.n, s.c, s.d, s.h, s.w}), o);
    std::vector<double> want_dx, want_dw;
    reference_bwd(c, x, w, dy, want_dx, want_dw);
    EXPECT_TRUE(testing::all_close(dx.download(), want_dx, testing::kExact));
    GuardedBuffer<float> dw(ctx, w.size()), db(ctx, bias.size());
    conv3d_bwd_weights(ctx, xb.view({s.n, s.c, s.d, s.h, s.w}), dyb.view({s.n, s.k, s.z, s.p, s.q}),
                       dw.view({s.k, s.c / s.groups, s.t, s.r, s.s}), db.view({s.k}), o);
    EXPECT_TRUE(testing::all_close(dw.download(), want_dw, testing::kExact));
    std::vector<double> want_db(bias.size(), 0.0);
    for (std::size_t i = 0; i < dy.size(); ++i) want_db[(i / static_cast<std::size_t>(s.z * s.p * s.q)) % bias.size()] += dy[i];
    EXPECT_TRUE(testing::all_close(db.download(), want_db, testing::kExact));
  }
}

TEST(Conv3dCuda, ImplicitGemmMatchesTheDefinition) {
  RECKON_SKIP_WITHOUT_CUDA();
  expect_implicit_gemm_exact("cuda_implicit_gemm", ConvMath::kF32);
}

TEST(Conv3dCuda, TensorCoreImplicitGemmMatchesTheDefinition) {
  RECKON_SKIP_WITHOUT_CUDA();
  if (cuda_devices().front().compute_major < 8) GTEST_SKIP() << "TF32 mma.sync needs sm_80 or later";
  expect_implicit_gemm_exact("cuda_implicit_gemm_tf32", ConvMath::kAllowTf32);
}

// The CUDA small-channel forward takes the direct loop's taps in its order: cpu_direct's bits, in both layouts and
// with a filter count that leaves a partial chunk of 8.
TEST(Conv3dCuda, SmallChannelForwardIsTheDirectLoopBitForBit) {
  RECKON_SKIP_WITHOUT_CUDA();
  std::uint64_t stream = 500;
  for (ConvCase c : small_channel_cases()) {
    if (c.c / c.o.groups > 4) continue;
    for (const ConvLayout layout : {ConvLayout::kNcdhw, ConvLayout::kNdhwc}) {
      SCOPED_TRACE(c.name + (layout == ConvLayout::kNdhwc ? " NDHWC" : " NCDHW"));
      c.o.activation = Activation::kRelu;
      c.o.layout = layout;
      const Conv3dShape s = shape_of(c);
      const auto x = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), -1, 1, ++stream);
      const auto w = testing::random_floats(static_cast<std::size_t>(numel({s.k, s.c / s.groups, s.t, s.r, s.s})), -1,
                                            1, ++stream);
      const auto bias = testing::random_floats(static_cast<std::size_t>(s.k), -1, 1, ++stream);
      std::vector<float> want, got;
      for (const Device device : {Device::cpu(), Device::cuda(0)}) {
        Context ctx(device);
        GuardedBuffer<float> xb(ctx, x.size()), wb(ctx, w.size()), bb(ctx, bias.size());
        GuardedBuffer<float> y(ctx, static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})));
        copy_bytes(ctx, xb.data(), ctx.device(), x.data(), Device::cpu(), x.size() * 4);
        copy_bytes(ctx, wb.data(), ctx.device(), w.data(), Device::cpu(), w.size() * 4);
        copy_bytes(ctx, bb.data(), ctx.device(), bias.data(), Device::cpu(), bias.size() * 4);
        Conv3dOptions o = c.o;
        o.implementation = device.is_cuda() ? "cuda_small_channels" : "cpu_direct";
        const bool last = layout == ConvLayout::kNdhwc;
        const std::int64_t cg = s.c / s.groups;
        conv3d_fwd(ctx, last ? xb.view({s.n, s.d, s.h, s.w, s.c}) : xb.view({s.n, s.c, s.d, s.h, s.w}),
                   last ? wb.view({s.k, s.t, s.r, s.s, cg}) : wb.view({s.k, cg, s.t, s.r, s.s}), bb.view({s.k}),
                   last ? y.view({s.n, s.z, s.p, s.q, s.k}) : y.view({s.n, s.k, s.z, s.p, s.q}), o);
        (device.is_cuda() ? got : want) = y.download();
      }
      EXPECT_EQ(got, want);
    }
  }
}

TEST(Pool3dCuda, BitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  const std::array<std::int64_t, 5> in{2, 3, 5, 4, 6};
  const auto x = testing::random_floats(static_cast<std::size_t>(2 * 3 * 5 * 4 * 6), -1, 1, 91);
  for (const Pool3dOptions& o : pool_cases()) {
    std::vector<float> xs = x;
    const auto out = pool3d_output_sizes(TensorView::contiguous(xs.data(), DType::kF32, Device::cpu(),
                                                                {in[0], in[1], in[2], in[3], in[4]}), o);
    const auto dy = testing::random_floats(static_cast<std::size_t>(out[0] * out[1] * out[2] * out[3] * out[4]), -1,
                                           1, 92);
    const PoolRun cpu = run_pool(Device::cpu(), x, in, dy, o), gpu = run_pool(Device::cuda(0), x, in, dy, o);
    EXPECT_EQ(gpu.y, cpu.y);
    EXPECT_EQ(gpu.dx, cpu.dx);
    if (o.mode == PoolMode::kMax) {
      EXPECT_EQ(gpu.argmax, cpu.argmax);
    }
  }
}

}  // namespace
}  // namespace reckon

namespace reckon {
namespace {

// ConvMath::kBf16: every product's factors rounded to bf16, accumulated in f32. Against the definition on the
// rounded inputs (double), and visibly not the f32 result.
TEST(Conv3dCpu, Bf16RoundsTheFactors) {
  const ConvCase base = cases()[0];
  const Conv3dShape s = shape_of(base);
  const auto x = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.c, s.d, s.h, s.w})), -1, 1, 301);
  const auto w = testing::random_floats(static_cast<std::size_t>(numel({s.k, s.c, s.t, s.r, s.s})), -1, 1, 302);
  const auto dy = testing::random_floats(static_cast<std::size_t>(numel({s.n, s.k, s.z, s.p, s.q})), -1, 1, 303);
  const std::vector<float> bias(static_cast<std::size_t>(s.k), 0.0f);
  const auto rounded = [](std::vector<float> v) {
    for (float& f : v) f = to_float(to_bf16(f));
    return v;
  };
  const std::vector<double> want = reference_fwd(base, rounded(x), rounded(w), {});
  std::vector<double> want_dx, want_dw;
  reference_bwd(base, rounded(x), rounded(w), rounded(dy), want_dx, want_dw);
  const std::vector<double> f32 = reference_fwd(base, x, w, {});
  const testing::Tolerance tol = testing::fp32_tolerance(s.c * 27, 1.0);
  for (const char* implementation : {"cpu_direct", "cpu_onednn", "cpu_onednn_plain"}) {
    if (!RECKON_WITH_ONEDNN && std::string(implementation) != "cpu_direct") continue;
    SCOPED_TRACE(implementation);
    ConvCase c = base;
    c.o.math = ConvMath::kBf16;
    const ConvRun got = run_conv(Device::cpu(), c, x, w, bias, dy, implementation);
    EXPECT_TRUE(testing::all_close(got.y, want, tol));
    EXPECT_TRUE(testing::all_close(got.dx, want_dx, tol));
    EXPECT_TRUE(testing::all_close(got.dw, want_dw, testing::fp32_tolerance(s.n * s.z * s.p * s.q, 1.0)));
    EXPECT_FALSE(testing::all_close(got.y, f32, tol)) << "the factors were not rounded";
  }
  ConvCase c = base;
  c.o.math = ConvMath::kBf16;
  EXPECT_THROW((void)run_conv(Device::cpu(), c, x, w, bias, dy, "cpu_im2col"), Error);  // no bf16 there
}

}  // namespace
}  // namespace reckon
