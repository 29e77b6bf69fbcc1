// The GRU cell (Cho et al. 2014, in PyTorch's and cuDNN's gate order r, z, n), the recurrent layer of GRU4Rec. The
// two matrix products of a step are the dense family's (linear_fwd: gates_x = x·W_x + b_x, gates_h = h·W_h + b_h,
// each [B, 3H] holding the r, z, n blocks in that order); this family fuses everything between them:
//   r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r ⊙ gh_n),  h' = (1 − z) ⊙ n + z ⊙ h
// and the backward of that, given ∂L/∂h':
//   dn = dh'(1 − z),  dz = dh'(h − n),  dh = dh' z (the direct path; the product path is linear_bwd_data of dgh)
//   da_n = dn(1 − n²): dgx_n = da_n, dgh_n = da_n r;   da_r = da_n gh_n r(1 − r): dgx_r = dgh_r = da_r;
//   da_z = dz z(1 − z): dgx_z = dgh_z = da_z.
// Shapes: gates_x, gates_h, diff_gates_x, diff_gates_h f32 [B, 3H]; h, h_out, diff_h_out, diff_h f32 [B, H];
// saved f32 [B, 4H] (r, z, n and gh_n per row, written by the forward for the backward). All contiguous, on the
// context's device. Each element is computed by the same element functions on CPU and CUDA (gru_math.h); they agree
// to a few ulps (σ and tanh are the platforms' expf / tanhf), and each is deterministic run to run.
#pragma once

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

void gru_cell_fwd(Context& ctx, const TensorView& gates_x, const TensorView& gates_h, const TensorView& h,
                  const TensorView& h_out, const TensorView& saved);

// diff_h may be empty (data == nullptr) when the gradient does not flow back through time (GRU4Rec's training).
void gru_cell_bwd(Context& ctx, const TensorView& h, const TensorView& saved, const TensorView& diff_h_out,
                  const TensorView& diff_gates_x, const TensorView& diff_gates_h, const TensorView& diff_h);

// A GRU layer's parameters: w_x f32 [I, 3H], w_h f32 [H, 3H], b_x and b_h f32 [3H] (gate blocks r, z, n).
struct GruWeights {
  TensorView w_x, w_h, b_x, b_h;
};

struct GruLayerOptions {
  // One implementation by name (`reckon info --kernels` lists them: tests and benchmarks compare them), or null for
  // the first that accepts the problem.
  const char* implementation = nullptr;
};

// One GRU layer over sequences, inference: for t in [0, T), h_{t+1} = cell(x_t·W_x + b_x, h_t·W_h + b_h) as above,
// y_t = h_{t+1}. x f32 [T, B, I] (time-major), h0 f32 [B, H] or empty for zeros, y f32 [T, B, H]; all contiguous on
// the context's device. Implementations, in order: cuDNN's RNN (cudnnRNNForward, FMA math: the reference and an
// alternative on a GPU; it packs the weights into cuDNN's layout on each call), the cell path on CUDA (one product
// for every step's input gates, then per step a product and the fused cell), and the same cell path on the CPU. The
// cell paths are this family's cell between the dense family's products, so they agree with the cell to the bit;
// cuDNN sums its products in its own order (a few ulps apart).
void gru_layer_fwd(Context& ctx, const TensorView& x, const TensorView& h0, const GruWeights& weights,
                   const TensorView& y, const GruLayerOptions& options = {});

}  // namespace reckon
