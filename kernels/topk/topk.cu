// CUDA top-k: one block per row. Each thread keeps its own top k of a strided slice in registers/local memory
// (sorted, insertion only when an entry beats the thread's k-th), then k rounds of a block-wide arg-best over the
// threads' current heads pick the row's top k in order.
#include <cub/block/block_reduce.cuh>

#include "reckon/kernels/topk/topk.h"
#include "reckon/kernels/topk/topk_math.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

struct Candidate {
  float score;
  std::int32_t column;
};

struct Best {
  __device__ Candidate operator()(const Candidate& a, const Candidate& b) const {
    return topk_before(a.score, a.column, b.score, b.column) ? a : b;
  }
};

template <int kLocal>
__global__ void topk_rows_kernel(const float* scores, std::int64_t cols, int k, std::int32_t* out_columns,
                                 float* out_scores) {
  using Reduce = cub::BlockReduce<Candidate, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ Candidate winner;
  const std::int64_t row = blockIdx.x;
  const float* s = scores + row * cols;
  float best_score[kLocal];
  std::int32_t best_column[kLocal];
  const int keep = k < kLocal ? k : kLocal;
  for (int i = 0; i < kLocal; ++i) {
    best_score[i] = -__builtin_huge_valf();
    best_column[i] = -1;
  }
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float v = topk_key(s[c]);
    const auto col = static_cast<std::int32_t>(c);
    if (!topk_before(v, col, best_score[keep - 1], best_column[keep - 1]) || v == -__builtin_huge_valf()) continue;
    int at = keep - 1;
    while (at > 0 && topk_before(v, col, best_score[at - 1], best_column[at - 1])) {
      best_score[at] = best_score[at - 1];
      best_column[at] = best_column[at - 1];
      --at;
    }
    best_score[at] = v;
    best_column[at] = col;
  }
  int head = 0;
  for (int j = 0; j < k; ++j) {
    Candidate mine{head < keep ? best_score[head] : -__builtin_huge_valf(), head < keep ? best_column[head] : -1};
    if (mine.column < 0) mine.score = -__builtin_huge_valf();
    const Candidate top = Reduce(temp).Reduce(mine, Best());
    if (threadIdx.x == 0) winner = top;
    __syncthreads();
    const Candidate w = winner;
    if (w.column >= 0 && mine.column == w.column && mine.score == w.score) ++head;  // the owner pops its head
    if (threadIdx.x == 0) {
      const bool valid = w.column >= 0 && w.score > -__builtin_huge_valf();
      out_columns[row * k + j] = valid ? w.column : -1;
      out_scores[row * k + j] = valid ? s[w.column] : -__builtin_huge_valf();
    }
    __syncthreads();
  }
}

__global__ void mask_kernel(float* scores, std::int64_t rows, std::int64_t cols, const std::int32_t* r,
                            const std::int32_t* c, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (r[i] >= 0 && r[i] < rows && c[i] >= 0 && c[i] < cols) scores[static_cast<std::int64_t>(r[i]) * cols + c[i]] = -__builtin_huge_valf();
  }
}

}  // namespace

void topk_rows_cuda(Context& ctx, const float* scores, std::int64_t rows, std::int64_t cols, int k,
                    std::int32_t* out_columns, float* out_scores) {
  DeviceGuard guard(ctx.device().index);
  // A thread's list needs at most k entries (it may own the whole top k).
  for (std::int64_t r0 = 0; r0 < rows; r0 += 65535) {
    const auto n = static_cast<unsigned>(rows - r0 < 65535 ? rows - r0 : 65535);
    if (k <= 32) {
      RECKON_LAUNCH(topk_rows_kernel<32>, n, kThreads, 0, cuda_stream(ctx), scores + r0 * cols, cols, k,
                    out_columns + r0 * k, out_scores + r0 * k);
    } else {
      RECKON_LAUNCH(topk_rows_kernel<kTopkMaxK>, n, kThreads, 0, cuda_stream(ctx), scores + r0 * cols, cols, k,
                    out_columns + r0 * k, out_scores + r0 * k);
    }
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
