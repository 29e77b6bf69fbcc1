// CUDA random fills. Thread mapping: one thread per Philox block (four consecutive elements), grid-stride over the
// blocks so any length fits a bounded grid. The loops over a block's four words are unrolled with the tail as a
// predicate, so the words stay in registers (a loop bound known only at run time would index them from local memory).
#include "reckon/kernels/random/random_impl.h"
#include "reckon/kernels/random/random_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

template <typename T>
__global__ void random_fill_block_per_thread_kernel(T* __restrict__ dst, std::int64_t n, RandomFillArgs args) {
  const std::int64_t blocks = (n + 3) / 4;
  for (std::int64_t b = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t first = b * 4;
    const int count = n - first < 4 ? static_cast<int>(n - first) : 4;
    if constexpr (std::is_same_v<T, std::int32_t>) {
      const Philox4x32 r = philox_block(args.seed, args.stream, static_cast<std::uint64_t>(b));
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (k < count) dst[first + k] = static_cast<std::int32_t>(r.v[k]);
      }
    } else {
      float values[4];
      random_block_values(args, static_cast<std::uint64_t>(b), values);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (k >= count) break;
        if constexpr (std::is_same_v<T, float>) {
          dst[first + k] = values[k];
        } else {
          dst[first + k] = to_bf16(values[k]);
        }
      }
    }
  }
}

template <typename T>
void launch(Context& ctx, T* dst, std::int64_t n, const RandomFillArgs& args) {
  constexpr int kThreads = 256;
  const auto& prop = device_properties(ctx.device().index);
  const long long blocks_needed = ((n + 3) / 4 + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(std::min<long long>(blocks_needed, 32LL * prop.multiProcessorCount));
  RECKON_LAUNCH(random_fill_block_per_thread_kernel<T>, grid, kThreads, 0, cuda_stream(ctx), dst, n, args);
}

}  // namespace

void random_fill_cuda(Context& ctx, const TensorView& dst, const RandomFillArgs& args) {
  DeviceGuard guard(ctx.device().index);
  switch (dst.dtype) {
    case DType::kF32: launch(ctx, static_cast<float*>(dst.data), dst.numel(), args); break;
    case DType::kBF16: launch(ctx, static_cast<bf16*>(dst.data), dst.numel(), args); break;
    case DType::kI32: launch(ctx, static_cast<std::int32_t*>(dst.data), dst.numel(), args); break;
    default: RECKON_THROW(StatusCode::kUnsupported, "random fill: dtype ", dtype_name(dst.dtype));
  }
}

}  // namespace reckon::detail
