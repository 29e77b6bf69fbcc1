#include "reckon/kernels/random/random.h"

#include <omp.h>

#include <algorithm>

#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/kernels/random/random_impl.h"
#include "reckon/kernels/random/random_math.h"

namespace reckon {
namespace {

void validate(const TensorView& dst, detail::RandomFill fill) {
  RECKON_CHECK_ARG(dst.is_contiguous(), "random fill: dst must be contiguous, got ", dst.shape_str());
  if (fill == detail::RandomFill::kBits) {
    check_dtype(dst, "random_bits dst", DType::kI32);
  } else {
    RECKON_CHECK_ARG(dst.dtype == DType::kF32 || dst.dtype == DType::kBF16,
                     "random fill: dst must be f32 or bf16, got ", dst.shape_str());
  }
  RECKON_CHECK_ARG(dst.numel() == 0 || dst.data != nullptr, "random fill: dst has no data");
}

void random_fill_cpu(Context& ctx, const TensorView& dst, const detail::RandomFillArgs& args) {
  const std::int64_t n = dst.numel();
  const std::int64_t blocks = (n + 3) / 4;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t first = b * 4;
    const int count = static_cast<int>(std::min<std::int64_t>(4, n - first));
    if (args.fill == detail::RandomFill::kBits) {
      const Philox4x32 r = philox_block(args.seed, args.stream, static_cast<std::uint64_t>(b));
      auto* out = static_cast<std::int32_t*>(dst.data) + first;
      for (int k = 0; k < count; ++k) out[k] = static_cast<std::int32_t>(r.v[k]);
      continue;
    }
    float values[4];
    detail::random_block_values(args, static_cast<std::uint64_t>(b), values);
    if (dst.dtype == DType::kF32) {
      std::copy_n(values, count, static_cast<float*>(dst.data) + first);
    } else {
      auto* out = static_cast<bf16*>(dst.data) + first;
      for (int k = 0; k < count; ++k) out[k] = to_bf16(values[k]);
    }
  }
}

struct FillProblem {
  const TensorView& dst;
  detail::RandomFillArgs args;
};

void fill_cuda(Context& ctx, const FillProblem& p) {
#if RECKON_WITH_CUDA
  detail::random_fill_cuda(ctx, p.dst, p.args);
#else
  (void)ctx, (void)p;
#endif
}
void fill_cpu(Context& ctx, const FillProblem& p) { random_fill_cpu(ctx, p.dst, p.args); }

const auto kFill = cuda_then_cpu<FillProblem>("random_fill", "cuda_block_per_counter",
                                              "a CUDA context (a thread per Philox block of 4 values)", fill_cuda,
                                              fill_cpu);

void random_fill(Context& ctx, const TensorView& dst, detail::RandomFill fill, float a, float b, std::uint64_t stream) {
  validate(dst, fill);
  check_device(dst, "random fill dst", ctx.device());
  const detail::RandomFillArgs args{fill, ctx.seed(), stream == kNextRngStream ? ctx.next_rng_stream() : stream, a, b};
  if (dst.numel() == 0) return;
  dispatch(ctx, kFill, FillProblem{dst, args});
}

}  // namespace

void random_uniform(Context& ctx, const TensorView& dst, float lo, float hi, std::uint64_t stream) {
  RECKON_CHECK_ARG(lo <= hi, "random_uniform: lo ", lo, " > hi ", hi);
  random_fill(ctx, dst, detail::RandomFill::kUniform, lo, hi - lo, stream);
}

void random_normal(Context& ctx, const TensorView& dst, float mean, float stddev, std::uint64_t stream) {
  RECKON_CHECK_ARG(stddev >= 0.0f, "random_normal: negative stddev ", stddev);
  random_fill(ctx, dst, detail::RandomFill::kNormal, mean, stddev, stream);
}

void random_bits(Context& ctx, const TensorView& dst, std::uint64_t stream) {
  random_fill(ctx, dst, detail::RandomFill::kBits, 0.0f, 0.0f, stream);
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> random_ops() { return {describe(kFill)}; }
}  // namespace reckon::detail
