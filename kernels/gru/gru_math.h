// The GRU cell's element functions, shared by the CPU loops and the CUDA kernels: unit j of row b, forward and
// backward, in a fixed order with every operation rounded on its own (runtime/fp.h).
#pragma once

#include <cmath>

#include "reckon/kernels/gru/gru_impl.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

// σ without overflow: exp of a non-positive argument only.
RECKON_HOST_DEVICE float gru_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / add_rn(1.0f, expf(-x));
  const float e = expf(x);
  return e / add_rn(1.0f, e);
}

RECKON_HOST_DEVICE void gru_fwd_element(const GruArgs& a, std::int64_t b, std::int64_t j) {
  const std::int64_t H = a.hidden, g = b * 3 * H, s = b * 4 * H;
  const float r = gru_sigmoid(add_rn(a.gates_x[g + j], a.gates_h[g + j]));
  const float z = gru_sigmoid(add_rn(a.gates_x[g + H + j], a.gates_h[g + H + j]));
  const float gh_n = a.gates_h[g + 2 * H + j];
  const float n = tanhf(add_rn(a.gates_x[g + 2 * H + j], mul_rn(r, gh_n)));
  const float h = a.h[b * H + j];
  a.h_out[b * H + j] = add_rn(mul_rn(sub_rn(1.0f, z), n), mul_rn(z, h));
  a.saved[s + j] = r;
  a.saved[s + H + j] = z;
  a.saved[s + 2 * H + j] = n;
  a.saved[s + 3 * H + j] = gh_n;
}

RECKON_HOST_DEVICE void gru_bwd_element(const GruArgs& a, std::int64_t b, std::int64_t j) {
  const std::int64_t H = a.hidden, g = b * 3 * H, s = b * 4 * H;
  const float r = a.saved[s + j], z = a.saved[s + H + j], n = a.saved[s + 2 * H + j], gh_n = a.saved[s + 3 * H + j];
  const float dh_out = a.diff_h_out[b * H + j], h = a.h[b * H + j];
  const float da_n = mul_rn(mul_rn(dh_out, sub_rn(1.0f, z)), sub_rn(1.0f, mul_rn(n, n)));
  const float da_r = mul_rn(mul_rn(da_n, gh_n), mul_rn(r, sub_rn(1.0f, r)));
  const float da_z = mul_rn(mul_rn(dh_out, sub_rn(h, n)), mul_rn(z, sub_rn(1.0f, z)));
  a.diff_gates_x[g + j] = da_r;
  a.diff_gates_h[g + j] = da_r;
  a.diff_gates_x[g + H + j] = da_z;
  a.diff_gates_h[g + H + j] = da_z;
  a.diff_gates_x[g + 2 * H + j] = da_n;
  a.diff_gates_h[g + 2 * H + j] = mul_rn(da_n, r);
  if (a.diff_h != nullptr) a.diff_h[b * H + j] = mul_rn(dh_out, z);
}

}  // namespace reckon::detail
