// Internal (not installed): what fm.cpp and fm.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is fm.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/fm/fm.h"

namespace reckon {
namespace detail {

struct DeviceErrorRecord;

// Where sample b's field f row comes from: dense src, or a table row picked by id.
struct FmRows {
  const float* src;  // dense form: [B, F, K]; null for the fused form
  const float* tables[kFmMaxFusedFields];
  std::int64_t rows[kFmMaxFusedFields];
  const void* indices;  // fused form: [B, F]
  bool indices_i64;
  bool use_oov_row;
  std::int64_t oov_row;
};

struct FmArgs {
  FmRows in;
  const float* values;  // [B, F] or null
  std::int64_t batch;
  int fields;
  int dim;
  const float* diff_dst;  // backward
  float* dst;             // forward: [B]; backward: diff_src [B, F, K]
  DeviceErrorRecord* errors;  // CUDA: the context's record (runtime/detail/device_errors.h)
};

void fm_interaction_cuda(Context& ctx, const FmArgs& args, bool backward);

}  // namespace detail
}  // namespace reckon
