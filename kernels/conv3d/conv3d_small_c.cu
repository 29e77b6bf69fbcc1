// The CUDA forward for few input channels (C / groups <= 4: a one-hot character volume, a spectrogram). The
// reduction is only C·T·R·S taps (27 for a 3³ filter over one channel), too short for a GEMM tile, so each thread
// computes one output position for kFilters filters at once: the block's filters sit in shared memory, tap-major, and
// each input value read is used kFilters times. The taps are taken in the direct kernel's order (c, t, r, s) with
// fused multiply-adds, so the result is cuda_direct's and cpu_direct's bit for bit.
#include <algorithm>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 128;

// Block (x, y): output positions x, filter chunk y (a group's filters in chunks of kSmallChannelFilters).
__global__ void __launch_bounds__(kThreads) conv_fwd_small_c_kernel(ConvProblem P, int chunks) {
  constexpr int F = kSmallChannelFilters;
  extern __shared__ float filters[];  // [tap][F]
  const std::int64_t group = blockIdx.y / chunks;
  const std::int64_t k0 = group * P.kg + (blockIdx.y % chunks) * F, k_end = (group + 1) * P.kg;
  const std::int64_t taps = P.cg * P.t * P.r * P.s;
  for (std::int64_t i = threadIdx.x; i < taps * F; i += blockDim.x) {
    const Index5 tap = split_index(i / F, P.cg, P.t, P.r, P.s);  // (0, c, t, r, s)
    const std::int64_t k = k0 + i % F;
    filters[i] = k < k_end ? factor(P, P.wt[w_index(P, k, tap.b, tap.c, tap.d, tap.e)]) : 0.0f;
  }
  __syncthreads();
  const std::int64_t first_channel = group * P.cg;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < P.n * P.z * P.p * P.q;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const Index5 o = split_index(i, 1, P.z, P.p, P.q);  // (n, 0, z, p, q)
    float acc[F] = {};
    const float* tap_filters = filters;
    for (std::int64_t c = 0; c < P.cg; ++c) {
      for (std::int64_t t = 0; t < P.t; ++t) {
        const std::int64_t d = input_at(P, 0, o.c, t);
        for (std::int64_t r = 0; r < P.r; ++r) {
          const std::int64_t h = input_at(P, 1, o.d, r);
          for (std::int64_t s = 0; s < P.s; ++s, tap_filters += F) {
            const std::int64_t w = input_at(P, 2, o.e, s);
            if (d < 0 || d >= P.d || h < 0 || h >= P.h || w < 0 || w >= P.w) continue;
            const float v = factor(P, P.x[x_index(P, o.a, first_channel + c, d, h, w)]);
#pragma unroll
            for (int f = 0; f < F; ++f) acc[f] = fmaf(tap_filters[f], v, acc[f]);
          }
        }
      }
    }
#pragma unroll
    for (int f = 0; f < F; ++f) {
      if (k0 + f >= k_end) break;
      float v = acc[f];
      if (P.bias != nullptr) v = add_rn(v, P.bias[k0 + f]);
      if (P.relu) v = v <= 0.0f ? 0.0f : v;
      P.out[y_index(P, o.a, k0 + f, o.c, o.d, o.e)] = v;
    }
  }
}

}  // namespace

void conv3d_small_c_cuda(Context& ctx, const ConvProblem& P) {
  DeviceGuard guard(ctx.device().index);
  const int chunks = static_cast<int>((P.kg + kSmallChannelFilters - 1) / kSmallChannelFilters);
  const std::int64_t positions = P.n * P.z * P.p * P.q;
  const auto& prop = device_properties(ctx.device().index);
  const dim3 grid(static_cast<unsigned>(std::clamp<std::int64_t>((positions + kThreads - 1) / kThreads, 1,
                                                                 8LL * prop.multiProcessorCount)),
                  static_cast<unsigned>(P.groups * chunks));
  const auto shared = static_cast<std::size_t>(P.cg * P.t * P.r * P.s * kSmallChannelFilters) * sizeof(float);
  RECKON_LAUNCH(conv_fwd_small_c_kernel, grid, kThreads, shared, cuda_stream(ctx), P, chunks);
}

}  // namespace reckon::detail
