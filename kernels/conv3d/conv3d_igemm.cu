// CUDA implicit-GEMM convolution, f32 with FMA or TF32 tensor cores. The forward is the product
//   Y[m, k] = Σ_j A[m, j] · B[j, k],   m = (n, z, p, q), k an output channel of the group, j = a filter tap (c, t, r, s)
// with A never materialised: each tile of A is gathered from x as it is loaded (zero outside the input), and B is
// the filters, [K, J] row-major in the filters' own order (c, t, r, s for NCDHW, t, r, s, c for NDHWC). The data
// gradient is its own GEMM view (rows the input positions, the reduction over output channel and tap, A gathered
// from dy). One kernel for both, over a gather policy: tiles of 64 x 64 outputs, 8 deep, staged in shared memory
// with cp.async (sm_80 and later; plain loads before) in two buffers, so the next tile loads while this one is
// multiplied; 256 threads, each 4 x 4 outputs (FMA) or a share of a warp's m16n8k8 fragments (TF32); groups on the
// grid's z; the forward's bias and ReLU in the epilogue.
// The weight gradient splits its long reduction (N·Z·P·Q) across blocks and adds the partial sums in split order,
// so it stays deterministic.
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

// A position of a volume: (n, a, b, c) of [N, A, B, C] - the output's (n, z, p, q) or the input's (n, d, h, w).
struct Position {
  std::int64_t n, a, b, c;
  bool valid;
};

__device__ Position decode_position(std::int64_t m, std::int64_t A, std::int64_t B, std::int64_t C,
                                    std::int64_t total) {
  const Index5 x = split_index(m, 1, A, B, C);
  return {x.a, x.c, x.d, x.e, m < total};
}

// The forward as a GEMM: rows are output positions, columns the group's output channels, the reduction its filter
// taps (c, t, r, s) in the filters' order; A gathers the input, B reads the filters as [K, J].
struct ForwardGemm {
  __device__ static std::int64_t rows(const ConvProblem& P) { return P.n * P.z * P.p * P.q; }
  __device__ static std::int64_t cols(const ConvProblem& P) { return P.kg; }
  __device__ static std::int64_t depth(const ConvProblem& P) { return P.cg * P.t * P.r * P.s; }
  __device__ static Position row(const ConvProblem& P, std::int64_t m) {
    return decode_position(m, P.z, P.p, P.q, rows(P));
  }
  __device__ static const float* a(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t j) {
    std::int64_t c, t, r, s;
    decode_tap(P, j, c, t, r, s);
    const std::int64_t d = input_at(P, 0, o.a, t), h = input_at(P, 1, o.b, r), w = input_at(P, 2, o.c, s);
    if (d < 0 || d >= P.d || h < 0 || h >= P.h || w < 0 || w >= P.w) return nullptr;
    return P.x + x_index(P, o.n, group * P.cg + c, d, h, w);
  }
  __device__ static const float* b(const ConvProblem& P, std::int64_t group, std::int64_t j, std::int64_t col) {
    return P.wt + (group * P.kg + col) * depth(P) + j;
  }
  __device__ static void store(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t col, float v) {
    const std::int64_t channel = group * P.kg + col;
    if (P.bias != nullptr) v = add_rn(v, P.bias[channel]);
    if (P.relu) v = v <= 0.0f ? 0.0f : v;
    P.out[y_index(P, o.n, channel, o.a, o.b, o.c)] = v;
  }
};

// The data gradient as a GEMM: rows are input positions, columns the group's input channels, the reduction the
// group's (output channel, t, r, s); A gathers the output gradient at the position each tap reads from (zero where
// none does: stride and padding), B reads the filters.
struct DataGemm {
  __device__ static std::int64_t rows(const ConvProblem& P) { return P.n * P.d * P.h * P.w; }
  __device__ static std::int64_t cols(const ConvProblem& P) { return P.cg; }
  __device__ static std::int64_t depth(const ConvProblem& P) { return P.kg * P.t * P.r * P.s; }
  __device__ static Position row(const ConvProblem& P, std::int64_t m) {
    return decode_position(m, P.d, P.h, P.w, rows(P));
  }
  __device__ static void decode(const ConvProblem& P, std::int64_t j, std::int64_t& k, std::int64_t& t,
                                std::int64_t& r, std::int64_t& s) {
    s = j % P.s;
    j /= P.s;
    r = j % P.r;
    j /= P.r;
    t = j % P.t;
    k = j / P.t;
  }
  __device__ static const float* a(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t j) {
    std::int64_t k, t, r, s;
    decode(P, j, k, t, r, s);
    const std::int64_t z = output_reading(P, 0, o.a, t, P.z), p = output_reading(P, 1, o.b, r, P.p);
    const std::int64_t q = output_reading(P, 2, o.c, s, P.q);
    if (z < 0 || p < 0 || q < 0) return nullptr;
    return P.dy + y_index(P, o.n, group * P.kg + k, z, p, q);
  }
  __device__ static const float* b(const ConvProblem& P, std::int64_t group, std::int64_t j, std::int64_t col) {
    std::int64_t k, t, r, s;
    decode(P, j, k, t, r, s);
    return P.wt + w_index(P, group * P.kg + k, col, t, r, s);
  }
  __device__ static void store(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t col, float v) {
    P.out[x_index(P, o.n, group * P.cg + col, o.a, o.b, o.c)] = v;
  }
};

// The weight gradient as a GEMM: rows are the group's output channels, columns its filter taps (the filters' order),
// the reduction over every sample and output position; A gathers dy, B the input each tap reads. The reduction is
// split across blocks (split-K); each split writes its partial sums, and a second kernel adds them in split order.
struct WeightGemm {
  __device__ static std::int64_t rows(const ConvProblem& P) { return P.kg; }
  __device__ static std::int64_t cols(const ConvProblem& P) { return P.cg * P.t * P.r * P.s; }
  __device__ static std::int64_t depth(const ConvProblem& P) { return P.n * P.z * P.p * P.q; }
  __device__ static Position row(const ConvProblem& P, std::int64_t m) { return {m, 0, 0, 0, m < P.kg}; }
  __device__ static const float* a(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t j) {
    const Position out = decode_position(j, P.z, P.p, P.q, depth(P));
    return P.dy + y_index(P, out.n, group * P.kg + o.n, out.a, out.b, out.c);
  }
  __device__ static const float* b(const ConvProblem& P, std::int64_t group, std::int64_t j, std::int64_t col) {
    return ForwardGemm::a(P, decode_position(j, P.z, P.p, P.q, depth(P)), group, col);
  }
  __device__ static void store(const ConvProblem& P, const Position& o, std::int64_t group, std::int64_t col, float v) {
    P.out[(group * P.kg + o.n) * cols(P) + col] = v;
  }
};

// Rows padded by 8 so that a warp's tensor-core fragment reads (8 rows x 4 reduction steps) hit 32 banks.
constexpr int kTilePad = 8;
struct Tiles {
  float a[2][kTileK][kTileM + kTilePad];
  float b[2][kTileK][kTileN + kTilePad];
};

// f32 with FMA: 16 x 16 threads, each 4 x 4 outputs of the block's tile.
struct FmaMath {
  float acc[4][4] = {};
  __device__ void multiply(const Tiles& tiles, int stage) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
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
  }
  // Accumulator e (0-15) is the tile's output (row(e), col(e)).
  __device__ static int row(int e) { return static_cast<int>(threadIdx.x / 16) * 4 + e / 4; }
  __device__ static int col(int e) { return static_cast<int>(threadIdx.x % 16) * 4 + e % 4; }
  __device__ float value(int e) const { return acc[e / 4][e % 4]; }
};

// TF32 tensor cores (sm_80 and later): 8 warps as 4 x 2, each a 16 x 32 slice of the tile as four m16n8k8
// mma.sync per 8-deep step; factors rounded to TF32 (cvt.rna), f32 accumulation.
struct Tf32Math {
  float acc[4][4] = {};  // [8-column slice][the m16n8 fragment's c0-c3]
  __device__ static unsigned tf32(float v) {
    unsigned out = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(out) : "f"(v));
#else
    out = __float_as_uint(v);
#endif
    return out;
  }
  __device__ static void mma(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    (void)c, (void)a, (void)b;
    __trap();  // the dispatcher refuses devices before sm_80
#endif
  }
  __device__ void multiply(const Tiles& tiles, int stage) {
    const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
    const int g = lane / 4, t = lane % 4, wm = (warp % 4) * 16, wn = (warp / 4) * 32;
    const unsigned a[4] = {tf32(tiles.a[stage][t][wm + g]), tf32(tiles.a[stage][t][wm + g + 8]),
                           tf32(tiles.a[stage][t + 4][wm + g]), tf32(tiles.a[stage][t + 4][wm + g + 8])};
#pragma unroll
    for (int slice = 0; slice < 4; ++slice) {
      const int col = wn + slice * 8 + g;
      const unsigned b[2] = {tf32(tiles.b[stage][t][col]), tf32(tiles.b[stage][t + 4][col])};
      mma(acc[slice], a, b);
    }
  }
  // Fragment element q of slice s: row g (+8 for q >= 2), column 2t (+1 for odd q).
  __device__ static int row(int e) {
    const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
    return (warp % 4) * 16 + lane / 4 + (e % 4) / 2 * 8;
  }
  __device__ static int col(int e) {
    const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
    return (warp / 4) * 32 + (e / 4) * 8 + (lane % 4) * 2 + e % 2;
  }
  __device__ float value(int e) const { return acc[e / 4][e % 4]; }
};

// C[rows, cols] = A · B for one group and one split of the reduction (the grid's z is split · groups + group), 64 x
// 64 tiles per block, multiplied by Math. With `partial`, the split's sums go to
// partial[split][group · rows + row][col] instead of the policy's store.
template <typename Gemm, typename Math>
__global__ void __launch_bounds__(kThreads) conv_igemm_kernel(ConvProblem P, std::int64_t split_depth, float* partial) {
  __shared__ Tiles tiles;
  const int tid = threadIdx.x;
  const std::int64_t group = blockIdx.z % P.groups, split = blockIdx.z / P.groups;
  const std::int64_t m0 = static_cast<std::int64_t>(blockIdx.x) * kTileM;
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.y) * kTileN;
  const std::int64_t first = split * split_depth;
  const std::int64_t total = Gemm::depth(P), cols = Gemm::cols(P);
  const std::int64_t depth = total < first + split_depth ? total : first + split_depth;
  // This thread loads A's row m0 + tid % 64 and B's column n0 + tid % 64, reduction steps tid / 64 and + 4.
  const int row = tid % kTileM, lane_k = tid / kTileM;
  const Position mine = Gemm::row(P, m0 + row);
  const bool col_valid = n0 + row < cols;
  const auto load_tile = [&](int stage, std::int64_t j0) {
    for (int half = 0; half < 2; ++half) {
      const int kk = lane_k + half * 4;
      const bool in_depth = j0 + kk < depth;
      const float* a = mine.valid && in_depth ? Gemm::a(P, mine, group, j0 + kk) : nullptr;
      load_element(&tiles.a[stage][kk][row], a != nullptr ? a : P.wt, a != nullptr);
      const float* b = col_valid && in_depth ? Gemm::b(P, group, j0 + kk, n0 + row) : nullptr;
      load_element(&tiles.b[stage][kk][row], b != nullptr ? b : P.wt, b != nullptr);
    }
    commit_loads();
  };
  Math math;
  const std::int64_t steps = (depth - first + kTileK - 1) / kTileK;
  load_tile(0, first);
  for (std::int64_t step = 0; step < steps; ++step) {
    const int stage = static_cast<int>(step & 1);
    if (step + 1 < steps) {
      load_tile(stage ^ 1, first + (step + 1) * kTileK);
      wait_loads<1>();
    } else {
      wait_loads<0>();
    }
    __syncthreads();
    math.multiply(tiles, stage);
    __syncthreads();  // the stage is refilled by the next step's load
  }
  const std::int64_t rows = Gemm::rows(P);
#pragma unroll
  for (int e = 0; e < 16; ++e) {
    const std::int64_t r = m0 + Math::row(e), col = n0 + Math::col(e);
    const Position o = Gemm::row(P, r);
    if (!o.valid || col >= cols) continue;
    if (partial != nullptr) {
      partial[((split * P.groups + group) * rows + r) * cols + col] = math.value(e);
    } else {
      Gemm::store(P, o, group, col, math.value(e));
    }
  }
}

// dw[k, j] (the filters' [K, J] order) = the splits' partial sums, added in split order.
__global__ void add_splits_kernel(ConvProblem P, std::int64_t splits, const float* partial) {
  const std::int64_t per_split = P.k * P.cg * P.t * P.r * P.s;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < per_split;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t split = 0; split < splits; ++split) sum = add_rn(sum, partial[split * per_split + i]);
    P.out[i] = sum;
  }
}

__global__ void bias_gradient_kernel(ConvProblem P) {
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < P.k;
       k += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    P.dbias[k] = conv_bwd_bias_element(P, k);
  }
}

template <typename Gemm, typename Math>
void launch(Context& ctx, const ConvProblem& P, std::int64_t rows, std::int64_t cols, std::int64_t depth,
            std::int64_t splits, float* partial) {
  const std::int64_t split_depth = ((depth + splits - 1) / splits + kTileK - 1) / kTileK * kTileK;
  const dim3 grid(static_cast<unsigned>((rows + kTileM - 1) / kTileM), static_cast<unsigned>((cols + kTileN - 1) / kTileN),
                  static_cast<unsigned>(P.groups * splits));
  RECKON_LAUNCH((conv_igemm_kernel<Gemm, Math>), grid, kThreads, 0, cuda_stream(ctx), P, split_depth, partial);
}

// Splits of the weight gradient's reduction: enough blocks to fill the device (its tiles alone are few: K x J is
// small), each split at least 4,096 deep so the partial sums stay a small part of the work.
std::int64_t weight_splits(Context& ctx, const ConvProblem& P) {
  const std::int64_t tiles = ((P.kg + kTileM - 1) / kTileM) * ((P.cg * P.t * P.r * P.s + kTileN - 1) / kTileN) * P.groups;
  const std::int64_t wanted = 4LL * device_properties(ctx.device().index).multiProcessorCount / std::max<std::int64_t>(tiles, 1);
  const std::int64_t most = std::max<std::int64_t>(1, P.n * P.z * P.p * P.q / 4096);
  return std::max<std::int64_t>(1, std::min(wanted, most));
}

template <typename Math>
void igemm(Context& ctx, const ConvProblem& P, ConvOp op) {
  switch (op) {
    case ConvOp::kForward:
      launch<ForwardGemm, Math>(ctx, P, P.n * P.z * P.p * P.q, P.kg, P.cg * P.t * P.r * P.s, 1, nullptr);
      break;
    case ConvOp::kBackwardData:
      launch<DataGemm, Math>(ctx, P, P.n * P.d * P.h * P.w, P.cg, P.kg * P.t * P.r * P.s, 1, nullptr);
      break;
    case ConvOp::kBackwardWeights: {
      const std::int64_t splits = weight_splits(ctx, P), weights = P.k * P.cg * P.t * P.r * P.s;
      auto* partial = static_cast<float*>(ctx.workspace(static_cast<std::size_t>(splits * weights) * sizeof(float)));
      launch<WeightGemm, Math>(ctx, P, P.kg, P.cg * P.t * P.r * P.s, P.n * P.z * P.p * P.q, splits, partial);
      const auto blocks = static_cast<unsigned>(std::min<std::int64_t>((weights + 255) / 256, 4096));
      RECKON_LAUNCH(add_splits_kernel, blocks, 256, 0, cuda_stream(ctx), P, splits, partial);
      if (P.dbias != nullptr) {
        RECKON_LAUNCH(bias_gradient_kernel, static_cast<unsigned>((P.k + 255) / 256), 256, 0, cuda_stream(ctx), P);
      }
      break;
    }
  }
}

}  // namespace

bool cuda_has_tf32_mma(const Context& ctx) { return device_properties(ctx.device().index).major >= 8; }

void conv3d_igemm_cuda(Context& ctx, const ConvProblem& P, ConvOp op, bool tensor_cores) {
  DeviceGuard guard(ctx.device().index);
  if (tensor_cores) {
    igemm<Tf32Math>(ctx, P, op);
  } else {
    igemm<FmaMath>(ctx, P, op);
  }
}

}  // namespace reckon::detail
