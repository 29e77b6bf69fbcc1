// Row-wise top-k: against a full sort with the documented order (ties by lower column, NaN lowest, -inf excluded),
// masking, bad arguments, and CUDA = CPU bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "reckon/kernels/topk/topk.h"
#include "reckon/kernels/topk/topk_math.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

struct Selected {
  std::vector<std::int32_t> columns;
  std::vector<float> scores;
};

Selected run(Context& ctx, const std::vector<float>& host, std::int64_t rows, std::int64_t cols, int k,
             const std::vector<std::int32_t>& mask_rows = {}, const std::vector<std::int32_t>& mask_columns = {}) {
  auto put = [&](const auto& v, DType dtype, std::initializer_list<std::int64_t> sizes) {
    Tensor t = Tensor::empty(ctx, dtype, sizes);
    if (!v.empty()) copy_bytes(ctx, t.view().data, ctx.device(), v.data(), Device::cpu(), v.size() * sizeof(v[0]));
    return t;
  };
  const Tensor s = put(host, DType::kF32, {rows, cols});
  if (!mask_rows.empty()) {
    const Tensor r = put(mask_rows, DType::kI32, {static_cast<std::int64_t>(mask_rows.size())});
    const Tensor c = put(mask_columns, DType::kI32, {static_cast<std::int64_t>(mask_columns.size())});
    mask_entries(ctx, s.view(), r.view(), c.view());
  }
  const Tensor oc = Tensor::empty(ctx, DType::kI32, {rows, k}), os = Tensor::empty(ctx, DType::kF32, {rows, k});
  topk_rows(ctx, s.view(), k, oc.view(), os.view());
  return {testing::to_host<std::int32_t>(ctx, oc.view()), testing::to_host<float>(ctx, os.view())};
}

std::vector<float> scores_with_ties(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::vector<float> s = testing::random_floats(static_cast<std::size_t>(rows * cols), -1, 1, seed);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i % 7 == 0) s[i] = std::round(s[i] * 4) / 4;  // many ties
    if (i % 97 == 0) s[i] = std::nanf("");
    if (i % 89 == 0) s[i] = -INFINITY;
  }
  return s;
}

TEST(TopkCpu, MatchesAFullSortInTheDocumentedOrder) {
  Context ctx(Device::cpu());
  const std::int64_t rows = 9, cols = 1000;
  const auto s = scores_with_ties(rows, cols, 3);
  for (const int k : {1, 10, 40, 256}) {
    const Selected got = run(ctx, s, rows, cols, k);
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<std::int32_t> order(static_cast<std::size_t>(cols));
      std::iota(order.begin(), order.end(), 0);
      const float* row = s.data() + r * cols;
      auto key = [](float v) { return std::isnan(v) ? -INFINITY : v; };
      std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return key(row[a]) > key(row[b]); });
      for (int j = 0; j < k; ++j) {
        const std::int32_t want = key(row[order[static_cast<std::size_t>(j)]]) > -INFINITY ? order[static_cast<std::size_t>(j)] : -1;
        ASSERT_EQ(got.columns[static_cast<std::size_t>(r * k + j)], want) << "row " << r << " rank " << j << " k " << k;
      }
    }
  }
  // Fewer valid entries than k: the rest is -1.
  const Selected few = run(ctx, {1.0f, -INFINITY, 0.5f}, 1, 3, 3);
  EXPECT_EQ(few.columns, (std::vector<std::int32_t>{0, 2, -1}));
  // Masking excludes entries; pairs outside the matrix are ignored.
  const Selected masked = run(ctx, {3.0f, 2.0f, 1.0f, 0.0f}, 1, 4, 2, {0, 0, 5}, {0, 2, 1});
  EXPECT_EQ(masked.columns, (std::vector<std::int32_t>{1, 3}));
  EXPECT_THROW((void)run(ctx, {1.0f}, 1, 1, 0), Error);
  EXPECT_THROW((void)run(ctx, {1.0f}, 1, 1, kTopkMaxK + 1), Error);
}

// The CUDA top-k's cut of few long rows into slices: every column in exactly one non-empty slice, no slice under
// the minimum, and no cut when the rows fill the device or are short.
TEST(TopkSlicing, CoversEveryColumnOnce) {
  for (const std::int64_t rows : {1, 7, 64, 527, 528, 100000}) {
    for (const std::int64_t cols : {1, 1000, 131071, 131072, 1000000, 2000000000}) {
      const detail::TopkSlicing s = detail::topk_slicing(rows, cols, 528);
      SCOPED_TRACE(::testing::Message() << rows << " rows, " << cols << " columns");
      ASSERT_GE(s.slices, 1);
      EXPECT_GE(s.slices * s.slice, cols);
      EXPECT_LT((s.slices - 1) * s.slice, cols);  // the last slice is not empty
      if (s.slices > 1) {
        EXPECT_GE(s.slice, detail::kTopkMinSlice);
      }
      if (rows >= 528 || cols < 2 * detail::kTopkMinSlice) {
        EXPECT_EQ(s.slices, 1);
      }
      EXPECT_LE(s.slices * rows, std::max<std::int64_t>(rows, 528 + rows));  // about the blocks wanted
    }
  }
  EXPECT_EQ(detail::topk_slicing(64, 1000000, 528).slices, 9);
}

TEST(TopkCuda, BitwiseEqualToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  for (const std::int64_t cols : {std::int64_t{5}, std::int64_t{1000}, std::int64_t{200000}}) {
    const std::int64_t rows = 7;
    const auto s = scores_with_ties(rows, cols, static_cast<std::uint64_t>(cols));
    for (const int k : {1, 20, 33, 256}) {
      const Selected a = run(cpu, s, rows, cols, k, {0, 3}, {1, 2}), b = run(gpu, s, rows, cols, k, {0, 3}, {1, 2});
      EXPECT_EQ(a.columns, b.columns) << "cols " << cols << " k " << k;
      EXPECT_TRUE(testing::bitwise_equal(a.scores.data(), b.scores.data(), a.scores.size() * 4));
    }
  }
}

// Few rows of many columns are cut into slices (a block each) and the slices' candidates merged: the winners all in
// one slice, ties across slice borders, rows with fewer than k valid entries.
TEST(TopkCuda, SlicedRowsEqualCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  const std::int64_t rows = 4, cols = 700001;
  std::vector<float> s(static_cast<std::size_t>(rows * cols));
  for (std::int64_t c = 0; c < cols; ++c) {
    const auto i = static_cast<std::size_t>(c);
    s[i] = static_cast<float>(c);                                                    // the best all at the end
    s[static_cast<std::size_t>(cols) + i] = static_cast<float>(c / 100000);          // long runs of ties
    s[static_cast<std::size_t>(2 * cols) + i] = c % 150000 == 7 ? 1.0f : -INFINITY;  // five valid entries
    s[static_cast<std::size_t>(3 * cols) + i] = c % 2 == 0 ? std::nanf("") : -static_cast<float>(c % 1000);
  }
  for (const int k : {1, 20, 33, 256}) {
    const Selected a = run(cpu, s, rows, cols, k), b = run(gpu, s, rows, cols, k);
    EXPECT_EQ(a.columns, b.columns) << "k " << k;
    EXPECT_TRUE(testing::bitwise_equal(a.scores.data(), b.scores.data(), a.scores.size() * 4)) << "k " << k;
  }
}

// Many short rows, a few very long ones at the largest k, k above the column count, and rows with no valid entry.
TEST(TopkCuda, EdgeShapesEqualCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  struct Case {
    std::int64_t rows, cols;
    int k;
  };
  for (const Case& c : {Case{70000, 5, 5}, Case{3, 200000, 256}, Case{9, 17, 40}}) {
    SCOPED_TRACE(std::to_string(c.rows) + " x " + std::to_string(c.cols) + ", k " + std::to_string(c.k));
    const auto s = scores_with_ties(c.rows, c.cols, static_cast<std::uint64_t>(c.rows * 31 + c.cols));
    const Selected a = run(cpu, s, c.rows, c.cols, c.k), b = run(gpu, s, c.rows, c.cols, c.k);
    EXPECT_EQ(a.columns, b.columns);
    EXPECT_TRUE(testing::bitwise_equal(a.scores.data(), b.scores.data(), a.scores.size() * 4));
  }
  const std::int64_t cols = 1000;
  std::vector<float> none(static_cast<std::size_t>(2 * cols));
  for (std::int64_t c = 0; c < cols; ++c) {
    none[static_cast<std::size_t>(c)] = std::nanf("");
    none[static_cast<std::size_t>(cols + c)] = -INFINITY;
  }
  const Selected a = run(cpu, none, 2, cols, 20), b = run(gpu, none, 2, cols, 20);
  EXPECT_EQ(a.columns, b.columns);
  for (const std::int32_t column : b.columns) EXPECT_EQ(column, -1) << "no entry of a NaN or -inf row is valid";
  EXPECT_TRUE(testing::bitwise_equal(a.scores.data(), b.scores.data(), a.scores.size() * 4));
}
}  // namespace
}  // namespace reckon
