// CUDA FM interaction. Thread mapping: a group of G lanes (G a power of two <= 32, within one warp) owns one
// sample; lane l handles columns k = l, l + G, ... For each column chunk the lanes walk the F fields in order
// (S and Q in registers), then the column terms are added in column order through shuffles, so every lane holds
// the same y, summed in the CPU's order.
#include "reckon/kernels/fm/fm_impl.h"
#include "reckon/kernels/fm/fm_math.h"
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

__global__ void fm_interaction_group_per_sample_kernel(const __grid_constant__ FmArgs a, int group_size,
                                                       bool backward) {
  const int lane = static_cast<int>(threadIdx.x) & (group_size - 1);
  const int first_lane_in_warp = static_cast<int>(threadIdx.x % 32) & ~(group_size - 1);
  const unsigned mask = group_size == 32 ? 0xffffffffu : (((1u << group_size) - 1u) << first_lane_in_warp);
  const std::int64_t groups_per_block = blockDim.x / group_size;
  const int F = a.fields, K = a.dim;
  const bool may_record = device_may_record(a.errors);
  for (std::int64_t b = blockIdx.x * groups_per_block + threadIdx.x / group_size; b < a.batch;
       b += static_cast<std::int64_t>(gridDim.x) * groups_per_block) {
    float y = 0.0f;
    int bad_field = -1;
    for (int k0 = 0; k0 < K && bad_field < 0; k0 += group_size) {
      const int k = k0 + lane;
      const bool active = k < K;
      float s = 0.0f, q = 0.0f;
      for (int f = 0; f < F; ++f) {
        const float* row = fm_row(a.in, b, f, F, K);
        if (row == nullptr) {  // the same for every lane of the group
          bad_field = f;
          break;
        }
        if (active) {
          const float v = mul_rn(fm_value(a.values, b, f, F), row[k]);
          s = add_rn(s, v);
          q = madd(v, v, q);
        }
      }
      if (bad_field >= 0) break;
      if (!backward) {
        const float term = active ? fm_column_term(s, q) : 0.0f;
        for (int l = 0; l < group_size; ++l) {
          const float t = __shfl_sync(mask, term, l, group_size);
          if (k0 + l < K) y = add_rn(y, t);
        }
      } else if (active) {
        const float dy = a.diff_dst[b];
        for (int f = 0; f < F; ++f) {
          const float* row = fm_row(a.in, b, f, F, K);
          const float x = fm_value(a.values, b, f, F);
          a.dst[(b * F + f) * K + k] = fm_row_gradient(dy, x, s, mul_rn(x, row[k]));
        }
      }
    }
    if (lane == 0) {
      if (bad_field >= 0) {
        if (may_record) record_device_error(a.errors, DeviceErrorKind::kIndexOutOfRange, bad_field, b);
      } else if (!backward) {
        a.dst[b] = y;
      }
    }
  }
}

}  // namespace

void fm_interaction_cuda(Context& ctx, const FmArgs& args, bool backward) {
  DeviceGuard guard(ctx.device().index);
  int group = 1;
  while (group < 32 && group < args.dim) group *= 2;
  constexpr int kThreads = 256;
  const std::int64_t groups_per_block = kThreads / group;
  const auto& prop = device_properties(ctx.device().index);
  const auto grid = static_cast<unsigned>(
      std::min<std::int64_t>((args.batch + groups_per_block - 1) / groups_per_block, 64LL * prop.multiProcessorCount));
  RECKON_LAUNCH(fm_interaction_group_per_sample_kernel, grid, kThreads, 0, cuda_stream(ctx), args, group, backward);
}

}  // namespace reckon::detail
