// CUDA implicit-GEMM forward convolution, f32 with FMA: the convolution as the product
//   Y[m, k] = Σ_j A[m, j] · B[j, k],   m = (n, z, p, q), k an output channel of the group, j = a filter tap (c, t, r, s)
// with A never materialised: each tile of A is gathered from x as it is loaded (zero outside the input), and B is
// the filters, [K, J] row-major in the filters' own order (c, t, r, s for NCDHW, t, r, s, c for NDHWC). Tiles of
// 64 x 64 outputs, 8 taps deep, staged in shared memory with cp.async (sm_80 and later; plain loads before) in two
// buffers, so the next tile loads while this one is multiplied; 256 threads, 4 x 4 outputs each. Groups are the
// grid's z. Bias and ReLU are applied in the epilogue.
#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 8, kThreads = 256;

// One 4-byte element into shared memory, or zero when `valid` is false; asynchronous where the device allows.
__device__ __forceinline__ void load_element(float* shared, const float* global, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 4 : 0));
#else
  *shared = valid ? *global : 0.0f;
#endif
}

__device__ __forceinline__ void commit_loads() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most `pending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void wait_loads() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

struct OutputPosition {
  std::int64_t n, z, p, q;
  bool valid;
};

__device__ OutputPosition decode_output(const ConvProblem& P, std::int64_t m) {
  OutputPosition o;
  o.valid = m < P.n * P.z * P.p * P.q;
  o.q = m % P.q;
  m /= P.q;
  o.p = m % P.p;
  m /= P.p;
  o.z = m % P.z;
  o.n = m / P.z;
  return o;
}

// A[m, j]: the input element output m's tap j reads, or null in the padding.
__device__ const float* a_element(const ConvProblem& P, const OutputPosition& o, std::int64_t group, std::int64_t j,
                                  std::int64_t taps) {
  if (!o.valid || j >= taps) return nullptr;
  std::int64_t c, t, r, s;
  decode_tap(P, j, c, t, r, s);
  const std::int64_t d = input_at(P, 0, o.z, t), h = input_at(P, 1, o.p, r), w = input_at(P, 2, o.q, s);
  if (d < 0 || d >= P.d || h < 0 || h >= P.h || w < 0 || w >= P.w) return nullptr;
  return P.x + x_index(P, o.n, group * P.cg + c, d, h, w);
}

struct Tiles {
  float a[2][kTileK][kTileM];
  float b[2][kTileK][kTileN];
};

__global__ void __launch_bounds__(kThreads) conv_fwd_igemm_kernel(ConvProblem P) {
  __shared__ Tiles tiles;
  const int tid = threadIdx.x;
  const std::int64_t group = blockIdx.z, m0 = static_cast<std::int64_t>(blockIdx.x) * kTileM;
  const std::int64_t k0 = static_cast<std::int64_t>(blockIdx.y) * kTileN;
  const std::int64_t taps = P.cg * P.t * P.r * P.s;
  // This thread loads A's row m0 + tid % 64 and B's column k0 + tid % 64, taps tid / 64 and tid / 64 + 4.
  const int row = tid % kTileM, lane_k = tid / kTileM;
  const OutputPosition mine = decode_output(P, m0 + row);
  const std::int64_t filter = group * P.kg + k0 + row;
  const bool filter_valid = k0 + row < P.kg;
  const auto load_tile = [&](int stage, std::int64_t j0) {
    for (int half = 0; half < 2; ++half) {
      const int kk = lane_k + half * 4;
      const float* a = a_element(P, mine, group, j0 + kk, taps);
      load_element(&tiles.a[stage][kk][row], a != nullptr ? a : P.x, a != nullptr);
      const bool b_valid = filter_valid && j0 + kk < taps;
      load_element(&tiles.b[stage][kk][row], b_valid ? P.wt + filter * taps + j0 + kk : P.wt, b_valid);
    }
    commit_loads();
  };
  float acc[4][4] = {};
  const int tx = tid % 16, ty = tid / 16;
  const std::int64_t steps = (taps + kTileK - 1) / kTileK;
  load_tile(0, 0);
  for (std::int64_t step = 0; step < steps; ++step) {
    const int stage = static_cast<int>(step & 1);
    if (step + 1 < steps) {
      load_tile(stage ^ 1, (step + 1) * kTileK);
      wait_loads<1>();
    } else {
      wait_loads<0>();
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = tiles.a[stage][kk][ty * 4 + i];
        b[i] = tiles.b[stage][kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int jn = 0; jn < 4; ++jn) acc[i][jn] = fmaf(a[i], b[jn], acc[i][jn]);
      }
    }
    __syncthreads();  // the stage is refilled by the next step's load
  }
  for (int i = 0; i < 4; ++i) {
    const OutputPosition o = decode_output(P, m0 + ty * 4 + i);
    if (!o.valid) continue;
    for (int jn = 0; jn < 4; ++jn) {
      const std::int64_t k = k0 + tx * 4 + jn;
      if (k >= P.kg) continue;
      const std::int64_t channel = group * P.kg + k;
      float v = acc[i][jn];
      if (P.bias != nullptr) v = add_rn(v, P.bias[channel]);
      if (P.relu) v = v <= 0.0f ? 0.0f : v;
      P.out[y_index(P, o.n, channel, o.z, o.p, o.q)] = v;
    }
  }
}

}  // namespace

void conv3d_igemm_fwd_cuda(Context& ctx, const ConvProblem& P) {
  DeviceGuard guard(ctx.device().index);
  const std::int64_t m = P.n * P.z * P.p * P.q;
  const dim3 grid(static_cast<unsigned>((m + kTileM - 1) / kTileM), static_cast<unsigned>((P.kg + kTileN - 1) / kTileN),
                  static_cast<unsigned>(P.groups));
  RECKON_LAUNCH(conv_fwd_igemm_kernel, grid, kThreads, 0, cuda_stream(ctx), P);
}

}  // namespace reckon::detail
