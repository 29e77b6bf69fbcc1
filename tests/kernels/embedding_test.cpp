// Embedding-bag forward: CPU against a double-precision reference, CUDA against the CPU (bitwise), bad input on
// both devices.
#include "reckon/kernels/embedding/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reckon/runtime/device.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/kernels/random/random.h"
#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

// A multi-table problem held on the host in plain vectors.
struct Problem {
  std::int64_t batch = 0;
  std::int64_t dim = 0;
  std::vector<std::vector<float>> tables;  // [rows_t * dim], values already representable in the storage dtype
  std::vector<std::vector<std::int64_t>> offsets;
  std::vector<std::vector<std::int64_t>> indices;
  std::vector<std::vector<float>> weights;  // empty when unweighted
  std::int64_t rows(std::size_t t) const { return static_cast<std::int64_t>(tables[t].size()) / dim; }
};

enum class Ids { kUniform, kZipf, kHotRow };

Problem make_problem(std::int64_t batch, std::int64_t dim, std::vector<std::int64_t> rows, int max_bag, Ids ids,
                     bool weighted, DType storage, std::uint64_t stream) {
  Problem p;
  p.batch = batch;
  p.dim = dim;
  PhiloxStream rng(testing::test_seed(), 0xe3b0'0000ull + stream);
  for (std::size_t t = 0; t < rows.size(); ++t) {
    std::vector<float> table(static_cast<std::size_t>(rows[t] * dim));
    for (float& x : table) {
      x = 2.0f * rng.next_uniform() - 1.0f;
      if (storage == DType::kBF16) x = to_float(to_bf16(x));
    }
    std::vector<std::int64_t> off{0};
    std::vector<std::int64_t> idx;
    std::vector<float> w;
    for (std::int64_t b = 0; b < batch; ++b) {
      // Bag lengths 0..max_bag: empty bags occur.
      const auto len = static_cast<std::int64_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(max_bag + 1)));
      for (std::int64_t j = 0; j < len; ++j) {
        std::int64_t id = 0;
        if (ids == Ids::kHotRow) {
          id = rows[t] / 2;
        } else if (ids == Ids::kZipf) {
          // Inverse-CDF of a continuous power law with exponent 1.05, folded into range: heavy head, long tail.
          const double u = uniform_open_from_bits(rng.next_u32());
          id = static_cast<std::int64_t>(std::pow(static_cast<double>(rows[t]), u) - 1.0) % rows[t];
        } else {
          id = static_cast<std::int64_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(rows[t])));
        }
        idx.push_back(id);
        if (weighted) w.push_back(rng.next_uniform() * 2.0f - 0.5f);
      }
      off.push_back(static_cast<std::int64_t>(idx.size()));
    }
    p.tables.push_back(std::move(table));
    p.offsets.push_back(std::move(off));
    p.indices.push_back(std::move(idx));
    p.weights.push_back(std::move(w));
  }
  return p;
}

std::vector<double> reference(const Problem& p, PoolingMode pooling) {
  const std::size_t T = p.tables.size();
  std::vector<double> out;
  if (pooling == PoolingMode::kNone) {
    for (std::size_t t = 0; t < T; ++t) {
      for (std::int64_t id : p.indices[t]) {
        for (std::int64_t d = 0; d < p.dim; ++d) out.push_back(p.tables[t][static_cast<std::size_t>(id * p.dim + d)]);
      }
    }
    return out;
  }
  out.assign(static_cast<std::size_t>(p.batch) * T * static_cast<std::size_t>(p.dim), 0.0);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::size_t t = 0; t < T; ++t) {
      const std::int64_t start = p.offsets[t][static_cast<std::size_t>(b)], end = p.offsets[t][static_cast<std::size_t>(b + 1)];
      double* o = &out[(static_cast<std::size_t>(b) * T + t) * static_cast<std::size_t>(p.dim)];
      for (std::int64_t j = start; j < end; ++j) {
        const double w = p.weights[t].empty() ? 1.0 : p.weights[t][static_cast<std::size_t>(j)];
        const std::int64_t id = p.indices[t][static_cast<std::size_t>(j)];
        for (std::int64_t d = 0; d < p.dim; ++d) o[d] += w * p.tables[t][static_cast<std::size_t>(id * p.dim + d)];
      }
      if (pooling == PoolingMode::kMean && end > start) {
        for (std::int64_t d = 0; d < p.dim; ++d) o[d] /= static_cast<double>(end - start);
      }
    }
  }
  return out;
}

// The problem's tensors on a context's device, in the requested storage and index dtypes.
struct DeviceProblem {
  std::vector<Buffer> buffers;
  std::vector<TensorView> tables;
  std::vector<EmbeddingBags> bags;

  template <typename T>
  TensorView upload(Context& ctx, const std::vector<T>& host, DType dtype, std::initializer_list<std::int64_t> shape) {
    buffers.push_back(Buffer::on_device(ctx, std::max<std::size_t>(host.size() * sizeof(T), 1)));
    copy_bytes(ctx, buffers.back().data(), ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(T));
    ctx.synchronize();
    return TensorView::contiguous(buffers.back().data(), dtype, ctx.device(), shape);
  }
  template <typename Out>
  static std::vector<Out> convert(const std::vector<std::int64_t>& v) {
    return std::vector<Out>(v.begin(), v.end());
  }

  DeviceProblem(Context& ctx, const Problem& p, DType storage, DType index) {
    for (std::size_t t = 0; t < p.tables.size(); ++t) {
      if (storage == DType::kF32) {
        tables.push_back(upload(ctx, p.tables[t], DType::kF32, {p.rows(t), p.dim}));
      } else {
        std::vector<bf16> h(p.tables[t].size());
        for (std::size_t i = 0; i < h.size(); ++i) h[i] = to_bf16(p.tables[t][i]);
        tables.push_back(upload(ctx, h, DType::kBF16, {p.rows(t), p.dim}));
      }
      EmbeddingBags b;
      const auto nnz = static_cast<std::int64_t>(p.indices[t].size());
      if (index == DType::kI32) {
        b.offsets = upload(ctx, convert<std::int32_t>(p.offsets[t]), DType::kI32, {p.batch + 1});
        b.indices = upload(ctx, convert<std::int32_t>(p.indices[t]), DType::kI32, {nnz});
      } else {
        b.offsets = upload(ctx, p.offsets[t], DType::kI64, {p.batch + 1});
        b.indices = upload(ctx, p.indices[t], DType::kI64, {nnz});
      }
      if (!p.weights[t].empty()) b.per_sample_weights = upload(ctx, p.weights[t], DType::kF32, {nnz});
      bags.push_back(b);
    }
  }
};

std::vector<float> run_fwd(Device device, const Problem& p, DType storage, DType index, const EmbeddingBagOptions& opt) {
  Context ctx(device);
  DeviceProblem dp(ctx, p, storage, index);
  const std::int64_t rows = embedding_bag_output_rows(dp.bags, opt.pooling);
  GuardedBuffer<float> out(ctx, static_cast<std::size_t>(rows * p.dim));
  embedding_bag_fwd(ctx, dp.tables, dp.bags, out.view({rows, p.dim}), opt);
  return out.download();
}

struct Case {
  std::int64_t batch, dim;
  std::vector<std::int64_t> rows;
  int max_bag;
  Ids ids;
  bool weighted;
  PoolingMode pooling;
  DType storage, index;
  std::string name() const {
    return "B=" + std::to_string(batch) + " D=" + std::to_string(dim) + " T=" + std::to_string(rows.size()) +
           " L<=" + std::to_string(max_bag) + " " + to_string(pooling) + (weighted ? " weighted " : " ") +
           dtype_name(storage) + " " + dtype_name(index) + " ids=" + std::to_string(static_cast<int>(ids));
  }
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const std::int64_t dims[] = {1, 3, 8, 17, 64, 127, 129, 256};
  int k = 0;
  for (std::int64_t d : dims) {
    for (PoolingMode pool : {PoolingMode::kSum, PoolingMode::kMean, PoolingMode::kNone}) {
      const DType storage = (k % 3 == 2) ? DType::kBF16 : DType::kF32;
      const DType index = (k % 2) ? DType::kI32 : DType::kI64;
      const Ids ids = static_cast<Ids>(k % 3);
      out.push_back({33, d, {100, 1, 7000}, 6, ids, pool == PoolingMode::kSum && k % 2 == 0, pool, storage, index});
      ++k;
    }
  }
  out.push_back({4096, 16, std::vector<std::int64_t>(39, 1000), 1, Ids::kZipf, false, PoolingMode::kSum, DType::kF32,
                 DType::kI32});  // the CTR shape: B=4096, F=39, D=16, one id per field
  out.push_back({70000, 4, {500, 300}, 3, Ids::kUniform, false, PoolingMode::kMean, DType::kF32, DType::kI64});
  out.push_back({257, 32, std::vector<std::int64_t>(40, 50), 4, Ids::kHotRow, true, PoolingMode::kSum, DType::kBF16,
                 DType::kI64});  // more tables than one launch takes
  return out;
}

double max_bag_terms(const Case& c) { return c.max_bag > 0 ? c.max_bag : 1; }

TEST(EmbeddingCpu, MatchesDoubleReference) {
  RECKON_TRACE_SEED();
  std::uint64_t stream = 0;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name());
    const Problem p = make_problem(c.batch, c.dim, c.rows, c.max_bag, c.ids, c.weighted, c.storage, stream++);
    const std::vector<float> got = run_fwd(Device::cpu(), p, c.storage, c.index, {c.pooling});
    // Terms are bounded by 1.5 in magnitude; fp32 accumulation over at most max_bag terms.
    EXPECT_TRUE(testing::all_close(got, reference(p, c.pooling), testing::fp32_tolerance(c.max_bag, 1.5 * max_bag_terms(c))));
  }
}

TEST(EmbeddingCpu, EmptyBatchAndEmptyBagsGiveZeros) {
  Problem p = make_problem(0, 8, {10}, 3, Ids::kUniform, false, DType::kF32, 100);
  EXPECT_TRUE(run_fwd(Device::cpu(), p, DType::kF32, DType::kI64, {PoolingMode::kSum}).empty());
  Problem q = make_problem(5, 8, {10}, 0, Ids::kUniform, false, DType::kF32, 101);  // every bag empty
  for (PoolingMode mode : {PoolingMode::kSum, PoolingMode::kMean}) {
    for (float x : run_fwd(Device::cpu(), q, DType::kF32, DType::kI64, {mode})) ASSERT_EQ(x, 0.0f);
  }
}

// Expect `fn` to throw an Error with `code` whose message contains every piece of `needles`.
template <typename Fn>
void expect_error(Fn&& fn, StatusCode code, std::vector<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles) EXPECT_NE(e.message().find(n), std::string::npos) << e.message();
  }
}

void bad_input_checks(Device device) {
  Problem p = make_problem(6, 4, {10, 20}, 3, Ids::kUniform, false, DType::kF32, 200);
  p.indices[1] = {3, 19, 20, 5, -1};  // position 2 (id 20) is the first bad id of table 1
  p.offsets[1] = {0, 1, 2, 3, 4, 5, 5};
  for (DType index : {DType::kI32, DType::kI64}) {
    expect_error([&] { run_fwd(device, p, DType::kF32, index, {PoolingMode::kSum}); }, StatusCode::kOutOfRange,
                 {"table 1", "position 2", "id 20", "[0, 20)"});
    expect_error([&] { run_fwd(device, p, DType::kF32, index, {PoolingMode::kNone}); }, StatusCode::kOutOfRange,
                 {"table 1", "position 2"});
  }
  // oov_row policy: out-of-range ids read row 0 instead.
  Problem q = p;
  q.indices[1] = {3, 19, 0, 5, 0};
  const auto expected = run_fwd(device, q, DType::kF32, DType::kI64, {PoolingMode::kSum});
  const auto got = run_fwd(device, p, DType::kF32, DType::kI64, {PoolingMode::kSum, IndexPolicy::kOovRow, 0});
  EXPECT_TRUE(testing::bitwise_equal(got.data(), expected.data(), got.size() * 4));

  Problem bad_offsets = make_problem(6, 4, {10, 20}, 3, Ids::kUniform, false, DType::kF32, 201);
  bad_offsets.offsets[0][3] = bad_offsets.offsets[0][2] + 100;  // runs past the index count
  expect_error([&] { run_fwd(device, bad_offsets, DType::kF32, DType::kI64, {PoolingMode::kSum}); },
               StatusCode::kInvalidArgument, {"offsets of table 0", "bag 2"});
  Problem decreasing = make_problem(6, 4, {10}, 3, Ids::kUniform, false, DType::kF32, 202);
  decreasing.offsets[0] = {0, 2, 1, 3, 3, 3, 3};
  decreasing.indices[0] = {1, 2, 3};
  expect_error([&] { run_fwd(device, decreasing, DType::kF32, DType::kI32, {PoolingMode::kMean}); },
               StatusCode::kInvalidArgument, {"bag 1"});
}

TEST(EmbeddingCpu, BadInputIsReportedNotRead) { bad_input_checks(Device::cpu()); }

TEST(EmbeddingCpu, ShapeAndTypeMismatchesAreClearErrors) {
  Context ctx(Device::cpu());
  Problem p = make_problem(4, 8, {10, 10}, 2, Ids::kUniform, true, DType::kF32, 300);
  DeviceProblem dp(ctx, p, DType::kF32, DType::kI64);
  std::vector<float> out(4 * 2 * 8);
  const TensorView dst = TensorView::contiguous(out.data(), DType::kF32, Device::cpu(), {4, 2, 8});
  EXPECT_NO_THROW(embedding_bag_fwd(ctx, dp.tables, dp.bags, dst, {PoolingMode::kSum}));
  expect_error([&] { embedding_bag_fwd(ctx, dp.tables, dp.bags, dst, {PoolingMode::kMean}); },
               StatusCode::kInvalidArgument, {"per-sample weights need sum pooling"});
  std::vector<TensorView> wrong_dim = dp.tables;
  wrong_dim[1].sizes[1] = 4;
  expect_error([&] { embedding_bag_fwd(ctx, wrong_dim, dp.bags, dst); }, StatusCode::kInvalidArgument, {"table 1"});
  const TensorView small = TensorView::contiguous(out.data(), DType::kF32, Device::cpu(), {4, 8});
  expect_error([&] { embedding_bag_fwd(ctx, dp.tables, dp.bags, small); }, StatusCode::kInvalidArgument, {"dst"});
  std::vector<EmbeddingBags> one_bag(dp.bags.begin(), dp.bags.begin() + 1);
  expect_error([&] { embedding_bag_fwd(ctx, dp.tables, one_bag, dst); }, StatusCode::kInvalidArgument, {"2 tables"});
  expect_error([&] { embedding_bag_fwd(ctx, dp.tables, dp.bags, dst, {PoolingMode::kSum, IndexPolicy::kOovRow, 10}); },
               StatusCode::kInvalidArgument, {"oov_row 10"});
}

TEST(EmbeddingCuda, BitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 0;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name());
    const Problem p = make_problem(c.batch, c.dim, c.rows, c.max_bag, c.ids, c.weighted, c.storage, stream++);
    const auto cpu = run_fwd(Device::cpu(), p, c.storage, c.index, {c.pooling});
    const auto gpu = run_fwd(Device::cuda(0), p, c.storage, c.index, {c.pooling});
    ASSERT_EQ(cpu.size(), gpu.size());
    EXPECT_TRUE(testing::bitwise_equal(gpu.data(), cpu.data(), cpu.size() * 4));
    EXPECT_TRUE(testing::all_close(gpu, reference(p, c.pooling), testing::fp32_tolerance(c.max_bag, 1.5 * max_bag_terms(c))));
  }
}

TEST(EmbeddingCuda, BadInputIsReportedNotRead) {
  RECKON_SKIP_WITHOUT_CUDA();
  bad_input_checks(Device::cuda(0));
}

TEST(EmbeddingCuda, RunToRunDeterministic) {
  RECKON_SKIP_WITHOUT_CUDA();
  const Problem p = make_problem(5000, 64, {100000, 3}, 20, Ids::kZipf, true, DType::kF32, 400);
  const auto a = run_fwd(Device::cuda(0), p, DType::kF32, DType::kI32, {PoolingMode::kSum});
  const auto b = run_fwd(Device::cuda(0), p, DType::kF32, DType::kI32, {PoolingMode::kSum});
  EXPECT_TRUE(testing::bitwise_equal(a.data(), b.data(), a.size() * 4));
}


// ---- Backward ------------------------------------------------------------------------------------------------

// Dense gradient in double: [Σ rows_t, D], table t's rows starting at Σ_{t'<t} rows_t'.
std::vector<double> reference_gradient(const Problem& p, PoolingMode pooling, const std::vector<float>& diff) {
  std::vector<std::int64_t> row_base{0};
  for (std::size_t t = 0; t < p.tables.size(); ++t) row_base.push_back(row_base.back() + p.rows(t));
  std::vector<double> g(static_cast<std::size_t>(row_base.back() * p.dim), 0.0);
  const auto T = static_cast<std::int64_t>(p.tables.size());
  std::int64_t none_row = 0;
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    for (std::int64_t b = 0; b < p.batch; ++b) {
      const std::int64_t start = p.offsets[t][static_cast<std::size_t>(b)], end = p.offsets[t][static_cast<std::size_t>(b + 1)];
      for (std::int64_t j = start; j < end; ++j) {
        double c = p.weights[t].empty() ? 1.0 : p.weights[t][static_cast<std::size_t>(j)];
        if (pooling == PoolingMode::kMean) c /= static_cast<double>(end - start);
        const std::int64_t src = pooling == PoolingMode::kNone ? none_row + j : b * T + static_cast<std::int64_t>(t);
        const std::int64_t dst = row_base[t] + p.indices[t][static_cast<std::size_t>(j)];
        for (std::int64_t d = 0; d < p.dim; ++d) {
          g[static_cast<std::size_t>(dst * p.dim + d)] += c * diff[static_cast<std::size_t>(src * p.dim + d)];
        }
      }
    }
    none_row += static_cast<std::int64_t>(p.indices[t].size());
  }
  return g;
}

struct HostGradient {
  std::vector<std::int32_t> table;
  std::vector<std::int64_t> row;
  std::vector<float> values;
};

HostGradient run_bwd(Device device, const Problem& p, DType storage, DType index, PoolingMode pooling,
                     const std::vector<float>& diff) {
  Context ctx(device);
  DeviceProblem dp(ctx, p, storage, index);
  const std::int64_t rows = embedding_bag_output_rows(dp.bags, pooling);
  const TensorView diff_view = dp.upload(ctx, diff, DType::kF32, {rows, p.dim});
  SparseGradient g = embedding_bag_bwd(ctx, dp.tables, dp.bags, diff_view, {pooling});
  HostGradient h;
  const auto rows_written = static_cast<std::size_t>(g.num_rows(ctx));
  h.table = testing::to_host<std::int32_t>(ctx, g.table);
  h.row = testing::to_host<std::int64_t>(ctx, g.row);
  h.values = testing::to_host<float>(ctx, g.values);
  EXPECT_LE(rows_written, h.table.size()) << "more rows than the gradient's capacity";
  h.table.resize(rows_written);
  h.row.resize(rows_written);
  h.values.resize(rows_written * static_cast<std::size_t>(p.dim));
  return h;
}

// Compare a sparse gradient with the dense reference: rows strictly increasing by (table, row), exactly the
// touched rows, values within tolerance.
void expect_gradient_matches(const Problem& p, const HostGradient& got, const std::vector<double>& dense,
                             testing::Tolerance tol) {
  std::vector<std::int64_t> row_base{0};
  for (std::size_t t = 0; t < p.tables.size(); ++t) row_base.push_back(row_base.back() + p.rows(t));
  std::vector<char> touched(static_cast<std::size_t>(row_base.back()), 0);
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    for (std::int64_t j = p.offsets[t].front(); j < p.offsets[t].back(); ++j) {
      touched[static_cast<std::size_t>(row_base[t] + p.indices[t][static_cast<std::size_t>(j)])] = 1;
    }
  }
  std::vector<double> expected;
  std::int64_t previous = -1;
  std::size_t count = 0;
  for (std::size_t i = 0; i < got.table.size(); ++i) {
    const std::int64_t key = row_base[static_cast<std::size_t>(got.table[i])] + got.row[i];
    ASSERT_GT(key, previous) << "gradient rows not strictly increasing at " << i;
    ASSERT_TRUE(touched[static_cast<std::size_t>(key)]) << "untouched row " << got.row[i] << " of table " << got.table[i];
    previous = key;
    for (std::int64_t d = 0; d < p.dim; ++d) expected.push_back(dense[static_cast<std::size_t>(key * p.dim + d)]);
  }
  for (char t : touched) count += t ? 1 : 0;
  EXPECT_EQ(got.table.size(), count) << "touched rows missing from the gradient";
  EXPECT_TRUE(testing::all_close(got.values, expected, tol));
}

std::vector<Case> backward_cases() {
  std::vector<Case> out = cases();
  // Hot rows: runs far longer than kEmbeddingLongRun take the partial-sum path.
  out.push_back({3000, 40, {50, 9}, 3, Ids::kHotRow, true, PoolingMode::kSum, DType::kF32, DType::kI64});
  out.push_back({2000, 129, {5000}, 8, Ids::kZipf, false, PoolingMode::kMean, DType::kF32, DType::kI32});
  return out;
}

TEST(EmbeddingBackwardCpu, GradientMatchesDenseReference) {
  RECKON_TRACE_SEED();
  std::uint64_t stream = 500;
  for (const Case& c : backward_cases()) {
    if (c.dim > kEmbeddingBackwardMaxDim) continue;
    SCOPED_TRACE(c.name());
    const Problem p = make_problem(c.batch, c.dim, c.rows, c.max_bag, c.ids, c.weighted, c.storage, stream++);
    const std::int64_t out_rows = c.pooling == PoolingMode::kNone ? [&] {
      std::int64_t r = 0;
      for (const auto& i : p.indices) r += static_cast<std::int64_t>(i.size());
      return r;
    }() : c.batch * static_cast<std::int64_t>(c.rows.size());
    const std::vector<float> diff = testing::random_floats(static_cast<std::size_t>(out_rows * c.dim), -1, 1, stream++);
    const HostGradient g = run_bwd(Device::cpu(), p, c.storage, c.index, c.pooling, diff);
    // A row's gradient sums (weighted) diff rows over its occurrences: up to B * L terms for a hot row.
    const double terms = static_cast<double>(c.batch) * c.max_bag;
    expect_gradient_matches(p, g, reference_gradient(p, c.pooling, diff), testing::fp32_tolerance(static_cast<std::int64_t>(terms), 1.5));
  }
}

TEST(EmbeddingBackwardCpu, GradientMatchesFiniteDifferences) {
  // L(W) = Σ dst · R is linear in W, so a central difference with a large step is exact up to rounding.
  RECKON_TRACE_SEED();
  Problem p = make_problem(16, 5, {12, 7}, 4, Ids::kUniform, true, DType::kF32, 600);
  const std::vector<float> r = testing::random_floats(16 * 2 * 5, -1, 1, 601);
  auto loss = [&](const Problem& q) {
    const auto dst = run_fwd(Device::cpu(), q, DType::kF32, DType::kI64, {PoolingMode::kSum});
    double l = 0;
    for (std::size_t i = 0; i < dst.size(); ++i) l += static_cast<double>(dst[i]) * r[i];
    return l;
  };
  const HostGradient g = run_bwd(Device::cpu(), p, DType::kF32, DType::kI64, PoolingMode::kSum, r);
  for (std::size_t i = 0; i < g.table.size(); i += 3) {
    for (std::int64_t d = 0; d < p.dim; d += 2) {
      const auto t = static_cast<std::size_t>(g.table[i]);
      const auto at = static_cast<std::size_t>(g.row[i] * p.dim + d);
      Problem plus = p, minus = p;
      plus.tables[t][at] += 0.5f;
      minus.tables[t][at] -= 0.5f;
      const double fd = (loss(plus) - loss(minus)) / 1.0;
      EXPECT_NEAR(fd, g.values[i * static_cast<std::size_t>(p.dim) + static_cast<std::size_t>(d)], 1e-4)
          << "table " << t << " row " << g.row[i] << " column " << d;
    }
  }
}

// ---- Fused optimizers against a double-precision dense reference restricted to touched rows -------------------

struct OptimizerRun {
  std::vector<std::vector<float>> tables, state1, state2;
};

std::int64_t state1_columns(SparseOptimizerKind k, std::int64_t dim) {
  return k == SparseOptimizerKind::kRowwiseAdagrad ? 1 : (k == SparseOptimizerKind::kSgd ? 0 : dim);
}

// Layout of tables and state: separate contiguous arrays, or one block per table with each row beside its state
// ([row | state1 | state2 | padding], embedding_interleaved_row_stride) - the same values either way.
enum class StateLayout { kSeparate, kInterleaved };

constexpr float kPadding = 12345.0f;  // fills the interleaved blocks' padding; a stray write to it shows

OptimizerRun run_optimizer(Device device, const Problem& p, PoolingMode pooling,
                           const std::vector<std::vector<float>>& diffs, SparseOptimizer opt,
                           EmbeddingBackwardAlgorithm algorithm = EmbeddingBackwardAlgorithm::kSorted,
                           StateLayout layout = StateLayout::kSeparate) {
  Context ctx(device);
  DeviceProblem dp(ctx, p, DType::kF32, DType::kI64);
  std::vector<EmbeddingOptimizerState> states;
  const std::int64_t cols = state1_columns(opt.kind, p.dim);
  const bool adam = opt.kind == SparseOptimizerKind::kAdam;
  std::vector<TensorView> blocks;
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    EmbeddingOptimizerState st;
    const std::int64_t rows = p.rows(t);
    // Non-zero initial state, so a wrong read of it shows.
    std::vector<float> s1, s2;
    if (cols == 1) s1 = testing::random_floats(static_cast<std::size_t>(rows), 0.1f, 0.5f, 700 + t);
    if (cols > 1) s1 = testing::random_floats(static_cast<std::size_t>(rows * cols), 0.0f, 0.1f, 710 + t);
    if (adam) s2 = testing::random_floats(static_cast<std::size_t>(rows * cols), 0.0f, 0.01f, 720 + t);
    if (layout == StateLayout::kSeparate) {
      if (cols == 1) st.state1 = dp.upload(ctx, s1, DType::kF32, {rows});
      if (cols > 1) st.state1 = dp.upload(ctx, s1, DType::kF32, {rows, cols});
      if (adam) st.state2 = dp.upload(ctx, s2, DType::kF32, {rows, cols});
    } else {
      const std::int64_t D = p.dim;
      const std::int64_t stride = embedding_interleaved_row_stride(D, cols + (adam ? cols : 0));
      std::vector<float> block(static_cast<std::size_t>(rows * stride), kPadding);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = block.data() + r * stride;
        for (std::int64_t d = 0; d < D; ++d) row[d] = p.tables[t][static_cast<std::size_t>(r * D + d)];
        for (std::int64_t c = 0; c < cols; ++c) row[D + c] = s1[static_cast<std::size_t>(r * cols + c)];
        for (std::int64_t c = 0; adam && c < cols; ++c) row[D + cols + c] = s2[static_cast<std::size_t>(r * cols + c)];
      }
      blocks.push_back(dp.upload(ctx, block, DType::kF32, {rows, stride}));
      auto* base = static_cast<float*>(blocks.back().data);
      dp.tables[t] = TensorView::strided_rows(base, DType::kF32, ctx.device(), rows, D, stride);
      if (cols >= 1) st.state1 = TensorView::strided_rows(base + D, DType::kF32, ctx.device(), rows, cols, stride);
      if (cols == 1) st.state1.ndim = 1;
      if (adam) st.state2 = TensorView::strided_rows(base + D + cols, DType::kF32, ctx.device(), rows, cols, stride);
    }
    states.push_back(st);
  }
  const std::int64_t out_rows = embedding_bag_output_rows(dp.bags, pooling);
  for (std::size_t step = 0; step < diffs.size(); ++step) {
    const TensorView diff = dp.upload(ctx, diffs[step], DType::kF32, {out_rows, p.dim});
    opt.step = static_cast<std::int64_t>(step) + 1;
    embedding_bag_bwd_update(ctx, dp.tables, dp.bags, diff, {pooling}, opt, states, algorithm);
  }
  OptimizerRun out;
  for (const TensorView& block : blocks) {  // padding is never written
    const std::vector<float> host = testing::to_host<float>(ctx, block);
    const std::int64_t stride = block.size(1);
    const std::int64_t used = p.dim + cols + (adam ? cols : 0);
    for (std::int64_t r = 0; r < block.size(0); ++r) {
      for (std::int64_t c = std::min(used, stride); c < stride; ++c) {
        EXPECT_EQ(host[static_cast<std::size_t>(r * stride + c)], kPadding) << "padding of row " << r << " written";
      }
    }
  }
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    out.tables.push_back(testing::to_host<float>(ctx, dp.tables[t]));
    out.state1.push_back(states[t].state1.data ? testing::to_host<float>(ctx, states[t].state1) : std::vector<float>{});
    out.state2.push_back(states[t].state2.data ? testing::to_host<float>(ctx, states[t].state2) : std::vector<float>{});
  }
  return out;
}

// The same steps in double, over a dense gradient, touching only rows with at least one id.
OptimizerRun reference_optimizer(const Problem& p, PoolingMode pooling, const std::vector<std::vector<float>>& diffs,
                                 const SparseOptimizer& opt, const OptimizerRun& initial_state) {
  const std::int64_t D = p.dim;
  std::vector<std::vector<double>> w, s1, s2;
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    w.emplace_back(p.tables[t].begin(), p.tables[t].end());
    s1.emplace_back(initial_state.state1[t].begin(), initial_state.state1[t].end());
    s2.emplace_back(initial_state.state2[t].begin(), initial_state.state2[t].end());
  }
  for (std::size_t step = 0; step < diffs.size(); ++step) {
    const std::vector<double> g = reference_gradient(p, pooling, diffs[step]);
    std::int64_t base = 0;
    for (std::size_t t = 0; t < p.tables.size(); ++t) {
      std::vector<char> touched(static_cast<std::size_t>(p.rows(t)), 0);
      for (std::int64_t j = p.offsets[t].front(); j < p.offsets[t].back(); ++j) touched[static_cast<std::size_t>(p.indices[t][static_cast<std::size_t>(j)])] = 1;
      for (std::int64_t r = 0; r < p.rows(t); ++r) {
        if (!touched[static_cast<std::size_t>(r)]) continue;
        std::vector<double> gg(static_cast<std::size_t>(D));
        for (std::int64_t d = 0; d < D; ++d) {
          gg[static_cast<std::size_t>(d)] = g[static_cast<std::size_t>((base + r) * D + d)] + opt.weight_decay * w[t][static_cast<std::size_t>(r * D + d)];
        }
        double denom_row = 0;
        if (opt.kind == SparseOptimizerKind::kRowwiseAdagrad) {
          double sq = 0;
          for (double x : gg) sq += x * x;
          s1[t][static_cast<std::size_t>(r)] += sq / static_cast<double>(D);
          denom_row = std::sqrt(s1[t][static_cast<std::size_t>(r)]) + opt.eps;
        }
        for (std::int64_t d = 0; d < D; ++d) {
          const auto i = static_cast<std::size_t>(r * D + d);
          const double x = gg[static_cast<std::size_t>(d)];
          switch (opt.kind) {
            case SparseOptimizerKind::kSgd: w[t][i] -= opt.learning_rate * x; break;
            case SparseOptimizerKind::kAdagrad:
              s1[t][i] += x * x;
              w[t][i] -= opt.learning_rate * x / (std::sqrt(s1[t][i]) + opt.eps);
              break;
            case SparseOptimizerKind::kRowwiseAdagrad: w[t][i] -= opt.learning_rate * x / denom_row; break;
            case SparseOptimizerKind::kAdam: {
              const double b1 = opt.beta1, b2 = opt.beta2;
              s1[t][i] = b1 * s1[t][i] + (1 - b1) * x;
              s2[t][i] = b2 * s2[t][i] + (1 - b2) * x * x;
              const double m_hat = s1[t][i] / (1 - std::pow(b1, static_cast<double>(step + 1)));
              const double v_hat = s2[t][i] / (1 - std::pow(b2, static_cast<double>(step + 1)));
              w[t][i] -= opt.learning_rate * m_hat / (std::sqrt(v_hat) + opt.eps);
              break;
            }
          }
        }
      }
      base += p.rows(t);
    }
  }
  OptimizerRun out;
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    out.tables.emplace_back(w[t].begin(), w[t].end());
    out.state1.emplace_back(s1[t].begin(), s1[t].end());
    out.state2.emplace_back(s2[t].begin(), s2[t].end());
  }
  return out;
}

// The state a run starts from, read back by running zero steps.
OptimizerRun initial_state(const Problem& p, PoolingMode pooling, const SparseOptimizer& opt) {
  return run_optimizer(Device::cpu(), p, pooling, {}, opt);
}

std::vector<SparseOptimizer> optimizers() {
  SparseOptimizer sgd{SparseOptimizerKind::kSgd, 0.1f};
  sgd.weight_decay = 0.01f;
  SparseOptimizer adagrad{SparseOptimizerKind::kAdagrad, 0.05f};
  adagrad.eps = 1e-6f;
  SparseOptimizer rowwise{SparseOptimizerKind::kRowwiseAdagrad, 0.05f};
  rowwise.eps = 1e-6f;
  SparseOptimizer adam{SparseOptimizerKind::kAdam, 0.01f};
  adam.eps = 1e-6f;
  adam.weight_decay = 0.001f;
  return {sgd, adagrad, rowwise, adam};
}

struct OptimizerProblem {
  Problem p;
  PoolingMode pooling;
  std::vector<std::vector<float>> diffs;
};

OptimizerProblem optimizer_problem(std::uint64_t stream, Ids ids, std::int64_t batch, int max_bag) {
  OptimizerProblem o{make_problem(batch, 17, {300, 40}, max_bag, ids, false, DType::kF32, stream), PoolingMode::kMean, {}};
  for (int step = 0; step < 3; ++step) {
    o.diffs.push_back(testing::random_floats(static_cast<std::size_t>(batch * 2 * 17), -1, 1, stream * 10 + static_cast<std::uint64_t>(step)));
  }
  return o;
}

void expect_runs_bitwise_equal(const OptimizerRun& gpu, const OptimizerRun& cpu) {
  for (std::size_t t = 0; t < cpu.tables.size(); ++t) {
    EXPECT_TRUE(testing::bitwise_equal(gpu.tables[t].data(), cpu.tables[t].data(), cpu.tables[t].size() * 4));
    EXPECT_TRUE(testing::bitwise_equal(gpu.state1[t].data(), cpu.state1[t].data(), cpu.state1[t].size() * 4));
    EXPECT_TRUE(testing::bitwise_equal(gpu.state2[t].data(), cpu.state2[t].data(), cpu.state2[t].size() * 4));
  }
}

void expect_runs_close(const OptimizerRun& got, const OptimizerRun& want, const OptimizerRun& before, testing::Tolerance tol) {
  for (std::size_t t = 0; t < got.tables.size(); ++t) {
    EXPECT_TRUE(testing::all_close(got.tables[t], want.tables[t], tol)) << "table " << t;
    EXPECT_TRUE(testing::all_close(got.state1[t], want.state1[t], tol)) << "state1 of table " << t;
    EXPECT_TRUE(testing::all_close(got.state2[t], want.state2[t], tol)) << "state2 of table " << t;
    (void)before;
  }
}

TEST(EmbeddingBackwardCpu, FusedOptimizersMatchDenseReference) {
  RECKON_TRACE_SEED();
  for (Ids ids : {Ids::kUniform, Ids::kHotRow}) {
    const OptimizerProblem o = optimizer_problem(800 + static_cast<std::uint64_t>(ids), ids, ids == Ids::kHotRow ? 400 : 64, 5);
    for (const SparseOptimizer& opt : optimizers()) {
      SCOPED_TRACE(std::string(to_string(opt.kind)) + (ids == Ids::kHotRow ? " hot row" : " uniform"));
      const OptimizerRun start = initial_state(o.p, o.pooling, opt);
      const OptimizerRun got = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, opt);
      const OptimizerRun want = reference_optimizer(o.p, o.pooling, o.diffs, opt, start);
      expect_runs_close(got, want, start, {2e-4, 2e-5});
      // Untouched rows, and their state, are bitwise unchanged.
      for (std::size_t t = 0; t < o.p.tables.size(); ++t) {
        std::vector<char> touched(static_cast<std::size_t>(o.p.rows(t)), 0);
        for (std::int64_t id : o.p.indices[t]) touched[static_cast<std::size_t>(id)] = 1;
        for (std::int64_t r = 0; r < o.p.rows(t); ++r) {
          if (touched[static_cast<std::size_t>(r)]) continue;
          for (std::int64_t d = 0; d < o.p.dim; ++d) {
            const auto i = static_cast<std::size_t>(r * o.p.dim + d);
            ASSERT_EQ(got.tables[t][i], o.p.tables[t][i]) << "untouched row " << r << " moved";
          }
          if (!start.state1[t].empty()) {
            const std::size_t cols = start.state1[t].size() / static_cast<std::size_t>(o.p.rows(t));
            for (std::size_t k = 0; k < cols; ++k) {
              ASSERT_EQ(got.state1[t][static_cast<std::size_t>(r) * cols + k], start.state1[t][static_cast<std::size_t>(r) * cols + k]);
            }
          }
        }
      }
    }
  }
}

TEST(EmbeddingBackwardCpu, BitwiseDeterministicAndAtomicSgdAgrees) {
  const OptimizerProblem o = optimizer_problem(900, Ids::kZipf, 500, 6);
  const SparseOptimizer adam = optimizers()[3];
  const OptimizerRun a = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, adam);
  const OptimizerRun b = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, adam);
  for (std::size_t t = 0; t < a.tables.size(); ++t) {
    EXPECT_TRUE(testing::bitwise_equal(a.tables[t].data(), b.tables[t].data(), a.tables[t].size() * 4));
  }
  SparseOptimizer sgd{SparseOptimizerKind::kSgd, 0.1f};
  const OptimizerRun sorted = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, sgd);
  const OptimizerRun atomic = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, sgd, EmbeddingBackwardAlgorithm::kAtomic);
  for (std::size_t t = 0; t < sorted.tables.size(); ++t) {
    EXPECT_TRUE(testing::all_close(atomic.tables[t], sorted.tables[t], {1e-5, 1e-5}));
  }
}

TEST(EmbeddingBackwardCpu, InterleavedStateGivesBitwiseTheSameUpdate) {
  // Rows beside their optimizer state (one strided block per table) compute exactly what separate arrays do.
  for (Ids ids : {Ids::kUniform, Ids::kHotRow}) {
    const OptimizerProblem o = optimizer_problem(950 + static_cast<std::uint64_t>(ids), ids, ids == Ids::kHotRow ? 400 : 64, 5);
    for (const SparseOptimizer& opt : optimizers()) {
      SCOPED_TRACE(std::string(to_string(opt.kind)) + (ids == Ids::kHotRow ? " hot row" : " uniform"));
      const OptimizerRun separate = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, opt);
      const OptimizerRun interleaved = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, opt,
                                                     EmbeddingBackwardAlgorithm::kSorted, StateLayout::kInterleaved);
      for (std::size_t t = 0; t < separate.tables.size(); ++t) {
        EXPECT_EQ(interleaved.tables[t], separate.tables[t]) << "table " << t;
        EXPECT_EQ(interleaved.state1[t], separate.state1[t]) << "state1 of table " << t;
        EXPECT_EQ(interleaved.state2[t], separate.state2[t]) << "state2 of table " << t;
      }
    }
  }
}

TEST(EmbeddingCpu, StridedTablesReadTheSameRows) {
  Context ctx(Device::cpu());
  const Problem p = make_problem(50, 6, {40, 9}, 3, Ids::kUniform, true, DType::kF32, 960);
  DeviceProblem dp(ctx, p, DType::kF32, DType::kI32);
  const std::int64_t out_rows = embedding_bag_output_rows(dp.bags, PoolingMode::kSum);
  Tensor dense = Tensor::empty(ctx, DType::kF32, {out_rows, p.dim}), strided_out = Tensor::empty(ctx, DType::kF32, {out_rows, p.dim});
  embedding_bag_fwd(ctx, dp.tables, dp.bags, dense, {PoolingMode::kSum});
  std::vector<Tensor> blocks;
  std::vector<TensorView> strided;
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    blocks.push_back(Tensor::empty(ctx, DType::kF32, {p.rows(t), 11}));
    strided.push_back(TensorView::strided_rows(blocks.back().data<float>() + 2, DType::kF32, ctx.device(), p.rows(t), p.dim, 11));
    copy(ctx, strided.back(), dp.tables[t]);
  }
  embedding_bag_fwd(ctx, strided, dp.bags, strided_out, {PoolingMode::kSum});
  EXPECT_EQ(testing::to_host<float>(ctx, strided_out), testing::to_host<float>(ctx, dense));
  // Rows closer than a row apart, or columns not adjacent, are refused with the reason.
  std::vector<TensorView> overlapping = strided;
  overlapping[1].strides[0] = p.dim - 1;
  EXPECT_THROW(embedding_bag_fwd(ctx, overlapping, dp.bags, strided_out, {PoolingMode::kSum}), Error);
  std::vector<TensorView> column_strided = strided;
  column_strided[0].strides[1] = 2;
  EXPECT_THROW(embedding_bag_fwd(ctx, column_strided, dp.bags, strided_out, {PoolingMode::kSum}), Error);
}

TEST(EmbeddingBackwardCpu, UnsupportedRequestsSayWhy) {
  SparseOptimizer adagrad{SparseOptimizerKind::kAdagrad, 0.1f};
  SparseOptimizer sgd{SparseOptimizerKind::kSgd, 0.1f};
  EXPECT_EQ(embedding_bag_bwd_supported(2048, DType::kF32, nullptr, EmbeddingBackwardAlgorithm::kSorted).code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(embedding_bag_bwd_supported(64, DType::kBF16, &sgd, EmbeddingBackwardAlgorithm::kSorted).code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(embedding_bag_bwd_supported(64, DType::kF32, &adagrad, EmbeddingBackwardAlgorithm::kAtomic).code(),
            StatusCode::kUnsupported);
  EXPECT_TRUE(embedding_bag_bwd_supported(64, DType::kBF16, nullptr, EmbeddingBackwardAlgorithm::kSorted).is_ok());
  EXPECT_TRUE(embedding_bag_bwd_supported(64, DType::kF32, &sgd, EmbeddingBackwardAlgorithm::kAtomic).is_ok());
  // Through the op: a clear error, and missing optimizer state is named.
  const OptimizerProblem o = optimizer_problem(950, Ids::kUniform, 8, 2);
  expect_error([&] { run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, adagrad, EmbeddingBackwardAlgorithm::kAtomic); },
               StatusCode::kUnsupported, {"atomic"});
  Context ctx(Device::cpu());
  DeviceProblem dp(ctx, o.p, DType::kF32, DType::kI64);
  const TensorView diff = dp.upload(ctx, o.diffs[0], DType::kF32, {8, 2, 17});
  const std::vector<EmbeddingOptimizerState> empty_states(2);
  expect_error([&] { embedding_bag_bwd_update(ctx, dp.tables, dp.bags, diff, {o.pooling}, adagrad, empty_states); },
               StatusCode::kInvalidArgument, {"state1", "table 0"});
}

void backward_bad_input_leaves_tables_untouched(Device device) {
  OptimizerProblem o = optimizer_problem(990, Ids::kUniform, 6, 3);
  o.p.indices[1].back() = 40;  // table 1 has 40 rows
  const SparseOptimizer adam = optimizers()[3];
  Context ctx(device);
  DeviceProblem dp(ctx, o.p, DType::kF32, DType::kI64);
  std::vector<EmbeddingOptimizerState> states;
  for (std::size_t t = 0; t < 2; ++t) {
    const auto n = static_cast<std::size_t>(o.p.rows(t) * o.p.dim);
    states.push_back({dp.upload(ctx, std::vector<float>(n, 0.25f), DType::kF32, {o.p.rows(t), o.p.dim}),
                      dp.upload(ctx, std::vector<float>(n, 0.5f), DType::kF32, {o.p.rows(t), o.p.dim})});
  }
  const TensorView diff = dp.upload(ctx, o.diffs[0], DType::kF32, {6, 2, 17});
  // On a GPU the error surfaces at the next synchronisation; nothing was written either way.
  expect_error([&] {
    embedding_bag_bwd_update(ctx, dp.tables, dp.bags, diff, {o.pooling}, adam, states);
    ctx.synchronize();
  }, StatusCode::kOutOfRange, {"embedding_bag_bwd_update", "table 1", "id 40", "[0, 40)"});
  for (std::size_t t = 0; t < 2; ++t) {
    const auto w = testing::to_host<float>(ctx, dp.tables[t]);
    EXPECT_TRUE(testing::bitwise_equal(w.data(), o.p.tables[t].data(), w.size() * 4)) << "table " << t << " changed";
    for (float x : testing::to_host<float>(ctx, states[t].state1)) ASSERT_EQ(x, 0.25f);
  }
  expect_error([&] {
    (void)embedding_bag_bwd(ctx, dp.tables, dp.bags, diff, {o.pooling});
    ctx.synchronize();
  }, StatusCode::kOutOfRange, {"embedding_bag_bwd", "position"});
  // The error was raised once and cleared: the context goes on working.
  o.p.indices[1].back() = 39;
  DeviceProblem good(ctx, o.p, DType::kF32, DType::kI64);
  EXPECT_NO_THROW({
    embedding_bag_bwd_update(ctx, good.tables, good.bags, diff, {o.pooling}, adam, states);
    ctx.synchronize();
  });
}

TEST(EmbeddingBackwardCpu, BadInputLeavesTablesUntouched) { backward_bad_input_leaves_tables_untouched(Device::cpu()); }

// Many tables: the call's first error by (kind, table, position), however its tables are split into launches (32
// a launch forward) and resolve chunks (64): malformed offsets anywhere come before a bad id anywhere, and a bad
// id past the 64th table is reported with its own value and bound. The same words on every device.
void many_table_errors(Device device) {
  std::vector<std::int64_t> rows(70);
  for (std::size_t t = 0; t < rows.size(); ++t) rows[t] = 10 + static_cast<std::int64_t>(t);
  const auto set_bags = [](Problem& p, std::size_t t, std::vector<std::int64_t> offsets, std::vector<std::int64_t> ids) {
    p.offsets[t] = std::move(offsets);
    p.indices[t] = std::move(ids);
  };
  Problem forty = make_problem(4, 4, std::vector<std::int64_t>(rows.begin(), rows.begin() + 40), 2, Ids::kUniform,
                               false, DType::kF32, 210);
  set_bags(forty, 2, {0, 1, 2, 3, 4}, {1, 50, 2, 3});       // a bad id in table 2 (chunk 0 of the forward)
  set_bags(forty, 35, {0, 2, 1, 3, 4}, {1, 2, 3, 4});       // malformed offsets in table 35 (chunk 1)
  expect_error([&] { run_fwd(device, forty, DType::kF32, DType::kI32, {PoolingMode::kSum}); },
               StatusCode::kInvalidArgument, {"embedding_bag_fwd: offsets of table 35 are malformed at bag 1"});

  Problem seventy = make_problem(4, 4, rows, 2, Ids::kUniform, false, DType::kF32, 211);
  set_bags(seventy, 66, {0, 1, 2, 4, 4}, {1, 2, 3, 99});
  expect_error([&] { run_fwd(device, seventy, DType::kF32, DType::kI64, {PoolingMode::kSum}); },
               StatusCode::kOutOfRange, {"embedding_bag_fwd: table 66, index position 3: id 99 is outside [0, 76)"});
  const std::vector<float> diff(4 * 70 * 4, 1.0f);
  expect_error([&] { (void)run_bwd(device, seventy, DType::kF32, DType::kI32, PoolingMode::kSum, diff); },
               StatusCode::kOutOfRange, {"embedding_bag_bwd: table 66, index position 3: id 99 is outside [0, 76)"});
}

TEST(EmbeddingCpu, ManyTablesReportTheCallsFirstError) { many_table_errors(Device::cpu()); }

TEST(EmbeddingCuda, ManyTablesReportTheCallsFirstErrorAsTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  many_table_errors(Device::cuda(0));
}

TEST(EmbeddingBackwardCuda, GradientBitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 1500;
  for (const Case& c : backward_cases()) {
    if (c.dim > kEmbeddingBackwardMaxDim) continue;
    SCOPED_TRACE(c.name());
    const Problem p = make_problem(c.batch, c.dim, c.rows, c.max_bag, c.ids, c.weighted, c.storage, stream++);
    Context probe(Device::cpu());
    DeviceProblem dp(probe, p, c.storage, c.index);
    const std::int64_t out_rows = embedding_bag_output_rows(dp.bags, c.pooling);
    const std::vector<float> diff = testing::random_floats(static_cast<std::size_t>(out_rows * c.dim), -1, 1, stream++);
    const HostGradient cpu = run_bwd(Device::cpu(), p, c.storage, c.index, c.pooling, diff);
    const HostGradient gpu = run_bwd(Device::cuda(0), p, c.storage, c.index, c.pooling, diff);
    ASSERT_EQ(cpu.table, gpu.table);
    ASSERT_EQ(cpu.row, gpu.row);
    EXPECT_TRUE(testing::bitwise_equal(gpu.values.data(), cpu.values.data(), cpu.values.size() * 4));
  }
}

TEST(EmbeddingBackwardCuda, FusedOptimizersBitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  for (Ids ids : {Ids::kUniform, Ids::kHotRow, Ids::kZipf}) {
    const OptimizerProblem o = optimizer_problem(1600 + static_cast<std::uint64_t>(ids), ids, 3000, 5);
    for (const SparseOptimizer& opt : optimizers()) {
      SCOPED_TRACE(to_string(opt.kind));
      const OptimizerRun cpu = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, opt);
      for (StateLayout layout : {StateLayout::kSeparate, StateLayout::kInterleaved}) {
        SCOPED_TRACE(layout == StateLayout::kSeparate ? "separate state" : "interleaved state");
        const OptimizerRun gpu = run_optimizer(Device::cuda(0), o.p, o.pooling, o.diffs, opt,
                                               EmbeddingBackwardAlgorithm::kSorted, layout);
        expect_runs_bitwise_equal(gpu, cpu);
      }
    }
  }
}

TEST(EmbeddingBackwardCuda, SortedBackwardIsBitwiseRunToRun) {
  RECKON_SKIP_WITHOUT_CUDA();
  const Problem p = make_problem(20000, 64, {50000, 7}, 12, Ids::kZipf, true, DType::kF32, 1650);
  const std::vector<float> diff = testing::random_floats(20000 * 2 * 64, -1, 1, 1651);
  const HostGradient a = run_bwd(Device::cuda(0), p, DType::kF32, DType::kI32, PoolingMode::kSum, diff);
  const HostGradient b = run_bwd(Device::cuda(0), p, DType::kF32, DType::kI32, PoolingMode::kSum, diff);
  ASSERT_EQ(a.row, b.row);
  EXPECT_TRUE(testing::bitwise_equal(a.values.data(), b.values.data(), a.values.size() * 4));
}

TEST(EmbeddingBackwardCuda, AtomicSgdCloseToSorted) {
  RECKON_SKIP_WITHOUT_CUDA();
  const OptimizerProblem o = optimizer_problem(1700, Ids::kHotRow, 2000, 4);
  SparseOptimizer sgd{SparseOptimizerKind::kSgd, 0.1f};
  const OptimizerRun sorted = run_optimizer(Device::cuda(0), o.p, o.pooling, o.diffs, sgd);
  const OptimizerRun atomic = run_optimizer(Device::cuda(0), o.p, o.pooling, o.diffs, sgd, EmbeddingBackwardAlgorithm::kAtomic);
  for (std::size_t t = 0; t < sorted.tables.size(); ++t) {
    EXPECT_TRUE(testing::all_close(atomic.tables[t], sorted.tables[t], {1e-4, 1e-4}));
  }
}

TEST(EmbeddingBackwardCuda, BadInputLeavesTablesUntouched) {
  RECKON_SKIP_WITHOUT_CUDA();
  backward_bad_input_leaves_tables_untouched(Device::cuda(0));
}

// ---- Parity cases a first GPU run needs (they skip without a device) -------------------------------------------

// Aligned outputs (GuardedBuffer keeps 256-byte alignment): every D % 4 == 0 case takes the vector path, and it
// is bitwise the CPU's.
TEST(EmbeddingCuda, AlignedOutputsTakeTheVectorPathBitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 3000;
  for (const std::int64_t D : {4, 16, 64, 128}) {
    for (const DType storage : {DType::kF32, DType::kBF16}) {
      for (const PoolingMode pooling : {PoolingMode::kSum, PoolingMode::kMean, PoolingMode::kNone}) {
        SCOPED_TRACE("D=" + std::to_string(D) + " " + dtype_name(storage) + " " + to_string(pooling));
        const Problem p = make_problem(300, D, {1000, 37}, 5, Ids::kZipf, false, storage, stream++);
        const std::vector<float> cpu = run_fwd(Device::cpu(), p, storage, DType::kI64, {pooling});
        const std::vector<float> gpu = run_fwd(Device::cuda(0), p, storage, DType::kI64, {pooling});
        EXPECT_EQ(last_dispatch("embedding_bag_fwd").implementation, "cuda_vec4");
        EXPECT_TRUE(testing::bitwise_equal(gpu.data(), cpu.data(), cpu.size() * 4));
      }
    }
  }
}

// Tables whose rows sit `stride` floats apart from `base` floats into their buffer.
std::vector<float> run_strided_fwd(Device device, const Problem& p, std::int64_t stride, std::int64_t base,
                                   const char* expected_implementation) {
  Context ctx(device);
  DeviceProblem dp(ctx, p, DType::kF32, DType::kI64);
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    const std::int64_t rows = p.rows(t);
    std::vector<float> block(static_cast<std::size_t>(base + rows * stride), kPadding);
    for (std::int64_t r = 0; r < rows; ++r) {
      std::copy_n(p.tables[t].begin() + r * p.dim, p.dim, block.begin() + base + r * stride);
    }
    const TensorView whole = dp.upload(ctx, block, DType::kF32, {static_cast<std::int64_t>(block.size())});
    dp.tables[t] = TensorView::strided_rows(static_cast<float*>(whole.data) + base, DType::kF32, ctx.device(), rows,
                                            p.dim, stride);
  }
  const std::int64_t rows = embedding_bag_output_rows(dp.bags, PoolingMode::kSum);
  GuardedBuffer<float> out(ctx, static_cast<std::size_t>(rows * p.dim));
  embedding_bag_fwd(ctx, dp.tables, dp.bags, out.view({rows, p.dim}), {PoolingMode::kSum});
  if (device.is_cuda()) {
    EXPECT_EQ(last_dispatch("embedding_bag_fwd").implementation, expected_implementation);
  }
  return out.download();
}

TEST(EmbeddingCuda, StridedTablesTakeTheVectorPathOnlyWhenRowsAreAligned) {
  RECKON_SKIP_WITHOUT_CUDA();
  const Problem p = make_problem(200, 16, {500, 90}, 4, Ids::kUniform, false, DType::kF32, 3100);
  const std::vector<float> want = run_fwd(Device::cpu(), p, DType::kF32, DType::kI64, {PoolingMode::kSum});
  struct Layout {
    std::int64_t stride, base;
    const char* implementation;
  };
  for (const Layout& l : {Layout{48, 0, "cuda_vec4"}, Layout{18, 0, "cuda_scalar"}, Layout{16, 2, "cuda_scalar"}}) {
    SCOPED_TRACE("stride " + std::to_string(l.stride) + ", base offset " + std::to_string(l.base));
    const std::vector<float> got = run_strided_fwd(Device::cuda(0), p, l.stride, l.base, l.implementation);
    EXPECT_TRUE(testing::bitwise_equal(got.data(), want.data(), want.size() * 4));
  }
}

OptimizerProblem optimizer_problem_of_dim(std::uint64_t stream, Ids ids, std::int64_t batch, int max_bag,
                                          std::int64_t dim) {
  OptimizerProblem o{make_problem(batch, dim, {300, 40}, max_bag, ids, false, DType::kF32, stream), PoolingMode::kMean, {}};
  for (int step = 0; step < 3; ++step) {
    o.diffs.push_back(testing::random_floats(static_cast<std::size_t>(batch * 2 * dim), -1, 1,
                                             stream * 10 + static_cast<std::uint64_t>(step)));
  }
  return o;
}

// The fused update across the group sizes (D = 1 is one lane, 33 a partial second warp), every optimizer, both
// state layouts; hot rows (runs past kEmbeddingLongRun) at D = 1 and 16.
TEST(EmbeddingBackwardCuda, FusedUpdateAcrossDimsOptimizersAndLayouts) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  std::uint64_t stream = 3200;
  for (const std::int64_t D : {1, 4, 16, 32, 33}) {
    for (const Ids ids : {Ids::kUniform, Ids::kHotRow}) {
      if (ids == Ids::kHotRow && D != 1 && D != 16) continue;
      const OptimizerProblem o = optimizer_problem_of_dim(stream++, ids, ids == Ids::kHotRow ? 400 : 120, 4, D);
      for (const SparseOptimizer& opt : optimizers()) {
        const OptimizerRun cpu = run_optimizer(Device::cpu(), o.p, o.pooling, o.diffs, opt);
        for (const StateLayout layout : {StateLayout::kSeparate, StateLayout::kInterleaved}) {
          SCOPED_TRACE("D=" + std::to_string(D) + (ids == Ids::kHotRow ? " hot row " : " ") + to_string(opt.kind) +
                       (layout == StateLayout::kSeparate ? " separate" : " interleaved"));
          const OptimizerRun gpu = run_optimizer(Device::cuda(0), o.p, o.pooling, o.diffs, opt,
                                                 EmbeddingBackwardAlgorithm::kSorted, layout);
          expect_runs_bitwise_equal(gpu, cpu);
        }
      }
    }
  }
}

// The gradient-only backward at the widest D it takes (one row staged in shared memory per group), and over more
// tables than the descriptor fill takes per launch, with a hot row.
TEST(EmbeddingBackwardCuda, GradientAtTheWidestDimAndOverManyTables) {
  RECKON_SKIP_WITHOUT_CUDA();
  struct Shape {
    std::int64_t batch, dim;
    std::vector<std::int64_t> rows;
    Ids ids;
  };
  std::uint64_t stream = 3300;
  for (const Shape& c : {Shape{64, kEmbeddingBackwardMaxDim, {300}, Ids::kZipf},
                         Shape{500, 8, std::vector<std::int64_t>(40, 30), Ids::kHotRow}}) {
    SCOPED_TRACE("D=" + std::to_string(c.dim) + " T=" + std::to_string(c.rows.size()));
    const Problem p = make_problem(c.batch, c.dim, c.rows, 3, c.ids, false, DType::kF32, stream++);
    Context probe(Device::cpu());
    DeviceProblem dp(probe, p, DType::kF32, DType::kI64);
    const std::int64_t out_rows = embedding_bag_output_rows(dp.bags, PoolingMode::kSum);
    const std::vector<float> diff = testing::random_floats(static_cast<std::size_t>(out_rows * c.dim), -1, 1, stream++);
    const HostGradient cpu = run_bwd(Device::cpu(), p, DType::kF32, DType::kI64, PoolingMode::kSum, diff);
    const HostGradient gpu = run_bwd(Device::cuda(0), p, DType::kF32, DType::kI64, PoolingMode::kSum, diff);
    ASSERT_EQ(cpu.table, gpu.table);
    ASSERT_EQ(cpu.row, gpu.row);
    EXPECT_TRUE(testing::bitwise_equal(gpu.values.data(), cpu.values.data(), cpu.values.size() * 4));
  }
}

// One table of more than 2^31 elements (9M x 256 f32, 9.2 GB): row offsets need 64-bit arithmetic in the gather
// and in the update. Skips when the device has less than 12 GB.
TEST(EmbeddingCuda, TablesPast2To31ElementsAreAddressedIn64Bits) {
  RECKON_SKIP_WITHOUT_CUDA();
  if (cuda_devices().at(0).global_memory_bytes < (std::size_t{12} << 30)) GTEST_SKIP() << "needs 12 GB of device memory";
  Context ctx(Device::cuda(0));
  const std::int64_t N = 9'000'000, D = 256;
  Tensor table = Tensor::empty(ctx, DType::kF32, {N, D});
  random_uniform(ctx, table, -1.0f, 1.0f);
  const std::vector<std::int64_t> ids{N - 1, 8'400'000, 17, N - 2}, offsets{0, 2, 4};
  Tensor id_t = Tensor::empty(ctx, DType::kI64, {4}), off_t = Tensor::empty(ctx, DType::kI64, {3});
  copy_bytes(ctx, id_t.data<std::int64_t>(), ctx.device(), ids.data(), Device::cpu(), 32);
  copy_bytes(ctx, off_t.data<std::int64_t>(), ctx.device(), offsets.data(), Device::cpu(), 24);
  // The rows read, fetched one by one from the device: the expected sums, in the kernel's order.
  auto row = [&](std::int64_t r) {
    std::vector<float> h(static_cast<std::size_t>(D));
    copy_bytes(ctx, h.data(), Device::cpu(), table.data<float>() + r * D, ctx.device(), static_cast<std::size_t>(D) * 4);
    ctx.synchronize();
    return h;
  };
  std::vector<std::vector<float>> before;
  for (const std::int64_t r : ids) before.push_back(row(r));
  Tensor out = Tensor::empty(ctx, DType::kF32, {2, 1, D});
  const std::vector<TensorView> tables{table.view()};
  const std::vector<EmbeddingBags> bags{{off_t.view(), id_t.view()}};
  embedding_bag_fwd(ctx, tables, bags, out, {PoolingMode::kSum});
  const std::vector<float> got = testing::to_host<float>(ctx, out.view());
  for (std::int64_t b = 0; b < 2; ++b) {
    for (std::int64_t d = 0; d < D; ++d) {
      const float want = reckon::add_rn(reckon::add_rn(0.0f, before[static_cast<std::size_t>(2 * b)][static_cast<std::size_t>(d)]),
                                before[static_cast<std::size_t>(2 * b + 1)][static_cast<std::size_t>(d)]);
      ASSERT_EQ(got[static_cast<std::size_t>(b * D + d)], want) << "bag " << b << " column " << d;
    }
  }
  // SGD with lr 1 on a gradient of ones: each row read becomes w + (-1), rounded as the expectation is.
  Tensor ones = Tensor::empty(ctx, DType::kF32, {2, 1, D});
  const std::vector<float> one(static_cast<std::size_t>(2 * D), 1.0f);
  copy_bytes(ctx, ones.data<float>(), ctx.device(), one.data(), Device::cpu(), one.size() * 4);
  const std::vector<EmbeddingOptimizerState> states(1);
  embedding_bag_bwd_update(ctx, tables, bags, ones, {PoolingMode::kSum}, {SparseOptimizerKind::kSgd, 1.0f}, states);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::vector<float> after = row(ids[i]);
    for (std::int64_t d = 0; d < D; ++d) {
      ASSERT_EQ(after[static_cast<std::size_t>(d)], before[i][static_cast<std::size_t>(d)] - 1.0f) << "row " << ids[i];
    }
  }
}

}  // namespace
}  // namespace reckon
