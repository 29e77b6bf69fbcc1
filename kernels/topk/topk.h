// Row-wise top-k selection: for each row of a score matrix, the k largest entries in order (largest first; equal
// scores by lower column, so results are deterministic and the same on CPU and CUDA for the same scores). NaN counts as
// -inf, and -inf entries are "excluded": they come back as column -1 (with score -inf) when a row has fewer than
// k others. Used by item2vec's similarity queries after a matrix product.
#pragma once

#include <cstdint>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

inline constexpr int kTopkMaxK = 256;

// scores: f32 [Q, N] (N < 2^31); out_columns: i32 [Q, k]; out_scores: f32 [Q, k]; 1 <= k <= kTopkMaxK.
void topk_rows(Context& ctx, const TensorView& scores, int k, const TensorView& out_columns,
               const TensorView& out_scores);

// Sets scores[row, column] = -inf for each (row, column) pair listed: rows i32 [M], columns i32 [M]. Pairs outside
// the matrix are ignored.
void mask_entries(Context& ctx, const TensorView& scores, const TensorView& rows, const TensorView& columns);

}  // namespace reckon
