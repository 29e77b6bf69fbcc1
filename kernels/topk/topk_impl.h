// Internal (not installed): what topk.cpp and topk.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is topk.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/topk/topk.h"

namespace reckon {
namespace detail {
void topk_rows_cuda(Context& ctx, const float* scores, std::int64_t rows, std::int64_t cols, int k,
                    std::int32_t* out_columns, float* out_scores);
void mask_entries_cuda(Context& ctx, float* scores, std::int64_t rows, std::int64_t cols, const std::int32_t* row_ids,
                       const std::int32_t* column_ids, std::int64_t count);
}  // namespace detail
}  // namespace reckon
