// Internal (not installed): what logmel.cpp and logmel.cu share. The contract is logmel.h.
#pragma once

#include <cstdint>

#include "reckon/runtime/context.h"

namespace reckon::detail {

struct LogMelProblem {
  const float* signals;
  std::int64_t batch, samples;
  const float* filterbank;
  std::int64_t fft_size, bins, mels, hop, frames;
  float amin;
  float* out;
};

void logmel_cuda(Context& ctx, const LogMelProblem& p);

}  // namespace reckon::detail
