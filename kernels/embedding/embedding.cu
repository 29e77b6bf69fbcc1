// CUDA embedding-bag forward.
//
// Thread mapping: a group of G threads (G a power of two <= 32, so a group lives inside one warp) owns one
// (bag, table) pair; the group's lanes split the D columns, kVec consecutive columns per lane (16-byte f32 or
// 8-byte bf16 loads when D % 4 == 0 and pointers are aligned). Work item w = b * T + t, so neighbouring groups write
// neighbouring rows of dst [B, T, D]. Each lane walks the bag's indices in order and accumulates its columns in
// registers in f32 - the same order and operations as the CPU path, hence bitwise parity.
#include <cuda_bf16.h>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/embedding/embedding_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

template <typename WeightT, int kVec>
__device__ __forceinline__ void load_vec(const WeightT* row, int d, float (&v)[kVec]) {
  if constexpr (kVec == 4 && std::is_same_v<WeightT, float>) {
    const float4 x = *reinterpret_cast<const float4*>(row + d);
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
  } else if constexpr (kVec == 4) {
    const uint2 x = *reinterpret_cast<const uint2*>(row + d);
    v[0] = __uint_as_float(x.x << 16), v[1] = __uint_as_float(x.x & 0xffff0000u);
    v[2] = __uint_as_float(x.y << 16), v[3] = __uint_as_float(x.y & 0xffff0000u);
  } else {
    v[0] = load_weight(row, d);
  }
}

template <int kVec>
__device__ __forceinline__ void store_vec(float* out, int d, const float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    *reinterpret_cast<float4*>(out + d) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    out[d] = v[0];
  }
}

__device__ __forceinline__ std::uint64_t error_key(int table, std::int64_t position) {
  return (static_cast<std::uint64_t>(table) << kErrorKeyShift) | static_cast<std::uint64_t>(position);
}

template <typename WeightT, typename IndexT, int kVec>
__global__ void embedding_bag_fwd_group_per_bag_kernel(const __grid_constant__ EmbeddingFwdArgs args, int group_size,
                                                       EmbeddingErrors* errors) {
  const int lane = static_cast<int>(threadIdx.x) & (group_size - 1);
  const std::int64_t groups_per_block = blockDim.x / group_size;
  const std::int64_t work = args.batch * args.num_tables;
  const bool use_oov = args.policy == IndexPolicy::kOovRow;
  for (std::int64_t w = blockIdx.x * groups_per_block + threadIdx.x / group_size; w < work;
       w += static_cast<std::int64_t>(gridDim.x) * groups_per_block) {
    const std::int64_t b = w / args.num_tables;
    const int t = static_cast<int>(w % args.num_tables);
    const EmbeddingTableArgs& table = args.tables[t];
    const auto* offsets = static_cast<const IndexT*>(table.offsets);
    const auto* indices = static_cast<const IndexT*>(table.indices);
    const auto* weights = static_cast<const WeightT*>(table.weights);
    const std::int64_t start = offsets[b];
    const std::int64_t end = offsets[b + 1];
    if (start < 0 || start > end || end > table.nnz) {
      // Malformed offsets: record, write nothing, read nothing more.
      if (lane == 0) atomicMin(reinterpret_cast<unsigned long long*>(&errors->bad_offsets), error_key(args.table_offset + t, b));
      continue;
    }
    const int D = args.dim;
    if (args.pooling == PoolingMode::kNone) {
      for (std::int64_t j = start; j < end; ++j) {
        float* out = args.dst + (table.out_row_base + j) * D;
        const std::int64_t r = resolve_row(static_cast<std::int64_t>(indices[j]), table.rows, use_oov, args.oov_row);
        if (r < 0 && lane == 0) atomicMin(reinterpret_cast<unsigned long long*>(&errors->bad_index), error_key(args.table_offset + t, j));
        for (int d = lane * kVec; d < D; d += group_size * kVec) {
          float v[kVec];
          if (r >= 0) {
            load_vec<WeightT, kVec>(weights + r * D, d, v);
          } else {
#pragma unroll
            for (int k = 0; k < kVec; ++k) v[k] = 0.0f;
          }
          store_vec<kVec>(out, d, v);
        }
      }
      continue;
    }
    float* out = args.dst + b * args.dst_row_stride + static_cast<std::int64_t>(t) * D;
    for (int d = lane * kVec; d < D; d += group_size * kVec) {
      float acc[kVec];
#pragma unroll
      for (int k = 0; k < kVec; ++k) acc[k] = 0.0f;
      for (std::int64_t j = start; j < end; ++j) {
        const std::int64_t r = resolve_row(static_cast<std::int64_t>(indices[j]), table.rows, use_oov, args.oov_row);
        if (r < 0) {
          if (lane == 0 && d == 0) atomicMin(reinterpret_cast<unsigned long long*>(&errors->bad_index), error_key(args.table_offset + t, j));
          continue;
        }
        float v[kVec];
        load_vec<WeightT, kVec>(weights + r * D, d, v);
        if (table.per_sample_weights != nullptr) {
          const float s = table.per_sample_weights[j];
#pragma unroll
          for (int k = 0; k < kVec; ++k) acc[k] = fmaf(s, v[k], acc[k]);
        } else {
#pragma unroll
          for (int k = 0; k < kVec; ++k) acc[k] = __fadd_rn(acc[k], v[k]);  // no contraction: match the CPU
        }
      }
      if (args.pooling == PoolingMode::kMean && end > start) {
        const auto count = static_cast<float>(end - start);
#pragma unroll
        for (int k = 0; k < kVec; ++k) acc[k] = __fdiv_rn(acc[k], count);
      }
      store_vec<kVec>(out, d, acc);
    }
  }
}

template <typename WeightT, typename IndexT>
void launch(Context& ctx, const EmbeddingFwdArgs& args, EmbeddingErrors* errors) {
  bool aligned = args.dim % 4 == 0 && reinterpret_cast<std::uintptr_t>(args.dst) % 16 == 0;
  for (int t = 0; t < args.num_tables; ++t) {
    aligned = aligned && reinterpret_cast<std::uintptr_t>(args.tables[t].weights) % (4 * sizeof(WeightT)) == 0;
  }
  const int vec = aligned ? 4 : 1;
  int group = 1;
  while (group < 32 && group * vec < args.dim) group *= 2;
  constexpr int kThreads = 256;
  const std::int64_t work = args.batch * args.num_tables;
  if (work == 0) return;
  const std::int64_t groups_per_block = kThreads / group;
  const auto& prop = device_properties(ctx.device().index);
  const auto grid = static_cast<unsigned>(
      std::min<std::int64_t>((work + groups_per_block - 1) / groups_per_block, 64LL * prop.multiProcessorCount));
  if (vec == 4) {
    RECKON_LAUNCH((embedding_bag_fwd_group_per_bag_kernel<WeightT, IndexT, 4>), grid, kThreads, 0, cuda_stream(ctx),
                  args, group, errors);
  } else {
    RECKON_LAUNCH((embedding_bag_fwd_group_per_bag_kernel<WeightT, IndexT, 1>), grid, kThreads, 0, cuda_stream(ctx),
                  args, group, errors);
  }
}

}  // namespace

void embedding_bag_fwd_cuda(Context& ctx, const EmbeddingFwdArgs& args, DType weight_dtype, DType index_dtype,
                            EmbeddingErrors* errors) {
  DeviceGuard guard(ctx.device().index);
  const bool i32 = index_dtype == DType::kI32;
  if (weight_dtype == DType::kF32) {
    i32 ? launch<float, std::int32_t>(ctx, args, errors) : launch<float, std::int64_t>(ctx, args, errors);
  } else {
    i32 ? launch<bf16, std::int32_t>(ctx, args, errors) : launch<bf16, std::int64_t>(ctx, args, errors);
  }
}

}  // namespace reckon::detail
