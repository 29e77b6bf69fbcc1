// Softmax cross-entropy over a large catalogue, the output layer of GRU4Rec and of the 3D-CNN session model: the
// scores of every item come from a matrix product (dense family), this family turns them into the loss and its
// gradient in one pass over each row, numerically stable (log-sum-exp around the row's maximum):
//   loss_b = log Σ_j exp(z_bj) − z_b,t_b,      ∂loss_b/∂z_bj = (softmax(z_b)_j − [j = t_b]) · scale
// logits f32 [B, N]; targets i32 [B], each in [0, N) or −1 for a row that takes no part (loss 0, gradient 0: a
// padded or finished session); losses f32 [B]; diff_logits f32 [B, N], which may be logits itself (in place, so no
// second [B, N] buffer). A target outside [−1, N) gives that row a NaN loss (the CPU path refuses it outright).
// CPU rows are summed in column order and the gradient is exp(z − max) / Σ; the CUDA kernel reduces a row in one
// block (tree order) and takes exp(z − lse): the two agree to a few ulps, and each is deterministic run to run.
#pragma once

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

void softmax_cross_entropy(Context& ctx, const TensorView& logits, const TensorView& targets, const TensorView& losses,
                           const TensorView& diff_logits, float scale = 1.0f);

}  // namespace reckon
