// CUDA embedding-bag forward.
//
// Thread mapping: a group of G threads (G a power of two <= 32, so a group lives inside one warp) owns one
// (bag, table) pair; the group's lanes split the D columns, kVec consecutive columns per lane (16-byte f32 or
// 8-byte bf16 loads when D % 4 == 0 and pointers are aligned). Work item w = b * T + t, so neighbouring groups write
// neighbouring rows of dst [B, T, D]. Each lane walks the bag's indices in order and accumulates its columns in
// registers in f32 - the same order and operations as the CPU path, hence bitwise parity.
#include <cuda_bf16.h>

#include <algorithm>
#include <bit>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/embedding/embedding_impl.h"
#include "reckon/kernels/embedding/embedding_math.h"
#include "reckon/runtime/detail/device_errors.cuh"
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


template <typename WeightT, typename IndexT, int kVec>
__global__ void embedding_bag_fwd_group_per_bag_kernel(const __grid_constant__ EmbeddingFwdArgs args, int group_size,
                                                       DeviceErrorRecord* errors) {
  const int lane = static_cast<int>(threadIdx.x) & (group_size - 1);
  const bool may_record = device_may_record(errors);
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
      if (lane == 0 && may_record) record_device_error(errors, DeviceErrorKind::kMalformedOffsets, args.table_offset + t, b);
      continue;
    }
    const int D = args.dim;
    if (args.pooling == PoolingMode::kNone) {
      for (std::int64_t j = start; j < end; ++j) {
        float* out = args.dst + (table.out_row_base + j) * D;
        const std::int64_t r = resolve_row(static_cast<std::int64_t>(indices[j]), table.rows, use_oov, args.oov_row);
        if (r < 0 && lane == 0 && may_record) {
          record_device_error(errors, DeviceErrorKind::kIndexOutOfRange, args.table_offset + t, j);
        }
        for (int d = lane * kVec; d < D; d += group_size * kVec) {
          float v[kVec];
          if (r >= 0) {
            load_vec<WeightT, kVec>(weights + r * table.row_stride, d, v);
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
          if (lane == 0 && d == 0 && may_record) {
            record_device_error(errors, DeviceErrorKind::kIndexOutOfRange, args.table_offset + t, j);
          }
          continue;
        }
        float v[kVec];
        load_vec<WeightT, kVec>(weights + r * table.row_stride, d, v);
        if (table.per_sample_weights != nullptr) {
          const float s = table.per_sample_weights[j];
#pragma unroll
          for (int k = 0; k < kVec; ++k) acc[k] = madd(s, v[k], acc[k]);
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

// vec: 4 when the dispatcher found every row and the output 16-byte aligned (cuda_vec4), else 1.
template <typename WeightT, typename IndexT>
void launch(Context& ctx, const EmbeddingFwdArgs& args, DeviceErrorRecord* errors, int vec) {
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
                            DeviceErrorRecord* errors, int vec) {
  DeviceGuard guard(ctx.device().index);
  const bool i32 = index_dtype == DType::kI32;
  if (weight_dtype == DType::kF32) {
    i32 ? launch<float, std::int32_t>(ctx, args, errors, vec) : launch<float, std::int64_t>(ctx, args, errors, vec);
  } else {
    i32 ? launch<bf16, std::int32_t>(ctx, args, errors, vec) : launch<bf16, std::int64_t>(ctx, args, errors, vec);
  }
}

}  // namespace reckon::detail

// ---- Backward ---------------------------------------------------------------------------------------------------
//
// Pipeline (one pass over all tables of the call): expand each id into an entry (global key = table's row_base +
// row, the diff_dst row it reads, its coefficient) -> stable radix sort of (key, entry) with CUB -> run-length
// encode into runs of equal keys -> exclusive scan of run lengths -> reduce each run and apply the optimizer:
//   short runs (<= kEmbeddingLongRun entries): a group of G <= 32 lanes per run, lanes split D, entries in order;
//   long runs: a block of kEmbeddingRunPartials warps per run, warp p sums entries k = p (mod P), partials added in
//   order. Both orders are the CPU's, hence bitwise parity and run-to-run determinism.
// The gradient row is staged in shared memory (D + 1 floats per group), so row-wise reductions and the update see
// the whole row. Errors are checked after the expand step, before anything is written.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

namespace reckon::detail {
namespace {

template <typename IndexT>
__global__ void embedding_bwd_expand_thread_per_bag_kernel(EmbeddingBwdProblem p, std::uint64_t* keys,
                                                           std::uint32_t* entries, std::int64_t* diff_row,
                                                           float* coef, DeviceErrorRecord* errors) {
  const bool may_record = device_may_record(errors);
  const std::int64_t work = p.batch * p.num_tables;
  const auto sentinel = static_cast<std::uint64_t>(p.total_rows);
  const bool use_oov = p.policy == IndexPolicy::kOovRow;
  for (std::int64_t w = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; w < work;
       w += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = w / p.num_tables;
    const int t = static_cast<int>(w % p.num_tables);
    const EmbeddingBwdTable& bt = p.tables[t];
    const auto* offsets = static_cast<const IndexT*>(bt.offsets);
    const auto* indices = static_cast<const IndexT*>(bt.indices);
    const std::int64_t start = offsets[b];
    const std::int64_t end = offsets[b + 1];
    if (start < 0 || start > end || end > bt.nnz) {
      if (may_record) record_device_error(errors, DeviceErrorKind::kMalformedOffsets, t, b);
      continue;
    }
    // Ids before the first bag or after the last belong to no bag: they get the sentinel key (sorted last, skipped).
    if (b == 0) {
      for (std::int64_t j = 0; j < start; ++j) keys[bt.entry_base + j] = sentinel, entries[bt.entry_base + j] = static_cast<std::uint32_t>(bt.entry_base + j);
    }
    if (b == p.batch - 1) {
      for (std::int64_t j = end; j < bt.nnz; ++j) keys[bt.entry_base + j] = sentinel, entries[bt.entry_base + j] = static_cast<std::uint32_t>(bt.entry_base + j);
    }
    for (std::int64_t j = start; j < end; ++j) {
      const std::int64_t e = bt.entry_base + j;
      entries[e] = static_cast<std::uint32_t>(e);
      const std::int64_t r = resolve_row(static_cast<std::int64_t>(indices[j]), bt.rows, use_oov, p.oov_row);
      if (r < 0) {
        if (may_record) record_device_error(errors, DeviceErrorKind::kIndexOutOfRange, t, j);
        keys[e] = sentinel;
        continue;
      }
      keys[e] = static_cast<std::uint64_t>(bt.row_base + r);
      diff_row[e] = p.pooling == PoolingMode::kNone ? bt.out_row_base + j : b * p.num_tables + t;
      coef[e] = entry_coefficient(p.pooling, bt.per_sample_weights, j, end - start);
    }
  }
}

// Plain SGD with atomics, one thread per (entry, column). Not deterministic: the order of the adds varies.
__global__ void embedding_bwd_atomic_sgd_kernel(EmbeddingBwdProblem p, OptimizerScalars scalars,
                                                const std::uint64_t* keys, const std::int64_t* diff_row,
                                                const float* coef, const DeviceErrorRecord* errors) {
  if (device_error_pending(errors)) return;  // a rejected call (or an earlier one's error) writes nothing
  const float neg_lr = clocked(scalars).neg_lr;
  const std::int64_t total = p.total_entries * p.dim;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t e = i / p.dim;
    const int d = static_cast<int>(i % p.dim);
    const std::uint64_t key = keys[e];
    if (key == static_cast<std::uint64_t>(p.total_rows)) continue;
    const EmbeddingBwdTable& bt = p.tables[find_table(p.tables, p.num_tables, key)];
    const std::int64_t r = static_cast<std::int64_t>(key) - bt.row_base;
    atomicAdd(bt.weights + r * bt.weight_stride + d, mul_rn(neg_lr, mul_rn(coef[e], p.diff_dst[diff_row[e] * p.dim + d])));
  }
}

// Runs longer than kEmbeddingLongRun, listed for the block-per-run kernel (list order does not affect results).
__global__ void embedding_bwd_collect_long_runs_kernel(const int* counts, std::int64_t n, int* list, int* list_size) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (counts[i] > kEmbeddingLongRun) list[atomicAdd(list_size, 1)] = static_cast<int>(i);
  }
}

struct RunInputs {
  const std::uint64_t* unique;
  const int* counts;
  const int* starts;
  const int* num_runs;
  const std::uint32_t* order;
  const std::int64_t* diff_row;
  const float* coef;
  const int* long_runs;
  const int* num_long_runs;
};

struct GradientOutputs {
  std::int32_t* table;
  std::int64_t* row;
  float* values;
};

// With the run's gradient in g_s[0..D), write it out or apply the optimizer. `lane` / `lanes` are this thread's
// place among the threads cooperating on the run; sync() orders their shared-memory accesses. g_s[D] holds the
// row-wise denominator.
template <bool kUpdate, typename Sync>
__device__ void finish_run(const EmbeddingBwdProblem& p, const OptimizerScalars& u, std::uint64_t key,
                           std::int64_t run, float* g_s, int lane, int lanes, Sync sync, const GradientOutputs& out) {
  const int D = p.dim;
  const int t = find_table(p.tables, p.num_tables, key);
  const EmbeddingBwdTable& bt = p.tables[t];
  const std::int64_t r = static_cast<std::int64_t>(key) - bt.row_base;
  if constexpr (!kUpdate) {
    for (int d = lane; d < D; d += lanes) out.values[run * D + d] = g_s[d];
    if (lane == 0) {
      out.table[run] = t;
      out.row[run] = r;
    }
  } else {
    float* w = bt.weights + r * bt.weight_stride;
    for (int d = lane; d < D; d += lanes) g_s[d] = regularised_gradient(u, g_s[d], w[d]);
    sync();
    if (u.kind == SparseOptimizerKind::kRowwiseAdagrad && lane == 0) {
      float sum_squares = 0.0f;
      for (int d = 0; d < D; ++d) sum_squares = madd(g_s[d], g_s[d], sum_squares);
      const float state = rowwise_state(bt.state1[r * bt.state1_stride], sum_squares, D);
      bt.state1[r * bt.state1_stride] = state;
      g_s[D] = rowwise_denominator(u, state);
    }
    sync();
    const float denom = u.kind == SparseOptimizerKind::kRowwiseAdagrad ? g_s[D] : 0.0f;
    const bool per_column_state = u.kind == SparseOptimizerKind::kAdagrad || u.kind == SparseOptimizerKind::kAdam;
    for (int d = lane; d < D; d += lanes) {
      float* s1 = per_column_state ? bt.state1 + r * bt.state1_stride + d : nullptr;
      float* s2 = u.kind == SparseOptimizerKind::kAdam ? bt.state2 + r * bt.state2_stride + d : nullptr;
      w[d] = optimizer_step(u, g_s[d], decayed_weight(u, w[d]), s1, s2, denom);
    }
  }
  sync();  // g_s is reused by the next run
}

template <bool kUpdate>
__global__ void embedding_bwd_short_runs_group_per_run_kernel(EmbeddingBwdProblem p, OptimizerScalars scalars,
                                                              RunInputs in, int group_size, GradientOutputs out,
                                                              const DeviceErrorRecord* errors) {
  if (device_error_pending(errors)) return;  // uniform across the grid: no __syncwarp is skipped by half a group
  const OptimizerScalars u = clocked(scalars);
  extern __shared__ float shared[];
  const int groups_per_block = static_cast<int>(blockDim.x) / group_size;
  const int group = static_cast<int>(threadIdx.x) / group_size;
  const int lane = static_cast<int>(threadIdx.x) % group_size;
  const int first_lane_in_warp = static_cast<int>(threadIdx.x % 32) & ~(group_size - 1);
  const unsigned mask = group_size == 32 ? 0xffffffffu : (((1u << group_size) - 1u) << first_lane_in_warp);
  float* g_s = shared + group * (p.dim + 1);
  const int runs = *in.num_runs;
  const auto sentinel = static_cast<std::uint64_t>(p.total_rows);
  for (std::int64_t s = static_cast<std::int64_t>(blockIdx.x) * groups_per_block + group; s < runs;
       s += static_cast<std::int64_t>(gridDim.x) * groups_per_block) {
    const int length = in.counts[s];
    const std::uint64_t key = in.unique[s];
    if (length > kEmbeddingLongRun || key == sentinel) continue;
    const int start = in.starts[s];
    for (int d = lane; d < p.dim; d += group_size) {
      float acc = 0.0f;
      for (int k = 0; k < length; ++k) {
        const std::uint32_t e = in.order[start + k];
        acc = madd(in.coef[e], p.diff_dst[in.diff_row[e] * p.dim + d], acc);
      }
      g_s[d] = acc;
    }
    __syncwarp(mask);
    finish_run<kUpdate>(p, u, key, s, g_s, lane, group_size, [mask] { __syncwarp(mask); }, out);
  }
}

template <bool kUpdate>
__global__ void embedding_bwd_long_runs_block_per_run_kernel(EmbeddingBwdProblem p, OptimizerScalars scalars,
                                                             RunInputs in, GradientOutputs out,
                                                             const DeviceErrorRecord* errors) {
  if (device_error_pending(errors)) return;
  const OptimizerScalars u = clocked(scalars);
  extern __shared__ float shared[];  // kEmbeddingRunPartials rows of D partial sums
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int D = p.dim;
  const int num_long = *in.num_long_runs;
  for (int i = static_cast<int>(blockIdx.x); i < num_long; i += static_cast<int>(gridDim.x)) {
    const int s = in.long_runs[i];
    const std::uint64_t key = in.unique[s];
    if (key == static_cast<std::uint64_t>(p.total_rows)) continue;  // uniform across the block
    const int length = in.counts[s];
    const int start = in.starts[s];
    for (int d = lane; d < D; d += 32) {
      float acc = 0.0f;
      for (int k = warp; k < length; k += kEmbeddingRunPartials) {
        const std::uint32_t e = in.order[start + k];
        acc = madd(in.coef[e], p.diff_dst[in.diff_row[e] * D + d], acc);
      }
      shared[warp * D + d] = acc;
    }
    __syncthreads();
    for (int d = static_cast<int>(threadIdx.x); d < D; d += static_cast<int>(blockDim.x)) {
      float sum = shared[d];
      for (int q = 1; q < kEmbeddingRunPartials; ++q) sum = add_rn(sum, shared[q * D + d]);
      shared[d] = sum;
    }
    __syncthreads();
    // The combined gradient is partial row 0; g_s[D] (partial row 1, free once the partials are combined) holds
    // the row-wise denominator.
    float* g_s = shared;
    finish_run<kUpdate>(p, u, key, s, g_s, static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x),
                        [] { __syncthreads(); }, out);
  }
}

// The tables' descriptors reach device memory through kernel parameters, a chunk per launch, not a copy from host
// memory: nothing of the call's host state is read after it returns, and a captured CUDA graph holds its values.
constexpr int kTablesPerFill = 16;  // 16 descriptors, under 2 KB of parameters
struct TableChunk {
  EmbeddingBwdTable tables[kTablesPerFill];
};
__global__ void embedding_bwd_fill_tables_kernel(EmbeddingBwdTable* dst, const __grid_constant__ TableChunk chunk,
                                                 int count) {
  if (static_cast<int>(threadIdx.x) < count) dst[threadIdx.x] = chunk.tables[threadIdx.x];
}

// The gradient-only path's row count: the runs, less the sentinel run of ids outside every bag.
__global__ void embedding_bwd_count_rows_kernel(const int* num_runs, const std::uint64_t* unique,
                                                std::uint64_t sentinel, std::int64_t* rows) {
  const int runs = *num_runs;
  *rows = runs - (runs > 0 && unique[runs - 1] == sentinel ? 1 : 0);
}

// Carves one workspace allocation into 256-byte aligned pieces; with no base it only adds up the size.
class Carver {
 public:
  explicit Carver(char* base) : base_(base) {}
  template <typename T>
  T* take(std::size_t count) {
    T* p = base_ != nullptr ? reinterpret_cast<T*>(base_ + used_) : nullptr;
    used_ += (count * sizeof(T) + 255) / 256 * 256;
    return p;
  }
  std::size_t used() const { return used_; }

 private:
  char* base_;
  std::size_t used_ = 0;
};

}  // namespace

void embedding_bag_bwd_cuda(Context& ctx, const EmbeddingBwdProblem& problem,
                            const std::vector<EmbeddingBwdTable>& host_tables, DType index_dtype,
                            const OptimizerScalars* update, EmbeddingBackwardAlgorithm algorithm,
                            SparseGradient* gradient) {
  DeviceGuard guard(ctx.device().index);
  DeviceErrorRecord* errors = device_error_record(ctx);
  cudaStream_t stream = cuda_stream(ctx);
  const std::int64_t n = problem.total_entries;
  const int D = problem.dim;
  const int end_bit = std::max(1, static_cast<int>(std::bit_width(static_cast<std::uint64_t>(problem.total_rows))));
  const int items = static_cast<int>(std::max<std::int64_t>(n, 1));

  // Temporary-storage sizes of the three CUB algorithms (two-phase API: null pointers ask for the size).
  std::size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  RECKON_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const std::uint64_t*>(nullptr),
                                                    static_cast<std::uint64_t*>(nullptr),
                                                    static_cast<const std::uint32_t*>(nullptr),
                                                    static_cast<std::uint32_t*>(nullptr), items, 0, end_bit, stream));
  RECKON_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, static_cast<const std::uint64_t*>(nullptr),
                                                       static_cast<std::uint64_t*>(nullptr), static_cast<int*>(nullptr),
                                                       static_cast<int*>(nullptr), items, stream));
  RECKON_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, static_cast<const int*>(nullptr),
                                                  static_cast<int*>(nullptr), items, stream));
  const std::size_t cub_bytes = std::max({sort_bytes, rle_bytes, scan_bytes});

  auto layout = [&](Carver& c) {
    struct Pieces {
      EmbeddingBwdTable* tables;
      int* counters;  // [0] runs, [1] long runs
      std::uint64_t *keys_in, *keys_out, *unique;
      std::uint32_t *entries_in, *entries_out;
      std::int64_t* diff_row;
      float* coef;
      int *counts, *starts, *long_runs;
      void* cub;
    } q;
    q.tables = c.take<EmbeddingBwdTable>(host_tables.size());
    q.counters = c.take<int>(2);
    q.keys_in = c.take<std::uint64_t>(static_cast<std::size_t>(items));
    q.keys_out = c.take<std::uint64_t>(static_cast<std::size_t>(items));
    q.unique = c.take<std::uint64_t>(static_cast<std::size_t>(items));
    q.entries_in = c.take<std::uint32_t>(static_cast<std::size_t>(items));
    q.entries_out = c.take<std::uint32_t>(static_cast<std::size_t>(items));
    q.diff_row = c.take<std::int64_t>(static_cast<std::size_t>(items));
    q.coef = c.take<float>(static_cast<std::size_t>(items));
    q.counts = c.take<int>(static_cast<std::size_t>(items));
    q.starts = c.take<int>(static_cast<std::size_t>(items));
    q.long_runs = c.take<int>(static_cast<std::size_t>(items));
    q.cub = c.take<char>(cub_bytes);
    return q;
  };
  Carver sizing(nullptr);
  (void)layout(sizing);
  Carver carver(static_cast<char*>(ctx.workspace(sizing.used())));
  const auto q = layout(carver);

  for (std::size_t first = 0; first < host_tables.size(); first += kTablesPerFill) {
    TableChunk chunk{};
    const int count = static_cast<int>(std::min<std::size_t>(kTablesPerFill, host_tables.size() - first));
    std::copy_n(host_tables.begin() + static_cast<std::ptrdiff_t>(first), count, chunk.tables);
    RECKON_LAUNCH(embedding_bwd_fill_tables_kernel, 1, kTablesPerFill, 0, stream, q.tables + first, chunk, count);
  }
  RECKON_CUDA_CHECK(cudaMemsetAsync(q.counters, 0, 2 * sizeof(int), stream));
  RECKON_CUDA_CHECK(cudaMemsetAsync(q.counts, 0, static_cast<std::size_t>(items) * sizeof(int), stream));
  EmbeddingBwdProblem p = problem;
  p.tables = q.tables;
  const auto& prop = device_properties(ctx.device().index);
  const int max_blocks = 32 * prop.multiProcessorCount;
  constexpr int kThreads = 256;

  if (gradient != nullptr) {
    // Sized for every entry a run (the most there can be); the device counts the rows it writes. Allocated before
    // anything records, so a failed allocation leaves the record as it was.
    gradient->table = Tensor::empty(ctx, DType::kI32, {n});
    gradient->row = Tensor::empty(ctx, DType::kI64, {n});
    gradient->values = Tensor::empty(ctx, DType::kF32, {n, D});
    gradient->count = Tensor::empty(ctx, DType::kI64, {1});
  }

  // 1. Expand; a bad id or offset is recorded, and the kernels that write skip when the record holds one.
  const std::int64_t bags = p.batch * p.num_tables;
  const auto expand_grid = static_cast<unsigned>(std::min<std::int64_t>((bags + kThreads - 1) / kThreads, max_blocks));
  if (index_dtype == DType::kI32) {
    RECKON_LAUNCH(embedding_bwd_expand_thread_per_bag_kernel<std::int32_t>, expand_grid, kThreads, 0, stream, p,
                  q.keys_in, q.entries_in, q.diff_row, q.coef, errors);
  } else {
    RECKON_LAUNCH(embedding_bwd_expand_thread_per_bag_kernel<std::int64_t>, expand_grid, kThreads, 0, stream, p,
                  q.keys_in, q.entries_in, q.diff_row, q.coef, errors);
  }
  if (n == 0 && gradient == nullptr) return;

  if (algorithm == EmbeddingBackwardAlgorithm::kAtomic) {
    const std::int64_t total = n * D;
    const auto grid = static_cast<unsigned>(std::min<std::int64_t>((total + kThreads - 1) / kThreads, max_blocks));
    if (total > 0) {
      RECKON_LAUNCH(embedding_bwd_atomic_sgd_kernel, grid, kThreads, 0, stream, p, *update, q.keys_in,
                    q.diff_row, q.coef, errors);
    }
    return;
  }

  // 2. Sort, run-length encode, scan, list the long runs.
  if (n > 0) {
    std::size_t bytes = cub_bytes;
    RECKON_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(q.cub, bytes, q.keys_in, q.keys_out, q.entries_in,
                                                      q.entries_out, items, 0, end_bit, stream));
    bytes = cub_bytes;
    RECKON_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(q.cub, bytes, q.keys_out, q.unique, q.counts, q.counters,
                                                         items, stream));
    bytes = cub_bytes;
    RECKON_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(q.cub, bytes, q.counts, q.starts, items, stream));
    const auto grid = static_cast<unsigned>(std::min<std::int64_t>((n + kThreads - 1) / kThreads, max_blocks));
    RECKON_LAUNCH(embedding_bwd_collect_long_runs_kernel, grid, kThreads, 0, stream, q.counts, n, q.long_runs,
                  q.counters + 1);
  }

  GradientOutputs out{nullptr, nullptr, nullptr};
  if (gradient != nullptr) {
    if (n > 0) {
      RECKON_LAUNCH(embedding_bwd_count_rows_kernel, 1, 1, 0, stream, q.counters, q.unique,
                    static_cast<std::uint64_t>(p.total_rows), gradient->count.data<std::int64_t>());
    } else {
      RECKON_CUDA_CHECK(cudaMemsetAsync(gradient->count.data<std::int64_t>(), 0, sizeof(std::int64_t), stream));
      return;
    }
    out = {gradient->table.data<std::int32_t>(), gradient->row.data<std::int64_t>(), gradient->values.data<float>()};
  }

  // 3. Reduce runs (and update).
  const RunInputs in{q.unique, q.counts, q.starts, q.counters, q.entries_out, q.diff_row, q.coef, q.long_runs,
                     q.counters + 1};
  const OptimizerScalars u = update != nullptr ? *update : OptimizerScalars{};
  int group = 1;
  while (group < 32 && group < D) group *= 2;
  const int groups_per_block = kThreads / group;
  const std::size_t short_shared = static_cast<std::size_t>(groups_per_block) * static_cast<std::size_t>(D + 1) * sizeof(float);
  const auto short_grid = static_cast<unsigned>(std::min<std::int64_t>((n + groups_per_block - 1) / groups_per_block, max_blocks));
  static_assert(kEmbeddingRunPartials >= 2, "the denominator slot borrows partial row 1");
  const std::size_t long_shared = static_cast<std::size_t>(kEmbeddingRunPartials) * static_cast<std::size_t>(D) * sizeof(float);
  const unsigned long_grid = static_cast<unsigned>(2 * prop.multiProcessorCount);
  constexpr int kLongThreads = kEmbeddingRunPartials * 32;
  if (update != nullptr) {
    RECKON_LAUNCH(embedding_bwd_short_runs_group_per_run_kernel<true>, short_grid, kThreads, short_shared, stream, p, u,
                  in, group, out, errors);
    RECKON_LAUNCH(embedding_bwd_long_runs_block_per_run_kernel<true>, long_grid, kLongThreads, long_shared, stream, p,
                  u, in, out, errors);
  } else {
    RECKON_LAUNCH(embedding_bwd_short_runs_group_per_run_kernel<false>, short_grid, kThreads, short_shared, stream, p,
                  u, in, group, out, errors);
    RECKON_LAUNCH(embedding_bwd_long_runs_block_per_run_kernel<false>, long_grid, kLongThreads, long_shared, stream, p,
                  u, in, out, errors);
  }
}

}  // namespace reckon::detail
