// Factorization-machine pairwise interaction (Rendle 2010), the second-order term of FM and DeepFM.
//
// For sample b with F fields, embedding rows e_bf (K wide) and field values x_bf (1 for categorical fields, the
// feature value for numeric ones):
//   v_bfk = x_bf · e_bfk,   S_bk = Σ_f v_bfk,   Q_bk = Σ_f v_bfk²
//   y_b   = Σ_k ½ (S_bk² − Q_bk)                         = Σ_{f<f'} <v_bf, v_bf'>
//   ∂y_b/∂e_bfk = x_bf · (S_bk − v_bfk)                   (times the incoming gradient dy_b)
// Order of operations (fixed, the same on CPU and CUDA, every operation rounded on its own: runtime/fp.h): S and Q
// accumulate over f in field order, y over k in column order. Results are bitwise identical run to run and
// between CPU and CUDA.
//
// Two forms:
//   dense: src [B, F, K] f32 holds the rows (already gathered);
//   fused: rows are read straight from one table per field by id (indices [B, F], i32 or i64), with no [B, F, K]
//          intermediate; out-of-range ids follow the embedding IndexPolicy (kCheck reports field, sample and id).
// values: optional f32 [B, F] (data == nullptr means all ones). dst / diff_dst: f32 [B]. diff_src: f32 [B, F, K]
// (for the fused form: the gradient of each gathered row, ready for embedding_bag_bwd with one id per bag).
#pragma once

#include <cstdint>
#include <span>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

void fm_interaction_fwd(Context& ctx, const TensorView& src, const TensorView& values, const TensorView& dst);
void fm_interaction_bwd(Context& ctx, const TensorView& src, const TensorView& values, const TensorView& diff_dst,
                        const TensorView& diff_src);

// The fused form takes at most this many fields (their table pointers travel as one kernel parameter).
inline constexpr int kFmMaxFusedFields = 64;

// tables: F tables, f32 [N_f, K]; indices: [B, F].
void fm_interaction_fused_fwd(Context& ctx, std::span<const TensorView> tables, const TensorView& indices,
                              const TensorView& values, const TensorView& dst,
                              IndexPolicy policy = IndexPolicy::kCheck, std::int64_t oov_row = 0);
void fm_interaction_fused_bwd(Context& ctx, std::span<const TensorView> tables, const TensorView& indices,
                              const TensorView& values, const TensorView& diff_dst, const TensorView& diff_src,
                              IndexPolicy policy = IndexPolicy::kCheck, std::int64_t oov_row = 0);

}  // namespace reckon
