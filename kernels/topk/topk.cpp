#include "reckon/kernels/topk/topk.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/topk/topk_impl.h"
#include "reckon/kernels/topk/topk_math.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/error.h"

namespace reckon {

namespace {

struct TopkProblem {
  const float* s;
  std::int64_t Q, N;
  int k;
  std::int32_t* oc;
  float* os;
};

void topk_cuda(Context& ctx, const TopkProblem& p) {
#if RECKON_WITH_CUDA
  detail::topk_rows_cuda(ctx, p.s, p.Q, p.N, p.k, p.oc, p.os);
#else
  (void)ctx, (void)p;
#endif
}

void topk_cpu(Context& ctx, const TopkProblem& p) {
  const float* s = p.s;
  const std::int64_t Q = p.Q, N = p.N;
  const int k = p.k;
  std::int32_t* oc = p.oc;
  float* os = p.os;
  // One pass per row keeping a sorted list of the best k so far: an entry costs one comparison with the k-th
  // unless it enters the list (about k · ln(N / k) times for random order).
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    std::vector<float> best_score(static_cast<std::size_t>(k));
    std::vector<std::int32_t> best_column(static_cast<std::size_t>(k));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t q = 0; q < Q; ++q) {
      const float* row = s + q * N;
      std::fill(best_score.begin(), best_score.end(), -INFINITY);
      std::fill(best_column.begin(), best_column.end(), -1);
      float* bs = best_score.data();
      std::int32_t* bc = best_column.data();
      for (std::int64_t c = 0; c < N; ++c) {
        if (!(row[c] >= bs[k - 1])) continue;  // the common case; also drops NaN (never >=)
        const float v = detail::topk_key(row[c]);
        const auto col = static_cast<std::int32_t>(c);
        if (v == -INFINITY || !detail::topk_before(v, col, bs[k - 1], bc[k - 1])) continue;
        int at = k - 1;
        while (at > 0 && detail::topk_before(v, col, bs[at - 1], bc[at - 1])) {
          bs[at] = bs[at - 1];
          bc[at] = bc[at - 1];
          --at;
        }
        bs[at] = v;
        bc[at] = col;
      }
      for (int j = 0; j < k; ++j) {
        const bool valid = bc[j] >= 0;
        oc[q * k + j] = valid ? bc[j] : -1;
        os[q * k + j] = valid ? row[bc[j]] : -INFINITY;
      }
    }
  }
}

const auto kTopk = cuda_then_cpu<TopkProblem>(
    "topk_rows", "cuda_sliced", "a CUDA context (rows cut into column slices when they do not fill the device)",
    topk_cuda, topk_cpu);

struct MaskProblem {
  float* s;
  std::int64_t Q, N;
  const std::int32_t* r;
  const std::int32_t* c;
  std::int64_t M;
};

void mask_cuda(Context& ctx, const MaskProblem& p) {
#if RECKON_WITH_CUDA
  detail::mask_entries_cuda(ctx, p.s, p.Q, p.N, p.r, p.c, p.M);
#else
  (void)ctx, (void)p;
#endif
}

void mask_cpu(Context&, const MaskProblem& p) {
  for (std::int64_t i = 0; i < p.M; ++i) {
    if (p.r[i] >= 0 && p.r[i] < p.Q && p.c[i] >= 0 && p.c[i] < p.N) {
      p.s[static_cast<std::int64_t>(p.r[i]) * p.N + p.c[i]] = -INFINITY;
    }
  }
}

const auto kMask = cuda_then_cpu<MaskProblem>("mask_entries", "cuda_thread_per_entry", "a CUDA context", mask_cuda,
                                              mask_cpu);

}  // namespace

void topk_rows(Context& ctx, const TensorView& scores, int k, const TensorView& out_columns,
               const TensorView& out_scores) {
  RECKON_CHECK_ARG(scores.ndim == 2 && scores.dtype == DType::kF32 && scores.is_contiguous(),
                   "scores must be contiguous f32 [Q, N], got ", scores.shape_str());
  const std::int64_t Q = scores.size(0), N = scores.size(1);
  RECKON_CHECK_ARG(N < (std::int64_t{1} << 31), "top-k over ", N, " columns");
  RECKON_CHECK_ARG(k >= 1 && k <= kTopkMaxK, "k ", k, " outside [1, ", kTopkMaxK, "]");
  check_shape(out_columns, "out_columns", {Q, k});
  check_dtype(out_columns, "out_columns", DType::kI32);
  check_shape(out_scores, "out_scores", {Q, k});
  check_dtype(out_scores, "out_scores", DType::kF32);
  for (const TensorView* t : {&scores, &out_columns, &out_scores}) check_device(*t, "top-k tensor", ctx.device());
  RECKON_CHECK_ARG(out_columns.is_contiguous() && out_scores.is_contiguous(), "top-k outputs must be contiguous");
  if (Q == 0) return;
  dispatch(ctx, kTopk,
           TopkProblem{static_cast<const float*>(scores.data), Q, N, k, static_cast<std::int32_t*>(out_columns.data),
                       static_cast<float*>(out_scores.data)});
}

void mask_entries(Context& ctx, const TensorView& scores, const TensorView& rows, const TensorView& columns) {
  RECKON_CHECK_ARG(scores.ndim == 2 && scores.dtype == DType::kF32 && scores.is_contiguous(),
                   "scores must be contiguous f32 [Q, N], got ", scores.shape_str());
  RECKON_CHECK_ARG(rows.ndim == 1 && columns.ndim == 1 && rows.size(0) == columns.size(0) &&
                       rows.dtype == DType::kI32 && columns.dtype == DType::kI32,
                   "mask rows and columns must be i32 [M] of the same length");
  for (const TensorView* t : {&scores, &rows, &columns}) check_device(*t, "mask tensor", ctx.device());
  const std::int64_t Q = scores.size(0), N = scores.size(1), M = rows.size(0);
  if (M == 0) return;
  dispatch(ctx, kMask,
           MaskProblem{static_cast<float*>(scores.data), Q, N, static_cast<const std::int32_t*>(rows.data),
                       static_cast<const std::int32_t*>(columns.data), M});
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> topk_ops() { return {describe(kTopk), describe(kMask)}; }
}  // namespace reckon::detail
