// The element functions of the direct convolution and of pooling, shared by the CPU loops and the CUDA kernels:
// each output element is computed by one call in a fixed order, with explicit fused multiply-adds (fmaf, the same
// correctly rounded operation on host and device), so the two agree bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/runtime/dtype.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon::detail {

// A flat index of an [A, B, C, D, E] space split into its coordinates (A implied).
struct Index5 {
  std::int64_t a, b, c, d, e;
};
RECKON_HOST_DEVICE Index5 split_index(std::int64_t i, std::int64_t B, std::int64_t C, std::int64_t D,
                                      std::int64_t E) {
  Index5 x{};
  x.e = i % E;
  i /= E;
  x.d = i % D;
  i /= D;
  x.c = i % C;
  i /= C;
  x.b = i % B;
  x.a = i / B;
  return x;
}

// A factor of a product as the math asks: itself, or rounded to bf16 (ConvMath::kBf16).
RECKON_HOST_DEVICE float factor(const ConvProblem& P, float v) { return P.bf16 ? to_float(to_bf16(v)) : v; }

// Flat index of element (n, c, d, h, w) of a [N, C, D, H, W] tensor stored NCDHW or NDHWC.
RECKON_HOST_DEVICE std::int64_t volume_index(bool channels_last, std::int64_t C, std::int64_t D, std::int64_t H,
                                             std::int64_t W, std::int64_t n, std::int64_t c, std::int64_t d,
                                             std::int64_t h, std::int64_t w) {
  return channels_last ? (((n * D + d) * H + h) * W + w) * C + c : (((n * C + c) * D + d) * H + h) * W + w;
}

RECKON_HOST_DEVICE std::int64_t x_index(const ConvProblem& P, std::int64_t n, std::int64_t c, std::int64_t d,
                                        std::int64_t h, std::int64_t w) {
  return volume_index(P.channels_last, P.c, P.d, P.h, P.w, n, c, d, h, w);
}
RECKON_HOST_DEVICE std::int64_t y_index(const ConvProblem& P, std::int64_t n, std::int64_t k, std::int64_t z,
                                        std::int64_t p, std::int64_t q) {
  return volume_index(P.channels_last, P.k, P.z, P.p, P.q, n, k, z, p, q);
}
// Filters [K, Cg, T, R, S] (NCDHW) or [K, T, R, S, Cg] (NDHWC).
RECKON_HOST_DEVICE std::int64_t w_index(const ConvProblem& P, std::int64_t k, std::int64_t c, std::int64_t t,
                                        std::int64_t r, std::int64_t s) {
  return P.channels_last ? (((k * P.t + t) * P.r + r) * P.s + s) * P.cg + c : (((k * P.cg + c) * P.t + t) * P.r + r) * P.s + s;
}

// Filter tap j of a group as (c, t, r, s), numbered in the filters' memory order: (c, t, r, s) for NCDHW filters,
// (t, r, s, c) for NDHWC ones, so that the filters are a [K, Cg·T·R·S] row-major matrix either way.
RECKON_HOST_DEVICE void decode_tap(const ConvProblem& P, std::int64_t j, std::int64_t& c, std::int64_t& t,
                                   std::int64_t& r, std::int64_t& s) {
  if (P.channels_last) {
    c = j % P.cg;
    j /= P.cg;
    s = j % P.s;
    j /= P.s;
    r = j % P.r;
    t = j / P.r;
  } else {
    s = j % P.s;
    j /= P.s;
    r = j % P.r;
    j /= P.r;
    t = j % P.t;
    c = j / P.t;
  }
}

// The input coordinate tap `i` of output position `o` reads along dimension `dim`.
RECKON_HOST_DEVICE std::int64_t input_at(const ConvProblem& P, int dim, std::int64_t o, std::int64_t i) {
  return o * P.stride[dim] - P.pad[dim] + i * P.dilation[dim];
}

// The output position whose tap `i` reads input coordinate `x` along `dim`, or -1 when none does.
RECKON_HOST_DEVICE std::int64_t output_reading(const ConvProblem& P, int dim, std::int64_t x, std::int64_t i,
                                               std::int64_t extent) {
  const std::int64_t num = x + P.pad[dim] - i * P.dilation[dim];
  if (num < 0 || num % P.stride[dim] != 0) return -1;
  const std::int64_t o = num / P.stride[dim];
  return o < extent ? o : -1;
}

RECKON_HOST_DEVICE float conv_fwd_element(const ConvProblem& P, std::int64_t n, std::int64_t k, std::int64_t z,
                                          std::int64_t p, std::int64_t q) {
  const std::int64_t first_channel = (k / P.kg) * P.cg;
  float acc = 0.0f;
  for (std::int64_t c = 0; c < P.cg; ++c) {
    for (std::int64_t t = 0; t < P.t; ++t) {
      const std::int64_t d = input_at(P, 0, z, t);
      if (d < 0 || d >= P.d) continue;
      for (std::int64_t r = 0; r < P.r; ++r) {
        const std::int64_t h = input_at(P, 1, p, r);
        if (h < 0 || h >= P.h) continue;
        for (std::int64_t s = 0; s < P.s; ++s) {
          const std::int64_t w = input_at(P, 2, q, s);
          if (w < 0 || w >= P.w) continue;
          acc = fmaf(factor(P, P.wt[w_index(P, k, c, t, r, s)]),
                     factor(P, P.x[x_index(P, n, first_channel + c, d, h, w)]), acc);
        }
      }
    }
  }
  if (P.bias != nullptr) acc = add_rn(acc, P.bias[k]);
  if (P.relu) acc = acc <= 0.0f ? 0.0f : acc;  // NaN passes, so a diverging model is noticed
  return acc;
}

// ∂/∂x[n, channel, d, h, w]: every (k of the channel's group, tap) whose output position reads it.
RECKON_HOST_DEVICE float conv_bwd_data_element(const ConvProblem& P, std::int64_t n, std::int64_t channel,
                                               std::int64_t d, std::int64_t h, std::int64_t w) {
  const std::int64_t group = channel / P.cg, c = channel % P.cg;
  float acc = 0.0f;
  for (std::int64_t k = group * P.kg; k < (group + 1) * P.kg; ++k) {
    for (std::int64_t t = 0; t < P.t; ++t) {
      const std::int64_t z = output_reading(P, 0, d, t, P.z);
      if (z < 0) continue;
      for (std::int64_t r = 0; r < P.r; ++r) {
        const std::int64_t p = output_reading(P, 1, h, r, P.p);
        if (p < 0) continue;
        for (std::int64_t s = 0; s < P.s; ++s) {
          const std::int64_t q = output_reading(P, 2, w, s, P.q);
          if (q < 0) continue;
          acc = fmaf(factor(P, P.wt[w_index(P, k, c, t, r, s)]), factor(P, P.dy[y_index(P, n, k, z, p, q)]), acc);
        }
      }
    }
  }
  return acc;
}

// ∂/∂w[k, c, t, r, s]: over every sample and output position whose tap reads inside the input.
RECKON_HOST_DEVICE float conv_bwd_weights_element(const ConvProblem& P, std::int64_t k, std::int64_t c, std::int64_t t,
                                                  std::int64_t r, std::int64_t s) {
  const std::int64_t channel = (k / P.kg) * P.cg + c;
  float acc = 0.0f;
  for (std::int64_t n = 0; n < P.n; ++n) {
    for (std::int64_t z = 0; z < P.z; ++z) {
      const std::int64_t d = input_at(P, 0, z, t);
      if (d < 0 || d >= P.d) continue;
      for (std::int64_t p = 0; p < P.p; ++p) {
        const std::int64_t h = input_at(P, 1, p, r);
        if (h < 0 || h >= P.h) continue;
        for (std::int64_t q = 0; q < P.q; ++q) {
          const std::int64_t w = input_at(P, 2, q, s);
          if (w < 0 || w >= P.w) continue;
          acc = fmaf(factor(P, P.dy[y_index(P, n, k, z, p, q)]), factor(P, P.x[x_index(P, n, channel, d, h, w)]), acc);
        }
      }
    }
  }
  return acc;
}

RECKON_HOST_DEVICE float conv_bwd_bias_element(const ConvProblem& P, std::int64_t k) {
  float acc = 0.0f;
  for (std::int64_t n = 0; n < P.n; ++n) {
    for (std::int64_t z = 0; z < P.z; ++z) {
      for (std::int64_t p = 0; p < P.p; ++p) {
        for (std::int64_t q = 0; q < P.q; ++q) acc = add_rn(acc, P.dy[y_index(P, n, k, z, p, q)]);
      }
    }
  }
  return acc;
}

// Pooling.
RECKON_HOST_DEVICE std::int64_t pool_x_index(const PoolProblem& P, std::int64_t n, std::int64_t c, std::int64_t d,
                                             std::int64_t h, std::int64_t w) {
  return volume_index(P.channels_last, P.c, P.d, P.h, P.w, n, c, d, h, w);
}
RECKON_HOST_DEVICE std::int64_t pool_y_index(const PoolProblem& P, std::int64_t n, std::int64_t c, std::int64_t z,
                                             std::int64_t p, std::int64_t q) {
  return volume_index(P.channels_last, P.c, P.z, P.p, P.q, n, c, z, p, q);
}

// The in-bounds taps of window position o along `dim`: [first, last).
RECKON_HOST_DEVICE void window_taps(const PoolProblem& P, int dim, std::int64_t o, std::int64_t extent,
                                    std::int64_t& first, std::int64_t& last) {
  const std::int64_t start = o * P.stride[dim] - P.pad[dim];
  first = start < 0 ? -start : 0;
  last = start + P.kernel[dim] > extent ? extent - start : P.kernel[dim];
}

// The average's divisor for window (z, p, q): the whole window, or its in-bounds part.
RECKON_HOST_DEVICE float pool_divisor(const PoolProblem& P, std::int64_t z, std::int64_t p, std::int64_t q) {
  if (P.count_include_pad) return static_cast<float>(P.kernel[0] * P.kernel[1] * P.kernel[2]);
  std::int64_t f0, l0, f1, l1, f2, l2;
  window_taps(P, 0, z, P.d, f0, l0);
  window_taps(P, 1, p, P.h, f1, l1);
  window_taps(P, 2, q, P.w, f2, l2);
  return static_cast<float>((l0 - f0) * (l1 - f1) * (l2 - f2));
}

// The pooled value of output (n, c, z, p, q); for max, `argmax` gets the flat d·H·W + h·W + w of the first maximum
// (a NaN counts as the maximum, so it propagates).
RECKON_HOST_DEVICE float pool_fwd_element(const PoolProblem& P, std::int64_t n, std::int64_t c, std::int64_t z,
                                          std::int64_t p, std::int64_t q, std::int32_t& argmax) {
  std::int64_t f0, l0, f1, l1, f2, l2;
  window_taps(P, 0, z, P.d, f0, l0);
  window_taps(P, 1, p, P.h, f1, l1);
  window_taps(P, 2, q, P.w, f2, l2);
  float best = -INFINITY, sum = 0.0f;
  argmax = -1;
  for (std::int64_t t = f0; t < l0; ++t) {
    const std::int64_t d = z * P.stride[0] - P.pad[0] + t;
    for (std::int64_t r = f1; r < l1; ++r) {
      const std::int64_t h = p * P.stride[1] - P.pad[1] + r;
      for (std::int64_t s = f2; s < l2; ++s) {
        const std::int64_t w = q * P.stride[2] - P.pad[2] + s;
        const float v = P.x[pool_x_index(P, n, c, d, h, w)];
        if (P.max) {
          if (argmax < 0 || v > best || (v != v && best == best)) {
            best = v;
            argmax = static_cast<std::int32_t>((d * P.h + h) * P.w + w);
          }
        } else {
          sum = add_rn(sum, v);
        }
      }
    }
  }
  if (P.max) return argmax < 0 ? 0.0f : best;
  return sum / pool_divisor(P, z, p, q);
}

// The output positions along `dim` whose windows hold input coordinate x: [first, last).
RECKON_HOST_DEVICE void windows_holding(const PoolProblem& P, int dim, std::int64_t x, std::int64_t extent,
                                        std::int64_t& first, std::int64_t& last) {
  const std::int64_t lo = x + P.pad[dim] - P.kernel[dim] + 1;  // o·stride >= lo
  first = lo <= 0 ? 0 : (lo + P.stride[dim] - 1) / P.stride[dim];
  const std::int64_t hi = (x + P.pad[dim]) / P.stride[dim];  // o·stride <= x + pad
  last = hi + 1 < extent ? hi + 1 : extent;
}

// ∂/∂x[n, c, d, h, w]: the windows holding it, in output order (max: those that chose it).
RECKON_HOST_DEVICE float pool_bwd_element(const PoolProblem& P, std::int64_t n, std::int64_t c, std::int64_t d,
                                          std::int64_t h, std::int64_t w) {
  std::int64_t f0, l0, f1, l1, f2, l2;
  windows_holding(P, 0, d, P.z, f0, l0);
  windows_holding(P, 1, h, P.p, f1, l1);
  windows_holding(P, 2, w, P.q, f2, l2);
  const auto self = static_cast<std::int32_t>((d * P.h + h) * P.w + w);
  float acc = 0.0f;
  for (std::int64_t z = f0; z < l0; ++z) {
    for (std::int64_t p = f1; p < l1; ++p) {
      for (std::int64_t q = f2; q < l2; ++q) {
        const std::int64_t o = pool_y_index(P, n, c, z, p, q);
        if (P.max) {
          if (P.argmax_in[o] == self) acc = add_rn(acc, P.dy[o]);
        } else {
          acc = add_rn(acc, P.dy[o] / pool_divisor(P, z, p, q));
        }
      }
    }
  }
  return acc;
}

// Global pooling: the positions of sample n that count along D.
RECKON_HOST_DEVICE std::int64_t counted_depth(const GlobalPoolProblem& P, std::int64_t n) {
  if (P.lengths == nullptr) return P.d;
  const std::int64_t length = P.lengths[n];
  return length < 0 ? 0 : length > P.d ? P.d : length;
}

RECKON_HOST_DEVICE float global_pool_fwd_element(const GlobalPoolProblem& P, std::int64_t n, std::int64_t c,
                                                 std::int32_t& argmax) {
  const std::int64_t depth = counted_depth(P, n);
  float best = -INFINITY, sum = 0.0f;
  argmax = -1;
  for (std::int64_t d = 0; d < depth; ++d) {
    for (std::int64_t h = 0; h < P.h; ++h) {
      for (std::int64_t w = 0; w < P.w; ++w) {
        const float v = P.x[volume_index(P.channels_last, P.c, P.d, P.h, P.w, n, c, d, h, w)];
        if (P.max) {
          if (argmax < 0 || v > best || (v != v && best == best)) {
            best = v;
            argmax = static_cast<std::int32_t>((d * P.h + h) * P.w + w);
          }
        } else {
          sum = add_rn(sum, v);
        }
      }
    }
  }
  if (depth == 0 || P.h * P.w == 0) return 0.0f;
  return P.max ? best : sum / static_cast<float>(depth * P.h * P.w);
}

RECKON_HOST_DEVICE float global_pool_bwd_element(const GlobalPoolProblem& P, std::int64_t n, std::int64_t c,
                                                 std::int64_t d, std::int64_t h, std::int64_t w) {
  const std::int64_t depth = counted_depth(P, n);
  if (d >= depth) return 0.0f;
  const float g = P.dy[n * P.c + c];
  if (P.max) return P.argmax_in[n * P.c + c] == static_cast<std::int32_t>((d * P.h + h) * P.w + w) ? g : 0.0f;
  return g / static_cast<float>(depth * P.h * P.w);
}

}  // namespace reckon::detail
