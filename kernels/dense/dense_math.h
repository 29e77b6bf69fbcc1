// Element-wise arithmetic shared by the CPU and CUDA dense kernels (see dense.h for the determinism contract).
#pragma once

#include <cmath>
#include <cstdint>

#include "reckon/kernels/dense/dense_impl.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/philox.h"

namespace reckon::detail {

// The CUDA column sum's first pass: x covers the columns, y the chunks of kDenseReduceChunk rows. The grid's y is
// capped at the device limit (65,535); each block row then strides over the chunks (more than 16.7M rows).
struct ColumnSumGrid {
  std::int64_t chunks;  // every chunk is one partial sum per column, whatever the grid
  unsigned x, y;
};
inline constexpr std::int64_t kMaxGridY = 65535;
inline ColumnSumGrid column_sum_grid(std::int64_t rows, std::int64_t cols, std::int64_t threads) {
  const std::int64_t chunks = rows > 0 ? (rows + kDenseReduceChunk - 1) / kDenseReduceChunk : 1;
  return {chunks, static_cast<unsigned>((cols + threads - 1) / threads),
          static_cast<unsigned>(chunks < kMaxGridY ? chunks : kMaxGridY)};
}

// ReLU that lets NaN through, so a diverging model is noticed rather than silenced.
RECKON_HOST_DEVICE float relu(float x) { return x <= 0.0f ? 0.0f : x; }

RECKON_HOST_DEVICE bool dropout_keep(std::uint64_t seed, std::uint64_t stream, std::uint64_t i, float rate) {
  return uniform_from_bits(philox_word(seed, stream, i)) >= rate;
}

RECKON_HOST_DEVICE float stable_sigmoid(float z) {
  if (z >= 0.0f) return 1.0f / add_rn(1.0f, expf(-z));
  const float e = expf(z);
  return e / add_rn(1.0f, e);
}

RECKON_HOST_DEVICE float bce_with_logits(float z, float y) {
  return add_rn(sub_rn(z > 0.0f ? z : 0.0f, mul_rn(z, y)), log1pf(expf(-fabsf(z))));
}

RECKON_HOST_DEVICE std::uint64_t dropout_stream(std::uint64_t stream, const StepScalars* clock) {
  return clock != nullptr ? clock->rng_stream + stream : stream;
}

}  // namespace reckon::detail
