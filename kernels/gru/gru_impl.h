// Internal (not installed): what gru.cpp and gru.cu share. The contract is gru.h.
#pragma once

#include <cstdint>

#include "reckon/kernels/gru/gru.h"

namespace reckon::detail {

struct GruArgs {
  std::int64_t batch, hidden;
  const float* gates_x;
  const float* gates_h;
  const float* h;
  const float* diff_h_out;
  float* h_out;
  float* saved;
  float* diff_gates_x;
  float* diff_gates_h;
  float* diff_h;  // may be null
};

// A validated gru_layer_fwd call.
struct GruLayerProblem {
  std::int64_t steps, batch, input, hidden;
  TensorView x, h0, y;  // h0.data null: zeros
  GruWeights w;
  const char* implementation;
};

void gru_cell_fwd_cuda(Context& ctx, const GruArgs& a);
void gru_layer_fwd_cudnn(Context& ctx, const GruLayerProblem& p);
void gru_cell_bwd_cuda(Context& ctx, const GruArgs& a);

}  // namespace reckon::detail
