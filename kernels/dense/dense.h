// Dense layers for the MLP parts of CTR models: linear (cuBLAS on GPU, the CPU BLAS on CPU), bias + ReLU, dropout
// from the shared Philox streams, and sigmoid + binary cross-entropy with logits.
// All tensors f32, row-major, contiguous, on the context's device.
//
// Determinism: element-wise ops and column/row reductions are bitwise identical run to run and between CPU and
// CUDA (fixed order, every operation rounded on its own: runtime/fp.h), except where a transcendental function
// is involved (sigmoid, log1p, exp: a few ulps). Matrix products are run-to-run deterministic on each device
// (cuBLAS's default algorithms, OpenBLAS) but differ between CPU and GPU in summation order; TF32 is off unless
// DenseMath::kAllowTf32 is asked for.
#pragma once

#include <cstdint>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/step_clock.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

enum class DenseMath : std::uint8_t { kF32, kAllowTf32 };
enum class Activation : std::uint8_t { kNone, kRelu };

// dst[B, N] = act(src[B, M] · weights[M, N] + bias[N]); bias may be empty (data == nullptr).
void linear_fwd(Context& ctx, const TensorView& src, const TensorView& weights, const TensorView& bias,
                const TensorView& dst, Activation activation = Activation::kNone,
                DenseMath math = DenseMath::kF32);
// diff_src[B, M] = diff_dst[B, N] · weightsᵀ
void linear_bwd_data(Context& ctx, const TensorView& diff_dst, const TensorView& weights, const TensorView& diff_src,
                     DenseMath math = DenseMath::kF32);
// diff_src[B, M] += diff_dst[B, N] · weightsᵀ (the product added into diff_src inside the GEMM: for an input that
// feeds two branches, e.g. DeepFM's embeddings into FM and the MLP, without a separate pass to add the gradients)
void linear_bwd_data_accumulate(Context& ctx, const TensorView& diff_dst, const TensorView& weights,
                                const TensorView& diff_src, DenseMath math = DenseMath::kF32);
// diff_weights[M, N] = srcᵀ · diff_dst;  diff_bias[N] = Σ_b diff_dst[b, :] (optional).
void linear_bwd_weights(Context& ctx, const TensorView& src, const TensorView& diff_dst,
                        const TensorView& diff_weights, const TensorView& diff_bias,
                        DenseMath math = DenseMath::kF32);

// data[i] = value for every element (contiguous f32), enqueued like any op (no host copy).
void fill(Context& ctx, const TensorView& data, float value);

// In place: dst += src (same shape).
void add_inplace(Context& ctx, const TensorView& dst, const TensorView& src);

// In place: data[b, n] = max(data[b, n] + bias[n], 0)  (bias may be empty: plain ReLU).
void bias_relu_fwd(Context& ctx, const TensorView& bias, const TensorView& data);
// In place: diff[b, n] = activated[b, n] > 0 ? diff[b, n] : 0  (activated: the ReLU output).
void relu_bwd(Context& ctx, const TensorView& activated, const TensorView& diff);
// out[n] = Σ_b src[b, n], summed in chunks of kDenseReduceChunk rows (each in row order), chunks in order.
inline constexpr std::int64_t kDenseReduceChunk = 256;
void column_sum(Context& ctx, const TensorView& src, const TensorView& out);

// Inverted dropout in place: element i is kept when uniform(word i of Philox stream `stream`) >= rate and then
// scaled by 1 / (1 - rate). The backward regenerates the same mask from the same stream.
void dropout_fwd(Context& ctx, const TensorView& data, float rate, std::uint64_t stream);
void dropout_bwd(Context& ctx, const TensorView& diff, float rate, std::uint64_t stream);
// The same with the stream read where the step runs: clock.rng_stream + index (index below the clock's
// rng_streams_per_step), so a step captured in a CUDA graph draws a new mask at every replay.
void dropout_fwd(Context& ctx, const TensorView& data, float rate, const StepClock& clock, std::uint64_t index);
void dropout_bwd(Context& ctx, const TensorView& diff, float rate, const StepClock& clock, std::uint64_t index);

// Binary cross-entropy on logits, numerically stable:
//   loss_i = max(z, 0) − z·y + log1p(exp(−|z|)),  ∂loss_i/∂z = sigmoid(z) − y.
// loss_sum: f32 [1], Σ_i loss_i (chunked order as column_sum). diff_logits (optional) = (sigmoid(z) − y) · scale,
// e.g. scale = 1/B for a mean loss. probabilities (optional) = sigmoid(z).
void sigmoid_bce_with_logits(Context& ctx, const TensorView& logits, const TensorView& labels,
                             const TensorView& loss_sum, const TensorView& diff_logits, float scale,
                             const TensorView& probabilities = {});

// Squared error, for regression heads: loss_i = (p_i − t_i)², ∂loss_i/∂p_i = 2·(p_i − t_i). loss_sum: f32 [1],
// Σ_i loss_i (chunked order as column_sum); diff (optional) = 2·(p − t)·scale. predictions and targets: f32 [n].
void squared_error(Context& ctx, const TensorView& predictions, const TensorView& targets, const TensorView& loss_sum,
                   const TensorView& diff, float scale);

// The dense optimizers (adam_update, sgd_update, adagrad_update, optimizer_update) are in kernels/optim.

}  // namespace reckon
