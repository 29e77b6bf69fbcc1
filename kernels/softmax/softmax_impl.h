// Internal (not installed): what softmax.cpp and softmax.cu share. The contract is softmax.h.
#pragma once

#include <cstdint>

#include "reckon/kernels/softmax/softmax.h"

namespace reckon::detail {

struct SoftmaxArgs {
  std::int64_t rows, cols;
  const float* logits;
  const std::int32_t* targets;
  float* losses;
  float* diff;
  float scale;
};

void softmax_cross_entropy_cuda(Context& ctx, const SoftmaxArgs& a);

struct BprMaxArgs {
  std::int64_t rows, cols;
  const float* scores;
  const float* bias;  // nullptr: none
  const std::int32_t* targets;
  const std::int32_t* column_items;
  float* losses;
  float* diff;
  float regularization, scale;
};

void bpr_max_loss_cuda(Context& ctx, const BprMaxArgs& a);

}  // namespace reckon::detail
