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

void gru_cell_fwd_cuda(Context& ctx, const GruArgs& a);
void gru_cell_bwd_cuda(Context& ctx, const GruArgs& a);

}  // namespace reckon::detail
