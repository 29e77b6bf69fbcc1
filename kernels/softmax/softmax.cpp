#include "reckon/kernels/softmax/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/softmax/bpr_max_math.h"
#include "reckon/kernels/softmax/softmax_impl.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/fp.h"

namespace reckon {
namespace {

void softmax_cpu(Context& ctx, const detail::SoftmaxArgs& a) {
  const std::int64_t N = a.cols;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t b = 0; b < a.rows; ++b) {
    const float* z = a.logits + b * N;
    float* d = a.diff + b * N;
    const std::int32_t t = a.targets[b];
    if (t < 0) {
      for (std::int64_t j = 0; j < N; ++j) d[j] = 0.0f;
      a.losses[b] = 0.0f;
      continue;
    }
    float top = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < N; ++j) top = std::max(top, z[j]);
    const float zt = z[t];  // before d, which may be z, is written
    // One exponential per logit: kept in d, then scaled by 1 / sum (the CUDA kernel takes exp(z − lse) instead).
    float sum = 0.0f;
    for (std::int64_t j = 0; j < N; ++j) {
      const float e = expf(sub_rn(z[j], top));
      d[j] = e;
      sum = add_rn(sum, e);
    }
    a.losses[b] = sub_rn(add_rn(top, logf(sum)), zt);
    const float factor = a.scale / sum;
    for (std::int64_t j = 0; j < N; ++j) d[j] = mul_rn(d[j], factor);
    d[t] = sub_rn(d[t], a.scale);
  }
}

void softmax_cuda(Context& ctx, const detail::SoftmaxArgs& a) {
#if RECKON_WITH_CUDA
  detail::softmax_cross_entropy_cuda(ctx, a);
#else
  (void)ctx, (void)a;
#endif
}

const auto kSoftmax = cuda_then_cpu<detail::SoftmaxArgs>(
    "softmax_cross_entropy", "cuda_block_per_row", "a CUDA context (one block reduces a row)", softmax_cuda, softmax_cpu);

void bpr_max_row_cpu(const detail::BprMaxArgs& a, std::int64_t b) {
  const std::int64_t M = a.cols;
  float* d = a.diff + b * M;
  const std::int32_t t = a.targets[b];
  const std::int32_t target_item = t >= 0 ? a.column_items[t] : 0;
  float top = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; t >= 0 && j < M; ++j) {
    if (a.column_items[j] != target_item) top = std::max(top, detail::bpr_score(a, b, j));
  }
  if (t < 0 || top == -std::numeric_limits<float>::infinity()) {  // no part in the loss, or nothing to rank against
    for (std::int64_t j = 0; j < M; ++j) d[j] = 0.0f;
    a.losses[b] = 0.0f;
    return;
  }
  const float target_score = detail::bpr_score(a, b, t);
  thread_local std::vector<detail::BprMaxColumn> columns;  // the sums' exponentials, again in the gradient's pass
  columns.resize(static_cast<std::size_t>(M));
  detail::BprMaxSums sums{};
  for (std::int64_t j = 0; j < M; ++j) {
    if (a.column_items[j] == target_item) continue;
    const float r = detail::bpr_score(a, b, j);
    columns[static_cast<std::size_t>(j)] = detail::bpr_max_column(r, target_score, top);
    sums = sums + detail::bpr_max_terms(r, columns[static_cast<std::size_t>(j)]);
  }
  const detail::BprMaxRow row = detail::bpr_max_row(a, sums);
  for (std::int64_t j = 0; j < M; ++j) {
    const bool negative = a.column_items[j] != target_item;
    d[j] = negative ? detail::bpr_max_negative_grad(a, row, detail::bpr_score(a, b, j), columns[static_cast<std::size_t>(j)],
                                                    sums.e)
                    : 0.0f;
  }
  d[t] = row.target_grad;
  a.losses[b] = row.loss;
}

void bpr_max_cpu(Context& ctx, const detail::BprMaxArgs& a) {
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t b = 0; b < a.rows; ++b) bpr_max_row_cpu(a, b);
}

void bpr_max_cuda(Context& ctx, const detail::BprMaxArgs& a) {
#if RECKON_WITH_CUDA
  detail::bpr_max_loss_cuda(ctx, a);
#else
  (void)ctx, (void)a;
#endif
}

const auto kBprMax = cuda_then_cpu<detail::BprMaxArgs>("bpr_max_loss", "cuda_block_per_row",
                                                       "a CUDA context (one block reduces a row)", bpr_max_cuda, bpr_max_cpu);

}  // namespace

void softmax_cross_entropy(Context& ctx, const TensorView& logits, const TensorView& targets, const TensorView& losses,
                           const TensorView& diff_logits, float scale) {
  RECKON_CHECK_ARG(logits.ndim == 2 && logits.dtype == DType::kF32 && logits.is_contiguous(),
                   "softmax logits must be contiguous f32 [B, N], got ", logits.shape_str());
  const std::int64_t B = logits.size(0), N = logits.size(1);
  RECKON_CHECK_ARG(N > 0 && N < (std::int64_t{1} << 31), "softmax needs 1 <= N < 2^31 columns, got ", N);
  check_shape(targets, "softmax targets", {B});
  check_dtype(targets, "softmax targets", DType::kI32);
  check_shape(losses, "softmax losses", {B});
  check_dtype(losses, "softmax losses", DType::kF32);
  check_shape(diff_logits, "softmax diff_logits", {B, N});
  check_dtype(diff_logits, "softmax diff_logits", DType::kF32);
  RECKON_CHECK_ARG(targets.is_contiguous() && losses.is_contiguous() && diff_logits.is_contiguous(),
                   "softmax operands must be contiguous");
  for (const TensorView* t : {&logits, &targets, &losses, &diff_logits}) check_device(*t, "softmax operand", ctx.device());
  const detail::SoftmaxArgs a{B, N, static_cast<const float*>(logits.data), static_cast<const std::int32_t*>(targets.data),
                              static_cast<float*>(losses.data), static_cast<float*>(diff_logits.data), scale};
  if (ctx.device().is_cpu()) {
    for (std::int64_t b = 0; b < B; ++b) {
      RECKON_CHECK_ARG(a.targets[b] >= -1 && a.targets[b] < N, "softmax target ", a.targets[b], " of row ", b,
                       " is outside [-1, ", N, ")");
    }
  }
  if (B == 0) return;
  dispatch(ctx, kSoftmax, a);
}

void bpr_max_loss(Context& ctx, const TensorView& scores, const TensorView& bias, const TensorView& target_columns,
                  const TensorView& column_items, const TensorView& losses, const TensorView& diff_scores,
                  float regularization, float scale) {
  RECKON_CHECK_ARG(scores.ndim == 2 && scores.dtype == DType::kF32 && scores.is_contiguous(),
                   "BPR-max scores must be contiguous f32 [B, M], got ", scores.shape_str());
  const std::int64_t B = scores.size(0), M = scores.size(1);
  RECKON_CHECK_ARG(M > 0 && M < (std::int64_t{1} << 31), "BPR-max needs 1 <= M < 2^31 columns, got ", M);
  const bool has_bias = bias.data != nullptr;
  if (has_bias) check_shape(bias, "BPR-max bias", {M}), check_dtype(bias, "BPR-max bias", DType::kF32);
  check_shape(target_columns, "BPR-max target columns", {B});
  check_dtype(target_columns, "BPR-max target columns", DType::kI32);
  check_shape(column_items, "BPR-max column items", {M});
  check_dtype(column_items, "BPR-max column items", DType::kI32);
  check_shape(losses, "BPR-max losses", {B});
  check_dtype(losses, "BPR-max losses", DType::kF32);
  check_shape(diff_scores, "BPR-max diff_scores", {B, M});
  check_dtype(diff_scores, "BPR-max diff_scores", DType::kF32);
  RECKON_CHECK_ARG(std::isfinite(regularization) && regularization >= 0, "BPR-max regularization must be >= 0, got ",
                   regularization);
  for (const TensorView* t : {&bias, &target_columns, &column_items, &losses, &diff_scores}) {
    if (t->data == nullptr) continue;
    RECKON_CHECK_ARG(t->is_contiguous(), "BPR-max operands must be contiguous");
    check_device(*t, "BPR-max operand", ctx.device());
  }
  check_device(scores, "BPR-max scores", ctx.device());
  const detail::BprMaxArgs a{B, M, static_cast<const float*>(scores.data), static_cast<const float*>(bias.data),
                             static_cast<const std::int32_t*>(target_columns.data),
                             static_cast<const std::int32_t*>(column_items.data), static_cast<float*>(losses.data),
                             static_cast<float*>(diff_scores.data), regularization, scale};
  if (ctx.device().is_cpu()) {
    for (std::int64_t b = 0; b < B; ++b) {
      RECKON_CHECK_ARG(a.targets[b] >= -1 && a.targets[b] < M, "BPR-max target column ", a.targets[b], " of row ", b,
                       " is outside [-1, ", M, ")");
    }
  }
  if (B == 0) return;
  dispatch(ctx, kBprMax, a);
}

namespace detail {
std::vector<OpDescription> softmax_ops() { return {describe(kSoftmax), describe(kBprMax)}; }
}  // namespace detail

}  // namespace reckon
