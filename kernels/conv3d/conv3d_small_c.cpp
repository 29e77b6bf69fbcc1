// The CPU forward for few input channels (C / groups <= 4: a one-hot character volume, a spectrogram), where a
// general convolution's reduction (C·T·R·S = 27 for a 3³ filter over one channel) is too short for its tiles. Each
// output row (n, z, p) of a group is computed in micro-tiles of 8 filters x 32 positions along W held in registers
// over every tap: the input rows the taps read are zero-padded once per output row, and each tap multiplies one
// 32-wide slice of its row by 8 broadcast weights. The taps are taken in the direct loop's order (c, t, r, s) with
// fused multiply-adds, so the result is cpu_direct's bit for bit (for finite weights: a tap in the padding adds
// w · 0 here where the direct loop skips it).
#include <algorithm>
#include <cmath>
#include <vector>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"

namespace reckon::detail {
namespace {

constexpr std::int64_t kLanes = 32;       // outputs along W per micro-tile: two AVX-512 registers
constexpr std::int64_t kFilterBlock = 8;  // filters per micro-tile

// The group's filters as [tap (c, t, r, s)][filter], filters padded with zeros to a multiple of kFilterBlock.
std::vector<float> pack_filters(const ConvProblem& P, std::int64_t group, std::int64_t filters) {
  const std::int64_t taps = P.cg * P.t * P.r * P.s;
  std::vector<float> packed(static_cast<std::size_t>(taps * filters), 0.0f);
  for (std::int64_t j = 0; j < taps; ++j) {
    const Index5 tap = split_index(j, P.cg, P.t, P.r, P.s);
    for (std::int64_t k = 0; k < P.kg; ++k) {
      packed[static_cast<std::size_t>(j * filters + k)] = P.wt[w_index(P, group * P.kg + k, tap.b, tap.c, tap.d, tap.e)];
    }
  }
  return packed;
}

// The input rows one output row reads, in tap order: each zero-padded so that position q + s·dil of the row is
// input column q - pad + s·dil, and the packed filters' offset of its first tap (c, t, r, 0).
struct TapRows {
  std::vector<float> data;  // rows × stride
  std::vector<std::int64_t> first_tap;
  std::int64_t stride = 0;
};

void gather_rows(const ConvProblem& P, std::int64_t n, std::int64_t group, std::int64_t z, std::int64_t p,
                 TapRows& rows) {
  rows.first_tap.clear();
  std::fill(rows.data.begin(), rows.data.end(), 0.0f);
  float* row = rows.data.data();
  for (std::int64_t c = 0; c < P.cg; ++c) {
    for (std::int64_t t = 0; t < P.t; ++t) {
      const std::int64_t d = input_at(P, 0, z, t);
      if (d < 0 || d >= P.d) continue;
      for (std::int64_t r = 0; r < P.r; ++r) {
        const std::int64_t h = input_at(P, 1, p, r);
        if (h < 0 || h >= P.h) continue;
        const float* in = P.x + x_index(P, n, group * P.cg + c, d, h, 0);
        const std::int64_t first = P.pad[2], last = std::min(P.w, rows.stride - P.pad[2]);
        std::copy(in, in + std::max<std::int64_t>(0, last), row + first);
        rows.first_tap.push_back(((c * P.t + t) * P.r + r) * P.s);
        row += rows.stride;
      }
    }
  }
}

// out[f][i] = Σ over the rows' taps of filter k0 + f's weight × the row at q0 + i + s·dil: 8 filters x 32 outputs,
// accumulated in registers.
__attribute__((target_clones("avx512f", "avx2", "default"))) void micro_tile(
    const TapRows& rows, const float* packed, std::int64_t filters, std::int64_t s_taps, std::int64_t dil,
    std::int64_t k0, std::int64_t q0, float (&out)[kFilterBlock][kLanes]) {
  float acc[kFilterBlock][kLanes] = {};
  const std::int64_t count = static_cast<std::int64_t>(rows.first_tap.size());
  for (std::int64_t j = 0; j < count; ++j) {
    const float* __restrict row = rows.data.data() + j * rows.stride + q0;
    const float* __restrict w = packed + rows.first_tap[static_cast<std::size_t>(j)] * filters + k0;
    for (std::int64_t s = 0; s < s_taps; ++s, w += filters) {
      const float* __restrict in = row + s * dil;
#pragma GCC unroll 8
      for (std::int64_t f = 0; f < kFilterBlock; ++f) {
        const float weight = w[f];
#pragma omp simd
        for (std::int64_t i = 0; i < kLanes; ++i) acc[f][i] = fmaf(weight, in[i], acc[f][i]);
      }
    }
  }
  for (std::int64_t f = 0; f < kFilterBlock; ++f) std::copy(acc[f], acc[f] + kLanes, out[f]);
}

// Output row (n, z, p) of every filter of the group.
void forward_row(const ConvProblem& P, std::int64_t n, std::int64_t group, std::int64_t z, std::int64_t p,
                 const std::vector<float>& packed, std::int64_t filters, TapRows& rows) {
  gather_rows(P, n, group, z, p, rows);
  float acc[kFilterBlock][kLanes];
  for (std::int64_t k0 = 0; k0 < P.kg; k0 += kFilterBlock) {
    for (std::int64_t q0 = 0; q0 < P.q; q0 += kLanes) {
      micro_tile(rows, packed.data(), filters, P.s, P.dilation[2], k0, q0, acc);
      for (std::int64_t f = 0; f < std::min(kFilterBlock, P.kg - k0); ++f) {
        const std::int64_t channel = group * P.kg + k0 + f;
        float* out = P.out + y_index(P, n, channel, z, p, 0);
        for (std::int64_t i = 0; i < std::min(kLanes, P.q - q0); ++i) {
          float v = acc[f][i];
          if (P.bias != nullptr) v = add_rn(v, P.bias[channel]);
          if (P.relu) v = v <= 0.0f ? 0.0f : v;
          out[q0 + i] = v;
        }
      }
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
  const std::int64_t filters = (P.kg + kFilterBlock - 1) / kFilterBlock * kFilterBlock;
  std::vector<std::vector<float>> packed;
  for (std::int64_t g = 0; g < P.groups; ++g) packed.push_back(pack_filters(P, g, filters));
  // A padded row covers every micro-tile's reads: whole tiles of Q plus the filter's reach along W.
  const std::int64_t stride = (P.q + kLanes - 1) / kLanes * kLanes + (P.s - 1) * P.dilation[2];
  const std::int64_t rows = P.n * P.groups * P.z * P.p;
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    TapRows tap_rows;
    tap_rows.stride = stride;
    tap_rows.data.resize(static_cast<std::size_t>(P.cg * P.t * P.r * stride));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::int64_t p = i % P.p, z = (i / P.p) % P.z, group = (i / (P.p * P.z)) % P.groups;
      forward_row(P, i / (P.p * P.z * P.groups), group, z, p, packed[static_cast<std::size_t>(group)], filters,
                  tap_rows);
    }
  }
}

}  // namespace reckon::detail
