// CUDA top-k. One block selects the top k of a list of candidates: each thread keeps its own top k of a strided
// slice in local memory (sorted, insertion only when an entry beats the thread's k-th, which is kept in registers
// so the common rejection reads nothing but the score), then k rounds of a block-wide arg-best over the threads'
// current heads pick the list's top k in order.
//
// A row is one list when there are enough rows to fill the device. With few rows (a query batch against a large
// table: 64 rows of 1,000,000 scores), one block per row would leave most SMs idle, so the row is cut into slices,
// a block per slice writes the slice's top k (score, column) to a workspace, and a second pass selects from the
// slices' candidates. The order (score, then column) is strict, so both ways select the same entries as the CPU.
#include <cub/block/block_reduce.cuh>

#include <algorithm>

#include "reckon/kernels/topk/topk.h"
#include "reckon/kernels/topk/topk_impl.h"
#include "reckon/kernels/topk/topk_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;
constexpr int kLoadsInFlight = 4;  // scores each thread loads before testing them

struct Candidate {
  float score;  // topk_key of the score: NaN is -inf
  std::int32_t column;
};

struct Best {
  __device__ Candidate operator()(const Candidate& a, const Candidate& b) const {
    return topk_before(a.score, a.column, b.score, b.column) ? a : b;
  }
};

// Scores of one row from `first` on; candidate i is column first + i.
struct RowSlice {
  const float* scores;
  std::int32_t first;
  __device__ Candidate operator()(std::int64_t i) const {
    return {topk_key(scores[i]), first + static_cast<std::int32_t>(i)};
  }
};

// Candidates written by the slice pass; column -1 is an empty place.
struct SliceCandidates {
  const float* scores;
  const std::int32_t* columns;
  __device__ Candidate operator()(std::int64_t i) const {
    const std::int32_t column = columns[i];
    return {column >= 0 ? scores[i] : -__builtin_huge_valf(), column};
  }
};

// The top k of candidates 0..count-1 in order; thread 0 writes place j through write(j, candidate), with column -1
// and score -inf where fewer than k candidates are above -inf.
template <int kLocal, typename Load, typename Write>
__device__ void block_topk(std::int64_t count, int k, Load load, Write write) {
  using Reduce = cub::BlockReduce<Candidate, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ Candidate winner;
  constexpr float kNone = -__builtin_huge_valf();
  float best_score[kLocal];
  std::int32_t best_column[kLocal];
  const int keep = k < kLocal ? k : kLocal;  // a thread may own the whole top k, never more
  for (int i = 0; i < kLocal; ++i) {
    best_score[i] = kNone;
    best_column[i] = -1;
  }
  float last_score = kNone;  // best_*[keep - 1], the entry to beat
  std::int32_t last_column = -1;
  for (std::int64_t base = threadIdx.x; base < count; base += kLoadsInFlight * kThreads) {
    Candidate c[kLoadsInFlight];
#pragma unroll
    for (int u = 0; u < kLoadsInFlight; ++u) {
      const std::int64_t i = base + static_cast<std::int64_t>(u) * kThreads;
      c[u] = i < count ? load(i) : Candidate{kNone, -1};
    }
#pragma unroll
    for (int u = 0; u < kLoadsInFlight; ++u) {
      const float v = c[u].score;
      const std::int32_t col = c[u].column;
      if (v == kNone || !topk_before(v, col, last_score, last_column)) continue;
      int at = keep - 1;
      while (at > 0 && topk_before(v, col, best_score[at - 1], best_column[at - 1])) {
        best_score[at] = best_score[at - 1];
        best_column[at] = best_column[at - 1];
        --at;
      }
      best_score[at] = v;
      best_column[at] = col;
      last_score = best_score[keep - 1];
      last_column = best_column[keep - 1];
    }
  }
  int head = 0;
  for (int j = 0; j < k; ++j) {
    Candidate mine{kNone, -1};
    if (head < keep && best_column[head] >= 0) mine = Candidate{best_score[head], best_column[head]};
    const Candidate top = Reduce(temp).Reduce(mine, Best());
    if (threadIdx.x == 0) winner = top;
    __syncthreads();
    const Candidate w = winner;
    const bool valid = w.column >= 0 && w.score > kNone;
    if (valid && mine.column == w.column) ++head;  // columns are unique: the owner pops its head
    if (threadIdx.x == 0) write(j, valid ? w : Candidate{kNone, -1});
    __syncthreads();
  }
}

// One block per row (blockIdx.y) and slice (blockIdx.x) of `slice` columns: the slice's top k to cand_*[row,
// slice, 0..k).
template <int kLocal>
__global__ void __launch_bounds__(kThreads)
    topk_slices_kernel(const float* scores, std::int64_t cols, std::int64_t slice, int k, float* cand_scores,
                       std::int32_t* cand_columns) {
  const std::int64_t row = blockIdx.y;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * slice;
  const std::int64_t count = cols - first < slice ? cols - first : slice;
  const std::int64_t out = (row * gridDim.x + blockIdx.x) * k;
  block_topk<kLocal>(count, k, RowSlice{scores + row * cols + first, static_cast<std::int32_t>(first)},
                     [&](int j, const Candidate& c) {
                       cand_scores[out + j] = c.score;
                       cand_columns[out + j] = c.column;
                     });
}

// One block per row (blockIdx.x): the row's top k from `count` entries of `load`'s list for that row.
template <int kLocal, bool kFromSlices>
__global__ void __launch_bounds__(kThreads)
    topk_rows_kernel(const float* scores, const std::int32_t* columns, std::int64_t count, int k,
                     std::int32_t* out_columns, float* out_scores) {
  const std::int64_t row = blockIdx.x;
  auto write = [&](int j, const Candidate& c) {
    out_columns[row * k + j] = c.column;
    out_scores[row * k + j] = c.score;  // the score itself: a selected key is never NaN
  };
  if constexpr (kFromSlices) {
    block_topk<kLocal>(count, k, SliceCandidates{scores + row * count, columns + row * count}, write);
  } else {
    block_topk<kLocal>(count, k, RowSlice{scores + row * count, 0}, write);
  }
}

__global__ void mask_kernel(float* scores, std::int64_t rows, std::int64_t cols, const std::int32_t* r,
                            const std::int32_t* c, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (r[i] >= 0 && r[i] < rows && c[i] >= 0 && c[i] < cols) scores[static_cast<std::int64_t>(r[i]) * cols + c[i]] = -__builtin_huge_valf();
  }
}

template <int kLocal>
void topk_launch(Context& ctx, const float* scores, std::int64_t rows, std::int64_t cols, int k,
                 std::int32_t* out_columns, float* out_scores) {
  cudaStream_t stream = cuda_stream(ctx);
  const auto& prop = device_properties(ctx.device().index);
  const std::int64_t wanted_blocks = 4LL * prop.multiProcessorCount;
  for (std::int64_t r0 = 0; r0 < rows; r0 += 65535) {
    const std::int64_t n = std::min<std::int64_t>(rows - r0, 65535);
    const float* s = scores + r0 * cols;
    const auto [slices, slice] = topk_slicing(n, cols, wanted_blocks);
    if (slices == 1) {
      RECKON_LAUNCH((topk_rows_kernel<kLocal, false>), static_cast<unsigned>(n), kThreads, 0, stream, s,
                    static_cast<const std::int32_t*>(nullptr), cols, k, out_columns + r0 * k, out_scores + r0 * k);
      continue;
    }
    const std::int64_t candidates = n * slices * k;
    auto* cand_scores = static_cast<float*>(ctx.workspace(static_cast<std::size_t>(candidates) * 8));
    auto* cand_columns = reinterpret_cast<std::int32_t*>(cand_scores + candidates);
    RECKON_LAUNCH(topk_slices_kernel<kLocal>, dim3(static_cast<unsigned>(slices), static_cast<unsigned>(n)), kThreads,
                  0, stream, s, cols, slice, k, cand_scores, cand_columns);
    RECKON_LAUNCH((topk_rows_kernel<kLocal, true>), static_cast<unsigned>(n), kThreads, 0, stream, cand_scores,
                  cand_columns, slices * k, k, out_columns + r0 * k, out_scores + r0 * k);
  }
}

}  // namespace

void topk_rows_cuda(Context& ctx, const float* scores, std::int64_t rows, std::int64_t cols, int k,
                    std::int32_t* out_columns, float* out_scores) {
  DeviceGuard guard(ctx.device().index);
  if (k <= 32) {
    topk_launch<32>(ctx, scores, rows, cols, k, out_columns, out_scores);
  } else {
    topk_launch<kTopkMaxK>(ctx, scores, rows, cols, k, out_columns, out_scores);
  }
}

void mask_entries_cuda(Context& ctx, float* scores, std::int64_t rows, std::int64_t cols, const std::int32_t* r,
                       const std::int32_t* c, std::int64_t count) {
  DeviceGuard guard(ctx.device().index);
  const unsigned blocks = blocks_for(count, kThreads);
  RECKON_LAUNCH(mask_kernel, blocks < 4096u ? blocks : 4096u, kThreads, 0, cuda_stream(ctx), scores, rows, cols, r, c,
                count);
}

}  // namespace reckon::detail
