#include "reckon/kernels/softmax/softmax.h"

#include <cmath>
#include <limits>

#include "reckon/config.h"
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

namespace detail {
std::vector<OpDescription> softmax_ops() { return {describe(kSoftmax)}; }
}  // namespace detail

}  // namespace reckon
