// CUDA SGNS step: one warp per center. The center row and the error row live in registers (lane l holds columns
// l, l + 32, ...); each target's dot product is a warp reduction, and the output row is updated in place. Every
// lane draws the same Philox words, so the warp never diverges on the sampling. Hogwild: warps over the grid update
// shared rows without synchronisation; sequential: a single warp takes the centers in order. The kernel is built
// for 4, 8 and 16 columns per lane (D up to 128, 256, 512), so d=100 or 128 neither carries registers nor runs
// predicated loop steps for columns it does not have.
#include <algorithm>
#include <cstdint>

#include "reckon/kernels/skipgram/skipgram_impl.h"
#include "reckon/kernels/skipgram/skipgram_math.h"
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;

__device__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Everything the step reads by index - sentence offsets, tokens, the alias table - is checked before any row moves,
// so a rejected call leaves both tables as they were (as on the CPU).
__global__ void sgns_validate_kernel(const SgnsProblem p, DeviceErrorRecord* errors) {
  if (!device_may_record(errors)) return;  // an earlier op's error is pending: sgns_kernel will not train either
  const std::int64_t most = p.num_tokens > p.vocab ? p.num_tokens : p.vocab;
  const std::int64_t n = p.num_sentences + 1 > most ? p.num_sentences + 1 : most;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (i <= p.num_sentences && !sgns_offset_valid(p, i)) {
      record_device_error(errors, DeviceErrorKind::kMalformedOffsets, kSgnsOffsetsOperand, i);
    }
    if (i < p.num_tokens && !sgns_token_valid(p, p.tokens[i])) {
      record_device_error(errors, DeviceErrorKind::kIndexOutOfRange, kSgnsTokensOperand, i);
    }
    if (i < p.vocab && !sgns_alias_entry_valid(p, i)) {
      record_device_error(errors, DeviceErrorKind::kInvalidAliasEntry, kSgnsAliasOperand, i);
    }
  }
}

// The step waits on row loads and warp reductions, so resident warps matter: the bounds hold d <= 128 to 64
// registers (4 blocks, 32 warps per SM; ptxas reports no spills, against 69 registers and 3 blocks unbounded).
template <int kPerLane>
__global__ void __launch_bounds__(kThreads, kPerLane == 4   ? 4
                                            : kPerLane == 8 ? 2
                                                            : 1)
    sgns_kernel(const SgnsProblem p, const DeviceErrorRecord* errors, SgnsDeviceTotals* totals) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / kWarp);
  const int D = p.dim;
  // Bad input found by the validation kernel: nothing is trained. Past this check every token, offset and alias
  // entry is in range, so the loop below reads nothing out of bounds.
  if (device_error_pending(errors)) return;
  float center[kPerLane], error[kPerLane];
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x / kWarp) + threadIdx.x / kWarp;
       c < p.num_tokens; c += warps) {
    const std::int32_t token = p.tokens[c];
    const std::int64_t s = sgns_sentence_of(p, c);
    const std::int64_t start = p.offsets[s], end = p.offsets[s + 1];
    float* in = p.input + static_cast<std::int64_t>(token) * D;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int d = lane + k * kWarp;
      center[k] = d < D ? in[d] : 0.0f;
    }
    PhiloxStream rng = sgns_draws(p, c);
    const auto radius = static_cast<std::int64_t>(1 + uniform_below(rng.next_u32(), static_cast<std::uint32_t>(p.window)));
    std::int64_t pairs = 0;
    double loss = 0.0;
    const std::int64_t first = start > c - radius ? start : c - radius;
    const std::int64_t last = end - 1 < c + radius ? end - 1 : c + radius;
    for (std::int64_t j = first; j <= last; ++j) {
      if (j == c) continue;
      const std::int32_t context = p.tokens[j];
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) error[k] = 0.0f;
      for (int n = 0; n <= p.negatives; ++n) {
        std::int32_t target = context;
        if (n > 0) {
          target = sgns_negative(p, rng);
          if (target == context) continue;
        }
        const float label = n == 0 ? 1.0f : 0.0f;
        float* out = p.output + static_cast<std::int64_t>(target) * D;
        float partial = 0.0f;
        float out_row[kPerLane];
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) {
          const int d = lane + k * kWarp;
          out_row[k] = d < D ? out[d] : 0.0f;
          partial += center[k] * out_row[k];
        }
        const float f = warp_sum(partial);
        const float g = sgns_gradient(f, label, p.learning_rate);
        if (p.compute_loss) loss += sgns_loss(f, label);
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) {
          const int d = lane + k * kWarp;
          error[k] += g * out_row[k];
          if (d < D) out[d] = out_row[k] + g * center[k];
        }
        __syncwarp();
      }
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) center[k] += error[k];
      ++pairs;
    }
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int d = lane + k * kWarp;
      if (d < D) in[d] = center[k];
    }
    if (lane == 0 && totals != nullptr) {
      atomicAdd(&totals->pairs, static_cast<unsigned long long>(pairs));
      if (p.compute_loss) {
        atomicAdd(&totals->loss_pairs, static_cast<unsigned long long>(pairs));
        atomicAdd(&totals->loss, loss);
      }
    }
  }
}

}  // namespace

void sgns_step_cuda(Context& ctx, const SgnsProblem& p, SgnsSchedule schedule, SgnsDeviceTotals* totals) {
  DeviceGuard guard(ctx.device().index);
  cudaStream_t stream = cuda_stream(ctx);
  DeviceErrorRecord* errors = device_error_record(ctx);
  const auto& prop = device_properties(ctx.device().index);
  const long long checked = std::max(p.num_sentences + 1, std::max(p.num_tokens, p.vocab));
  const unsigned check_blocks = blocks_for(checked, kThreads);
  RECKON_LAUNCH(sgns_validate_kernel, check_blocks < 1024u ? check_blocks : 1024u, kThreads, 0, stream, p, errors);
  unsigned grid = 1, block = kWarp;
  if (schedule != SgnsSchedule::kSequential) {
    const long long warps_per_block = kThreads / kWarp;
    const long long wanted = (p.num_tokens + warps_per_block - 1) / warps_per_block;
    const long long cap = 16LL * prop.multiProcessorCount;
    grid = static_cast<unsigned>(wanted < cap ? wanted : cap);
    block = kThreads;
  }
  static_assert(16 * kWarp == kSgnsMaxDim, "the widest kernel covers kSgnsMaxDim");
  if (p.dim <= 4 * kWarp) {
    RECKON_LAUNCH(sgns_kernel<4>, grid, block, 0, stream, p, errors, totals);
  } else if (p.dim <= 8 * kWarp) {
    RECKON_LAUNCH(sgns_kernel<8>, grid, block, 0, stream, p, errors, totals);
  } else {
    RECKON_LAUNCH(sgns_kernel<16>, grid, block, 0, stream, p, errors, totals);
  }
}

}  // namespace reckon::detail
