// The CPU forward for few input channels (C / groups <= 4: a one-hot character volume, a spectrogram), where a
// general convolution's reduction (C·T·R·S = 27 for a 3³ filter over one channel) is too short for its tiles. Each
// output row (n, z, p) is computed for every filter at once: the input rows its taps read are zero-padded once, and
// each tap adds weight × shifted row to Q accumulators, vectorised along W. The taps are taken in the direct loop's
// order (c, t, r, s) with fused multiply-adds, so the result is cpu_direct's bit for bit (for finite weights: a tap
// in the padding adds w · 0 here where the direct loop skips it).
#include <algorithm>
#include <cmath>
#include <vector>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"

namespace reckon::detail {
namespace {

// acc[k][q] += w[k, c, t, r, s] · row[q + s·dil] for the group's filters: the taps along W of one input row.
__attribute__((target_clones("avx512f", "avx2", "default"))) void add_row_taps(
    const ConvProblem& P, std::int64_t group, std::int64_t c, std::int64_t t, std::int64_t r, const float* row,
    float* acc) {
  const std::int64_t Q = P.q, dil = P.dilation[2];
  for (std::int64_t k = 0; k < P.kg; ++k) {
    float* out = acc + k * Q;
    for (std::int64_t s = 0; s < P.s; ++s) {
      const float w = P.wt[w_index(P, group * P.kg + k, c, t, r, s)];
      const float* in = row + s * dil;
      for (std::int64_t q = 0; q < Q; ++q) out[q] = fmaf(w, in[q], out[q]);
    }
  }
}

// Output row (n, z, p) of every filter of the group.
void forward_row(const ConvProblem& P, std::int64_t n, std::int64_t group, std::int64_t z, std::int64_t p,
                 std::vector<float>& padded, std::vector<float>& acc) {
  const std::int64_t Q = P.q, pad = P.pad[2];
  std::fill(acc.begin(), acc.end(), 0.0f);
  for (std::int64_t c = 0; c < P.cg; ++c) {
    for (std::int64_t t = 0; t < P.t; ++t) {
      const std::int64_t d = input_at(P, 0, z, t);
      if (d < 0 || d >= P.d) continue;
      for (std::int64_t r = 0; r < P.r; ++r) {
        const std::int64_t h = input_at(P, 1, p, r);
        if (h < 0 || h >= P.h) continue;
        const float* in = P.x + x_index(P, n, group * P.cg + c, d, h, 0);
        std::fill(padded.begin(), padded.end(), 0.0f);
        for (std::int64_t w = 0; w < P.w; ++w) {
          if (w + pad < static_cast<std::int64_t>(padded.size())) padded[static_cast<std::size_t>(w + pad)] = in[w];
        }
        add_row_taps(P, group, c, t, r, padded.data(), acc.data());
      }
    }
  }
  for (std::int64_t k = 0; k < P.kg; ++k) {
    const std::int64_t channel = group * P.kg + k;
    float* out = P.out + y_index(P, n, channel, z, p, 0);
    for (std::int64_t q = 0; q < Q; ++q) {
      float v = acc[static_cast<std::size_t>(k * Q + q)];
      if (P.bias != nullptr) v = add_rn(v, P.bias[channel]);
      if (P.relu) v = v <= 0.0f ? 0.0f : v;
      out[q] = v;
    }
  }
}

}  // namespace

Status conv3d_small_c_supports(const ConvProblem& P, ConvOp op) {
  if (op != ConvOp::kForward) return {StatusCode::kUnsupported, "the forward only"};
  if (P.cg > 4) return {StatusCode::kUnsupported, "more than 4 input channels per group: the GEMM paths' problem"};
  if (P.channels_last || P.stride[2] != 1 || P.bf16) {
    return {StatusCode::kUnsupported, "NCDHW, unit stride along W and f32 math only"};
  }
  return Status::ok();
}

void conv3d_small_c(Context& ctx, const ConvProblem& P) {
  const std::int64_t rows = P.n * P.groups * P.z * P.p;
  // The padded row: Q + (S - 1)·dil positions, the input at [pad, pad + W).
  const auto padded_size = static_cast<std::size_t>(P.q + (P.s - 1) * P.dilation[2]);
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    std::vector<float> padded(padded_size), acc(static_cast<std::size_t>(P.kg * P.q));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::int64_t p = i % P.p, z = (i / P.p) % P.z, group = (i / (P.p * P.z)) % P.groups;
      forward_row(P, i / (P.p * P.z * P.groups), group, z, p, padded, acc);
    }
  }
}

}  // namespace reckon::detail
