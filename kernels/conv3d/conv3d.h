// 3D convolution and pooling, the family the session CNN (clicks × characters × embedding) and the content CNN
// (spectrograms: the D = 1 case) stand on. 2D and 1D convolutions are the D = 1 (and H = 1) cases of the same entry
// points.
//
// Convolution, with groups g (C and K divisible by g; Cg = C/g input channels per group), per output element:
//   y[n, k, z, p, q] = act(bias[k] + Σ_{c<Cg, t<T, r<R, s<S} w[k, c, t, r, s] · x[n, gk·Cg + c, d, h, w])
//   with d = z·stride_d − pad_d + t·dil_d (h, w likewise), terms outside the input skipped (zero padding),
//   gk = k / (K/g), and Z = (D + 2·pad_d − dil_d·(T−1) − 1) / stride_d + 1 (P, Q likewise).
// Layouts: NCDHW (x [N, C, D, H, W], w [K, Cg, T, R, S], y [N, K, Z, P, Q]) or NDHWC, channels last (x [N, D, H, W,
// C], w [K, T, R, S, Cg], y [N, Z, P, Q, K]), as cuDNN names them. f32 tensors, contiguous, on the context's device.
// bwd_data: dx = ∂(Σ dy·y)/∂x (before the activation: a ReLU's backward is the caller's); bwd_weights: dw and, when
// given, dbias[k] = Σ dy[n, k, ...].
//
// Determinism: the direct implementations (CPU and CUDA) compute each output element in one thread in a fixed order
// (c, then t, r, s; for weights n, then z, p, q) with fused multiply-adds, so they agree bit for bit and run to run.
// Integer-valued inputs small enough to be exact in f32 give the same result in every implementation.
//
// Pooling (max or average over a window, with stride and zero padding; average divides by the whole window when
// count_include_pad, as PyTorch's default, or by the in-bounds part) returns for max the flat input index of each
// output's maximum (first in window order on ties), which the backward routes the gradient through. The backward
// gathers (each input element sums the windows that chose it), so it is deterministic without atomics.
// Global pooling reduces D, H and W to one value per (n, c); masked, only the first lengths[n] positions along D
// count (sessions of different lengths padded to one D); a sample with length 0 gives 0 and receives no gradient.
#pragma once

#include <array>
#include <cstdint>

#include "reckon/kernels/dense/dense.h"  // Activation
#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

enum class ConvLayout : std::uint8_t { kNcdhw, kNdhwc };

// The products' precision, f32 accumulation always: kF32 (FMA); kAllowTf32 (a GPU implementation may use TF32
// tensor cores, inputs rounded to a 10-bit mantissa; the CPU computes f32); kBf16 (the two factors of every product
// rounded to bf16, to nearest even, as a bf16 network computes; on the CPU oneDNN runs it on AVX-512 BF16 / AMX
// where the CPU has them).
enum class ConvMath : std::uint8_t { kF32, kAllowTf32, kBf16 };

struct Conv3dOptions {
  std::array<std::int64_t, 3> stride{1, 1, 1};
  std::array<std::int64_t, 3> pad{0, 0, 0};
  std::array<std::int64_t, 3> dilation{1, 1, 1};
  std::int64_t groups = 1;
  ConvLayout layout = ConvLayout::kNcdhw;
  Activation activation = Activation::kNone;  // forward only: ReLU after the bias
  ConvMath math = ConvMath::kF32;
  // One implementation by name (`reckon info --kernels` lists them: tests and benchmarks compare them), or null for
  // the first in dispatch order that accepts the problem.
  const char* implementation = nullptr;
  // Time every implementation that accepts the problem the first time it is seen, and use the fastest from then on
  // (kept per problem - sizes, operation, layout, bias, ReLU, device - for the process; with RECKON_CONV_TUNING=FILE
  // also in that file, read at the first tuning). A tuning call synchronises the context; inside a CUDA graph
  // capture an unseen problem is not tuned but dispatched in order. last_dispatch("conv3d") names the choice.
  bool autotune = false;
};

// Every size of one convolution, checked: input N, C, D, H, W; filters K, T, R, S; output Z, P, Q.
struct Conv3dShape {
  std::int64_t n = 0, c = 0, d = 0, h = 0, w = 0;
  std::int64_t k = 0, t = 0, r = 0, s = 0;
  std::int64_t z = 0, p = 0, q = 0;
  std::int64_t groups = 1;
  std::int64_t flops() const { return 2 * n * k * z * p * q * (c / groups) * t * r * s; }
};

// The shape of a convolution of input x with filters w (their sizes as the layout orders them): kInvalidArgument
// naming what is wrong (channel counts, groups, an output size below 1, a non-positive stride or dilation).
Conv3dShape conv3d_shape(const TensorView& x, const TensorView& w, const Conv3dOptions& options);

// y = act(conv(x, w) + bias); bias [K] may be empty.
void conv3d_fwd(Context& ctx, const TensorView& x, const TensorView& w, const TensorView& bias, const TensorView& y,
                const Conv3dOptions& options);
// dx from dy and w (x's shape is dx's).
void conv3d_bwd_data(Context& ctx, const TensorView& dy, const TensorView& w, const TensorView& dx,
                     const Conv3dOptions& options);
// dw (and dbias [K] when given) from x and dy.
void conv3d_bwd_weights(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dw,
                        const TensorView& dbias, const Conv3dOptions& options);

enum class PoolMode : std::uint8_t { kMax, kAverage };

struct Pool3dOptions {
  PoolMode mode = PoolMode::kMax;
  std::array<std::int64_t, 3> kernel{2, 2, 2};
  std::array<std::int64_t, 3> stride{0, 0, 0};  // 0: the kernel's size
  std::array<std::int64_t, 3> pad{0, 0, 0};      // at most half the kernel
  bool count_include_pad = true;                 // average: divide by the whole window
  ConvLayout layout = ConvLayout::kNcdhw;
};

// y's sizes (N, C, Z, P, Q in NCDHW order) for input x: kInvalidArgument for a bad window.
std::array<std::int64_t, 5> pool3d_output_sizes(const TensorView& x, const Pool3dOptions& options);
// y = pool(x); argmax (i32, y's shape; max only, may be empty when no backward follows) the flat index of each
// maximum within its sample and channel's D·H·W volume.
void pool3d_fwd(Context& ctx, const TensorView& x, const TensorView& y, const TensorView& argmax,
                const Pool3dOptions& options);
// dx from dy (and, for max, the forward's argmax).
void pool3d_bwd(Context& ctx, const TensorView& dy, const TensorView& argmax, const TensorView& dx,
                const Pool3dOptions& options);

// y[n, c] = max or mean of x[n, c, d < lengths[n], :, :] (NCDHW x [N, C, D, H, W]; NDHWC [N, D, H, W, C]);
// lengths i32 [N] on the device, empty for the whole D; argmax (i32 [N, C], max only) as for pool3d_fwd.
void global_pool3d_fwd(Context& ctx, const TensorView& x, const TensorView& lengths, const TensorView& y,
                       const TensorView& argmax, PoolMode mode, ConvLayout layout = ConvLayout::kNcdhw);
void global_pool3d_bwd(Context& ctx, const TensorView& dy, const TensorView& lengths, const TensorView& argmax,
                       const TensorView& dx, PoolMode mode, ConvLayout layout = ConvLayout::kNcdhw);

}  // namespace reckon
