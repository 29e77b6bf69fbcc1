// Internal (not installed): what conv3d.cpp and conv3d.cu share - the problem descriptions the element functions
// (conv3d_math.h) read and the CUDA entry points the dispatcher calls. The contract is conv3d.h.
#pragma once

#include <cstdint>

#include "reckon/kernels/conv3d/conv3d.h"

namespace reckon::detail {

// One convolution: sizes, window arithmetic and layout, and the operands of the operation at hand (forward: x, w,
// bias -> y; data gradient: dy, w -> dx; weight gradient: x, dy -> dw, dbias).
struct ConvProblem {
  std::int64_t n, c, d, h, w;  // input
  std::int64_t k, t, r, s;     // filters
  std::int64_t z, p, q;        // output
  std::int64_t groups, cg, kg;  // channels per group: input cg = C / groups, output kg = K / groups
  std::int64_t stride[3], pad[3], dilation[3];
  bool channels_last, relu;
  bool bf16, allow_tf32;  // ConvMath
  const float* x;
  const float* wt;
  const float* bias;
  const float* dy;
  float* out;  // y, dx or dw
  float* dbias;
};

// One pooling: input N, C, D, H, W; output Z, P, Q; window, stride and padding per dimension.
struct PoolProblem {
  std::int64_t n, c, d, h, w, z, p, q;
  std::int64_t kernel[3], stride[3], pad[3];
  bool channels_last, max, count_include_pad;
  const float* x;
  const float* dy;
  const std::int32_t* argmax_in;
  std::int32_t* argmax_out;
  float* out;
};

// Global pooling over D (the first `lengths[n]` positions, or all), H and W.
struct GlobalPoolProblem {
  std::int64_t n, c, d, h, w;
  bool channels_last, max;
  const std::int32_t* lengths;  // null: all of D
  const float* x;
  const float* dy;
  const std::int32_t* argmax_in;
  std::int32_t* argmax_out;
  float* out;
};

enum class ConvOp : std::uint8_t { kForward, kBackwardData, kBackwardWeights };
enum class PoolOp : std::uint8_t { kForward, kBackward, kGlobalForward, kGlobalBackward };

void conv3d_direct_cuda(Context& ctx, const ConvProblem& problem, ConvOp op);
// The CUDA forward for few input channels (conv3d_small_c.cu): kSmallChannelFilters filters per thread, the block's
// filters in shared memory (at most kSmallChannelMaxTaps taps of C / groups · T · R · S).
inline constexpr int kSmallChannelFilters = 8;
inline constexpr std::int64_t kSmallChannelMaxTaps = 1536;  // 48 KiB of filters
void conv3d_small_c_cuda(Context& ctx, const ConvProblem& problem);
// The implicit GEMM (conv3d_igemm.cu): f32 FMA, or TF32 tensor cores (mma.sync) on devices that have them.
void conv3d_igemm_cuda(Context& ctx, const ConvProblem& problem, ConvOp op, bool tensor_cores);
bool cuda_has_tf32_mma(const Context& ctx);  // sm_80 and later
// cuDNN's convolution (conv3d_cudnn.cpp; builds with CUDA and cuDNN only).
Status conv3d_cudnn_supports(Context& ctx, const ConvProblem& problem, ConvOp op);
void conv3d_cudnn(Context& ctx, const ConvProblem& problem, ConvOp op);
// The CPU forward for few input channels (conv3d_small_c.cpp).
Status conv3d_small_c_supports(const ConvProblem& problem, ConvOp op);
void conv3d_small_c(Context& ctx, const ConvProblem& problem);
// im2col + BLAS (conv3d_im2col.cpp), the CPU path of builds without oneDNN.
Status conv3d_im2col_supports(const ConvProblem& problem);
void conv3d_im2col(Context& ctx, const ConvProblem& problem, ConvOp op);
// oneDNN's convolution (conv3d_onednn.cpp; builds with oneDNN only).
// blocked: oneDNN's chosen layouts with reorders; otherwise the tensors' own.
bool conv3d_onednn_supports(const ConvProblem& problem, ConvOp op, bool blocked);
void conv3d_onednn(Context& ctx, const ConvProblem& problem, ConvOp op, bool blocked);
void pool3d_cuda(Context& ctx, const PoolProblem* pool, const GlobalPoolProblem* global, PoolOp op);

}  // namespace reckon::detail
