// Embedding-bag forward: CPU against a double-precision reference, CUDA against the CPU (bitwise), bad input on
// both devices.
#include "reckon/kernels/embedding/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace reckon
