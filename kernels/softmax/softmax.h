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

// BPR-max (Hidasi & Karatzoglou 2018), GRU4Rec's ranking loss over sampled columns. Row b ranks its target column
// t_b against its negatives: the columns whose item (column_items) differs from the target's, so an in-batch
// column that happens to hold the same item is never pushed down. With r_bj = scores_bj + bias_j,
//   s_bj = softmax of r_b over the negatives,  σ_bj = sigmoid(r_bt − r_bj),  P_b = Σ_j s_bj σ_bj,  R_b = Σ_j s_bj r_bj²
//   loss_b = −log(P_b + ε) + λ R_b   (ε = 1e-24, λ = regularization: the score regulariser of the paper)
//   ∂loss_b/∂r_bk = s_bk ((P_b − σ_bk²) / (P_b + ε) + λ (r_bk² + 2 r_bk − R_b))   for a negative k
//   ∂loss_b/∂r_bt = −Σ_j s_bj σ_bj (1 − σ_bj) / (P_b + ε),   0 for the target item's other columns
// each gradient times scale. scores f32 [B, M]; bias f32 [M] or empty; target_columns i32 [B], in [0, M) or −1 (a
// row that takes no part: loss 0, gradient 0, as is a row with no negative); column_items i32 [M]; losses f32 [B];
// diff_scores f32 [B, M], which may be scores itself. The bias gradient is the column sum of diff_scores.
// A row is reduced in column order on the CPU and in tree order on CUDA (a few ulps apart; each deterministic).
void bpr_max_loss(Context& ctx, const TensorView& scores, const TensorView& bias, const TensorView& target_columns,
                  const TensorView& column_items, const TensorView& losses, const TensorView& diff_scores,
                  float regularization, float scale = 1.0f);

}  // namespace reckon
