// Internal (not installed): what skipgram.cpp and skipgram.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is skipgram.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/skipgram/skipgram.h"

namespace reckon {
namespace detail {

struct SgnsProblem {
  float* input;
  float* output;
  const std::int32_t* tokens;
  const std::int64_t* offsets;
  const float* alias_prob;
  const std::int32_t* alias_index;
  std::int64_t vocab;
  std::int64_t num_tokens;
  std::int64_t num_sentences;
  int dim;
  int window;
  int negatives;
  float learning_rate;
  std::uint64_t seed;
  std::uint64_t stream;
  bool compute_loss;
};

struct DeviceErrorRecord;
// SgnsTotals' layout on the device.
struct SgnsDeviceTotals {
  unsigned long long pairs;
  unsigned long long loss_pairs;
  double loss;
};

// Validation errors go to the context's record (runtime/detail/device_errors.h); totals may be null.
void sgns_step_cuda(Context& ctx, const SgnsProblem& p, SgnsSchedule schedule, SgnsDeviceTotals* totals);

}  // namespace detail
}  // namespace reckon
