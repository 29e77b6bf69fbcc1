// FM interaction: CPU against an independent double-precision pairwise reference, gradients against the analytic
// form and finite differences, the fused form against the dense one, CUDA against CPU (bitwise), bad input.
#include "reckon/kernels/fm/fm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

struct FmProblem {
  std::int64_t batch;
  int fields, dim;
  std::vector<float> src;     // [B, F, K]
  std::vector<float> values;  // [B, F] or empty
};

FmProblem make_fm(std::int64_t batch, int fields, int dim, bool with_values, std::uint64_t stream) {
  FmProblem p{batch, fields, dim, testing::random_floats(static_cast<std::size_t>(batch * fields * dim), -1, 1, stream), {}};
  if (with_values) p.values = testing::random_floats(static_cast<std::size_t>(batch * fields), 0.0f, 3.0f, stream + 1000);
  return p;
}

double x_of(const FmProblem& p, std::int64_t b, int f) {
  return p.values.empty() ? 1.0 : p.values[static_cast<std::size_t>(b * p.fields + f)];
}
double v_of(const FmProblem& p, std::int64_t b, int f, int k) {
  return x_of(p, b, f) * p.src[static_cast<std::size_t>((b * p.fields + f) * p.dim + k)];
}

// y_b = Σ_{f<f'} <v_f, v_f'>, computed pair by pair (not by the ½(S² − Q) identity the kernels use).
std::vector<double> reference_fwd(const FmProblem& p) {
  std::vector<double> y(static_cast<std::size_t>(p.batch), 0.0);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (int f = 0; f < p.fields; ++f) {
      for (int g = f + 1; g < p.fields; ++g) {
        for (int k = 0; k < p.dim; ++k) y[static_cast<std::size_t>(b)] += v_of(p, b, f, k) * v_of(p, b, g, k);
      }
    }
  }
  return y;
}

// ∂y_b/∂e_bfk = x_bf Σ_{f'≠f} v_bf'k, times dy_b.
std::vector<double> reference_bwd(const FmProblem& p, const std::vector<float>& dy) {
  std::vector<double> g(p.src.size(), 0.0);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (int f = 0; f < p.fields; ++f) {
      for (int k = 0; k < p.dim; ++k) {
        double others = 0;
        for (int h = 0; h < p.fields; ++h) others += h == f ? 0.0 : v_of(p, b, h, k);
        g[static_cast<std::size_t>((b * p.fields + f) * p.dim + k)] = dy[static_cast<std::size_t>(b)] * x_of(p, b, f) * others;
      }
    }
  }
  return g;
}

template <typename T>
TensorView upload(Context& ctx, std::vector<Buffer>& keep, const std::vector<T>& host, DType dtype,
                  std::initializer_list<std::int64_t> shape) {
  if (host.empty()) return TensorView{};
  keep.push_back(Buffer::on_device(ctx, host.size() * sizeof(T)));
  copy_bytes(ctx, keep.back().data(), ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(T));
  ctx.synchronize();
  return TensorView::contiguous(keep.back().data(), dtype, ctx.device(), shape);
}

std::vector<float> dense_fwd(Device device, const FmProblem& p) {
  Context ctx(device);
  std::vector<Buffer> keep;
  const TensorView src = upload(ctx, keep, p.src, DType::kF32, {p.batch, p.fields, p.dim});
  const TensorView values = upload(ctx, keep, p.values, DType::kF32, {p.batch, p.fields});
  GuardedBuffer<float> out(ctx, static_cast<std::size_t>(p.batch));
  fm_interaction_fwd(ctx, src, values, out.view({p.batch}));
  return out.download();
}

std::vector<float> dense_bwd(Device device, const FmProblem& p, const std::vector<float>& dy) {
  Context ctx(device);
  std::vector<Buffer> keep;
  const TensorView src = upload(ctx, keep, p.src, DType::kF32, {p.batch, p.fields, p.dim});
  const TensorView values = upload(ctx, keep, p.values, DType::kF32, {p.batch, p.fields});
  const TensorView diff_dst = upload(ctx, keep, dy, DType::kF32, {p.batch});
  GuardedBuffer<float> out(ctx, p.src.size());
  fm_interaction_bwd(ctx, src, values, diff_dst, out.view({p.batch, p.fields, p.dim}));
  return out.download();
}

struct Shape {
  std::int64_t batch;
  int fields, dim;
  bool values;
};
const Shape kShapes[] = {{1, 2, 1, false},   {33, 1, 3, true},   {31, 2, 16, false}, {257, 39, 16, true},
                         {64, 5, 17, false}, {40, 7, 33, true},  {9, 26, 64, false}, {4096, 39, 16, false},
                         {70000, 3, 4, true}};

std::string name(const Shape& s) {
  return "B=" + std::to_string(s.batch) + " F=" + std::to_string(s.fields) + " K=" + std::to_string(s.dim) +
         (s.values ? " with values" : "");
}

TEST(FmCpu, ForwardMatchesPairwiseReference) {
  RECKON_TRACE_SEED();
  std::uint64_t stream = 0;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const FmProblem p = make_fm(s.batch, s.fields, s.dim, s.values, stream++);
    // Terms |v|² <= 9; F² K terms of cancellation in S² − Q.
    EXPECT_TRUE(testing::all_close(dense_fwd(Device::cpu(), p), reference_fwd(p),
                                   testing::fp32_tolerance(static_cast<std::int64_t>(s.fields) * s.fields * s.dim, 9.0)));
  }
}

TEST(FmCpu, BackwardMatchesAnalyticGradient) {
  RECKON_TRACE_SEED();
  std::uint64_t stream = 100;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const FmProblem p = make_fm(s.batch, s.fields, s.dim, s.values, stream++);
    const std::vector<float> dy = testing::random_floats(static_cast<std::size_t>(s.batch), -2, 2, stream + 50);
    EXPECT_TRUE(testing::all_close(dense_bwd(Device::cpu(), p, dy), reference_bwd(p, dy),
                                   testing::fp32_tolerance(s.fields, 18.0)));
  }
}

TEST(FmCpu, BackwardMatchesFiniteDifferences) {
  // y is quadratic in each element, so a central difference is exact up to rounding.
  FmProblem p = make_fm(3, 4, 5, true, 200);
  const std::vector<float> dy(3, 1.0f);
  const std::vector<float> g = dense_bwd(Device::cpu(), p, dy);
  for (std::size_t i = 0; i < p.src.size(); i += 7) {
    FmProblem plus = p, minus = p;
    plus.src[i] += 0.25f;
    minus.src[i] -= 0.25f;
    const std::size_t b = i / static_cast<std::size_t>(p.fields * p.dim);
    const double fd = (dense_fwd(Device::cpu(), plus)[b] - static_cast<double>(dense_fwd(Device::cpu(), minus)[b])) / 0.5;
    EXPECT_NEAR(fd, g[i], 1e-4 * (1 + std::abs(fd))) << "element " << i;
  }
}

TEST(FmCpu, TwoFieldsIsMatrixFactorisation) {
  // F = 2 (a user field and an item field): y = <user, item>.
  const FmProblem p = make_fm(100, 2, 8, false, 300);
  const std::vector<float> y = dense_fwd(Device::cpu(), p);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    double dot = 0;
    for (int k = 0; k < 8; ++k) dot += v_of(p, b, 0, k) * v_of(p, b, 1, k);
    EXPECT_NEAR(y[static_cast<std::size_t>(b)], dot, 1e-5);
  }
}

// ---- Fused form --------------------------------------------------------------------------------------------

struct FusedProblem {
  std::vector<std::vector<float>> tables;  // F tables [N_f, K]
  std::vector<std::int64_t> ids;           // [B, F]
  FmProblem gathered;                      // the same rows, gathered: the dense form's input
};

FusedProblem make_fused(std::int64_t batch, int fields, int dim, bool with_values, std::uint64_t stream) {
  FusedProblem fp;
  fp.gathered = make_fm(batch, fields, dim, with_values, stream);
  fp.gathered.src.clear();
  const std::vector<std::int64_t> sizes_seed = testing::random_ints(static_cast<std::size_t>(fields), 1, 500, stream + 1);
  for (int f = 0; f < fields; ++f) {
    fp.tables.push_back(testing::random_floats(static_cast<std::size_t>(sizes_seed[static_cast<std::size_t>(f)] * dim), -1, 1, stream + 10 + static_cast<std::uint64_t>(f)));
  }
  fp.ids.resize(static_cast<std::size_t>(batch * fields));
  const std::vector<std::int64_t> raw = testing::random_ints(fp.ids.size(), 0, 1 << 30, stream + 2);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (int f = 0; f < fields; ++f) {
      const std::int64_t rows = sizes_seed[static_cast<std::size_t>(f)];
      const std::int64_t id = raw[static_cast<std::size_t>(b * fields + f)] % rows;
      fp.ids[static_cast<std::size_t>(b * fields + f)] = id;
      const float* row = fp.tables[static_cast<std::size_t>(f)].data() + id * dim;
      fp.gathered.src.insert(fp.gathered.src.end(), row, row + dim);
    }
  }
  return fp;
}

// Runs the fused forward (dy empty) or backward on `device`.
std::vector<float> fused(Device device, const FusedProblem& fp, DType index, const std::vector<float>& dy,
                         IndexPolicy policy = IndexPolicy::kCheck) {
  const FmProblem& p = fp.gathered;
  Context ctx(device);
  std::vector<Buffer> keep;
  std::vector<TensorView> tables;
  for (const auto& t : fp.tables) {
    tables.push_back(upload(ctx, keep, t, DType::kF32, {static_cast<std::int64_t>(t.size()) / p.dim, p.dim}));
  }
  TensorView ids = index == DType::kI64 ? upload(ctx, keep, fp.ids, DType::kI64, {p.batch, p.fields})
                                        : upload(ctx, keep, std::vector<std::int32_t>(fp.ids.begin(), fp.ids.end()),
                                                 DType::kI32, {p.batch, p.fields});
  const TensorView values = upload(ctx, keep, p.values, DType::kF32, {p.batch, p.fields});
  if (dy.empty()) {
    GuardedBuffer<float> out(ctx, static_cast<std::size_t>(p.batch));
    fm_interaction_fused_fwd(ctx, tables, ids, values, out.view({p.batch}), policy, 0);
    return out.download();
  }
  const TensorView diff_dst = upload(ctx, keep, dy, DType::kF32, {p.batch});
  GuardedBuffer<float> out(ctx, static_cast<std::size_t>(p.batch * p.fields * p.dim));
  fm_interaction_fused_bwd(ctx, tables, ids, values, diff_dst, out.view({p.batch, p.fields, p.dim}), policy, 0);
  return out.download();
}

TEST(FmCpu, FusedEqualsDenseOnGatheredRows) {
  RECKON_TRACE_SEED();
  for (DType index : {DType::kI32, DType::kI64}) {
    const FusedProblem fp = make_fused(500, 39, 16, index == DType::kI64, 400);
    const std::vector<float> dy = testing::random_floats(500, -1, 1, 401);
    const auto f_fwd = fused(Device::cpu(), fp, index, {});
    const auto d_fwd = dense_fwd(Device::cpu(), fp.gathered);
    EXPECT_TRUE(testing::bitwise_equal(f_fwd.data(), d_fwd.data(), f_fwd.size() * 4));
    const auto f_bwd = fused(Device::cpu(), fp, index, dy);
    const auto d_bwd = dense_bwd(Device::cpu(), fp.gathered, dy);
    EXPECT_TRUE(testing::bitwise_equal(f_bwd.data(), d_bwd.data(), f_bwd.size() * 4));
  }
}

void fused_bad_ids(Device device) {
  FusedProblem fp = make_fused(10, 4, 8, false, 500);
  const auto rows2 = static_cast<std::int64_t>(fp.tables[2].size()) / 8;
  fp.ids[5 * 4 + 2] = rows2 + 7;  // sample 5, field 2
  fp.ids[8 * 4 + 3] = -1;         // sample 8, field 3: later in field-major order? no: field 3 > field 2
  try {
    (void)fused(device, fp, DType::kI64, {});
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kOutOfRange);
    EXPECT_NE(e.message().find("field 2, sample 5: id " + std::to_string(rows2 + 7)), std::string::npos) << e.message();
  }
  EXPECT_THROW((void)fused(device, fp, DType::kI32, std::vector<float>(10, 1.0f)), Error);
  // OOV policy: bad ids read row 0.
  FusedProblem mapped = fp;
  mapped.ids[5 * 4 + 2] = 0;
  mapped.ids[8 * 4 + 3] = 0;
  const auto got = fused(device, fp, DType::kI64, {}, IndexPolicy::kOovRow);
  const auto want = fused(device, mapped, DType::kI64, {});
  EXPECT_TRUE(testing::bitwise_equal(got.data(), want.data(), got.size() * 4));
}

TEST(FmCpu, FusedBadIdsAreReportedNotRead) { fused_bad_ids(Device::cpu()); }

TEST(FmCpu, ShapeErrorsAreClear) {
  Context ctx(Device::cpu());
  std::vector<float> src(2 * 3 * 4), dst(2), values(2 * 2);
  const TensorView s = TensorView::contiguous(src.data(), DType::kF32, Device::cpu(), {2, 3, 4});
  const TensorView d = TensorView::contiguous(dst.data(), DType::kF32, Device::cpu(), {2});
  EXPECT_NO_THROW(fm_interaction_fwd(ctx, s, {}, d));
  EXPECT_THROW(fm_interaction_fwd(ctx, s, TensorView::contiguous(values.data(), DType::kF32, Device::cpu(), {2, 2}), d), Error);
  EXPECT_THROW(fm_interaction_fwd(ctx, s, {}, TensorView::contiguous(dst.data(), DType::kF32, Device::cpu(), {1})), Error);
  EXPECT_THROW(fm_interaction_fwd(ctx, TensorView::contiguous(src.data(), DType::kF32, Device::cpu(), {2, 12}), {}, d), Error);
  EXPECT_THROW(fm_interaction_bwd(ctx, s, {}, d, d), Error);
}

TEST(FmCuda, DenseBitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 600;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const FmProblem p = make_fm(s.batch, s.fields, s.dim, s.values, stream++);
    const std::vector<float> dy = testing::random_floats(static_cast<std::size_t>(s.batch), -2, 2, stream + 50);
    const auto cf = dense_fwd(Device::cpu(), p), gf = dense_fwd(Device::cuda(0), p);
    EXPECT_TRUE(testing::bitwise_equal(gf.data(), cf.data(), cf.size() * 4));
    const auto cb = dense_bwd(Device::cpu(), p, dy), gb = dense_bwd(Device::cuda(0), p, dy);
    EXPECT_TRUE(testing::bitwise_equal(gb.data(), cb.data(), cb.size() * 4));
  }
}

TEST(FmCuda, FusedBitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  for (DType index : {DType::kI32, DType::kI64}) {
    const FusedProblem fp = make_fused(5000, 39, 16, index == DType::kI32, 700);
    const std::vector<float> dy = testing::random_floats(5000, -1, 1, 701);
    const auto cf = fused(Device::cpu(), fp, index, {}), gf = fused(Device::cuda(0), fp, index, {});
    EXPECT_TRUE(testing::bitwise_equal(gf.data(), cf.data(), cf.size() * 4));
    const auto cb = fused(Device::cpu(), fp, index, dy), gb = fused(Device::cuda(0), fp, index, dy);
    EXPECT_TRUE(testing::bitwise_equal(gb.data(), cb.data(), cb.size() * 4));
  }
}

TEST(FmCuda, FusedBadIdsAreReportedNotRead) {
  RECKON_SKIP_WITHOUT_CUDA();
  fused_bad_ids(Device::cuda(0));
}

// Wider K (two and three column chunks of a 32-lane group) with values, the most fields fused, and many samples of
// one column.
TEST(FmCuda, WideColumnsManyFieldsAndManySamplesMatchCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  struct Case {
    std::int64_t batch;
    int fields, dim;
    bool values;
  };
  std::uint64_t stream = 800;
  for (const Case& c : {Case{300, 7, 32, true}, Case{300, 7, 65, true}, Case{70000, 3, 1, false}}) {
    SCOPED_TRACE("B=" + std::to_string(c.batch) + " F=" + std::to_string(c.fields) + " K=" + std::to_string(c.dim));
    const FmProblem p = make_fm(c.batch, c.fields, c.dim, c.values, stream++);
    const std::vector<float> dy = testing::random_floats(static_cast<std::size_t>(c.batch), -2, 2, stream++);
    const auto cf = dense_fwd(Device::cpu(), p), gf = dense_fwd(Device::cuda(0), p);
    EXPECT_TRUE(testing::bitwise_equal(gf.data(), cf.data(), cf.size() * 4));
    const auto cb = dense_bwd(Device::cpu(), p, dy), gb = dense_bwd(Device::cuda(0), p, dy);
    EXPECT_TRUE(testing::bitwise_equal(gb.data(), cb.data(), cb.size() * 4));
  }
  const FusedProblem fp = make_fused(2000, kFmMaxFusedFields, 16, true, stream++);
  const std::vector<float> dy = testing::random_floats(2000, -1, 1, stream++);
  const auto cf = fused(Device::cpu(), fp, DType::kI64, {}), gf = fused(Device::cuda(0), fp, DType::kI64, {});
  EXPECT_TRUE(testing::bitwise_equal(gf.data(), cf.data(), cf.size() * 4));
  const auto cb = fused(Device::cpu(), fp, DType::kI64, dy), gb = fused(Device::cuda(0), fp, DType::kI64, dy);
  EXPECT_TRUE(testing::bitwise_equal(gb.data(), cb.data(), cb.size() * 4));
}
}  // namespace
}  // namespace reckon
