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

}  // namespace reckon
