// CUDA dense layers: cuBLAS for the matrix products (row-major C = op(A)·op(B) computed as the column-major
// Cᵀ = op(B)ᵀ·op(A)ᵀ on the same buffers), grid-stride element-wise kernels, and a two-pass column sum whose
// order (chunks of kDenseReduceChunk rows, each in row order, chunks in order) is the CPU's.
#include "reckon/kernels/dense/dense_impl.h"
#include "reckon/kernels/dense/dense_math.h"
#include "reckon/runtime/detail/device_errors.cuh"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(Context& ctx, std::int64_t n) {
  const auto& prop = device_properties(ctx.device().index);
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min<std::int64_t>((n + kThreads - 1) / kThreads,
                                                                                  32LL * prop.multiProcessorCount)));
}

__global__ void dense_elementwise_kernel(ElementwiseOp op, float* data, const float* other, std::int64_t rows,
                                         std::int64_t cols, float rate, float scale, std::uint64_t seed,
                                         std::uint64_t stream_or_offset, const StepScalars* clock) {
  const std::int64_t n = rows * cols;
  const std::uint64_t stream = op == ElementwiseOp::kDropout ? dropout_stream(stream_or_offset, clock) : 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    switch (op) {
      case ElementwiseOp::kAdd: data[i] = add_rn(data[i], other[i]); break;
      case ElementwiseOp::kBias: data[i] = add_rn(data[i], other[i % cols]); break;
      case ElementwiseOp::kBiasRelu: data[i] = relu(other != nullptr ? add_rn(data[i], other[i % cols]) : data[i]); break;
      case ElementwiseOp::kReluBwd: data[i] = other[i] > 0.0f ? data[i] : 0.0f; break;
      case ElementwiseOp::kDropout:
        data[i] = dropout_keep(seed, stream, static_cast<std::uint64_t>(i), rate) ? mul_rn(data[i], scale) : 0.0f;
        break;
      case ElementwiseOp::kFill: data[i] = scale; break;
    }
  }
}

// Pass 1: thread (column n, chunk c) sums its chunk's rows in order; block rows stride over the chunks.
__global__ void column_sum_chunks_kernel(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t chunks,
                                         float* partials) {
  const std::int64_t n = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (n >= cols) return;
  for (std::int64_t c = blockIdx.y; c < chunks; c += gridDim.y) {
    const std::int64_t end = min(rows, (c + 1) * kDenseReduceChunk);
    float partial = 0.0f;
    for (std::int64_t b = c * kDenseReduceChunk; b < end; ++b) partial = add_rn(partial, src[b * cols + n]);
    partials[c * cols + n] = partial;
  }
}

// Pass 2: thread n adds the chunks in order.
__global__ void column_sum_combine_kernel(const float* partials, std::int64_t chunks, std::int64_t cols, float* out) {
  const std::int64_t n = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (n >= cols) return;
  float total = 0.0f;
  for (std::int64_t c = 0; c < chunks; ++c) total = add_rn(total, partials[c * cols + n]);
  out[n] = total;
}

void column_sum_with_scratch(Context& ctx, const float* src, std::int64_t rows, std::int64_t cols, float* out,
                             float* scratch) {
  const ColumnSumGrid g = column_sum_grid(rows, cols, kThreads);
  RECKON_LAUNCH(column_sum_chunks_kernel, dim3(g.x, g.y), kThreads, 0, cuda_stream(ctx), src, rows, cols, g.chunks,
                scratch);
  RECKON_LAUNCH(column_sum_combine_kernel, g.x, kThreads, 0, cuda_stream(ctx), scratch, g.chunks, cols, out);
}

__global__ void bce_kernel(const float* logits, const float* labels, std::int64_t n, float* losses, float* diff,
                           float scale, float* probabilities) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float z = logits[i], y = labels[i];
    losses[i] = bce_with_logits(z, y);
    if (diff != nullptr || probabilities != nullptr) {
      const float p = stable_sigmoid(z);
      if (diff != nullptr) diff[i] = mul_rn(sub_rn(p, y), scale);
      if (probabilities != nullptr) probabilities[i] = p;
    }
  }
}

__global__ void squared_error_kernel(const float* predictions, const float* targets, std::int64_t n, float* losses,
                                     float* diff, float scale) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float e = sub_rn(predictions[i], targets[i]);
    losses[i] = mul_rn(e, e);
    if (diff != nullptr) diff[i] = mul_rn(mul_rn(2.0f, e), scale);
  }
}

}  // namespace

void gemm_cuda(Context& ctx, bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc, DenseMath math) {
  DeviceGuard guard(ctx.device().index);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty product; cuBLAS refuses the leading dimension 0 that A or B then has
    if (beta == 0.0f) {
      RECKON_CUDA_CHECK(cudaMemset2DAsync(c, static_cast<std::size_t>(ldc) * sizeof(float), 0,
                                          static_cast<std::size_t>(n) * sizeof(float), static_cast<std::size_t>(m),
                                          cuda_stream(ctx)));
    }
    return;
  }
  cublasHandle_t handle = cublas_handle(ctx);
  RECKON_CUDA_CHECK(cublasSetMathMode(
      handle, math == DenseMath::kAllowTf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const float one = 1.0f;
  RECKON_CHECK_ARG(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, "matrix dimensions above 2^31 - 1");
  RECKON_CUDA_CHECK(cublasSgemm(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b,
                                static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c, static_cast<int>(ldc)));
}

void elementwise_cuda(Context& ctx, ElementwiseOp op, float* data, const float* other, std::int64_t rows,
                      std::int64_t cols, float rate, float scale, std::uint64_t seed, std::uint64_t stream,
                      const StepScalars* clock) {
  DeviceGuard guard(ctx.device().index);
  RECKON_LAUNCH(dense_elementwise_kernel, grid_for(ctx, rows * cols), kThreads, 0, cuda_stream(ctx), op, data, other,
                rows, cols, rate, scale, seed, stream, clock);
}

void column_sum_cuda(Context& ctx, const float* src, std::int64_t rows, std::int64_t cols, float* out) {
  DeviceGuard guard(ctx.device().index);
  const std::int64_t chunks = column_sum_grid(rows, cols, kThreads).chunks;
  auto* scratch = static_cast<float*>(ctx.workspace(static_cast<std::size_t>(chunks * cols) * sizeof(float)));
  column_sum_with_scratch(ctx, src, rows, cols, out, scratch);
}

void bce_cuda(Context& ctx, const float* logits, const float* labels, std::int64_t n, float* loss_sum,
              float* diff_logits, float scale, float* probabilities) {
  DeviceGuard guard(ctx.device().index);
  const std::int64_t chunks = column_sum_grid(n, 1, kThreads).chunks;
  auto* losses = static_cast<float*>(ctx.workspace(static_cast<std::size_t>(n + chunks) * sizeof(float)));
  if (n > 0) {
    RECKON_LAUNCH(bce_kernel, grid_for(ctx, n), kThreads, 0, cuda_stream(ctx), logits, labels, n, losses, diff_logits,
                  scale, probabilities);
  }
  column_sum_with_scratch(ctx, losses, n, 1, loss_sum, losses + n);
}

void squared_error_cuda(Context& ctx, const float* predictions, const float* targets, std::int64_t n, float* loss_sum,
                        float* diff, float scale) {
  DeviceGuard guard(ctx.device().index);
  const std::int64_t chunks = column_sum_grid(n, 1, kThreads).chunks;
  auto* losses = static_cast<float*>(ctx.workspace(static_cast<std::size_t>(n + chunks) * sizeof(float)));
  if (n > 0) {
    RECKON_LAUNCH(squared_error_kernel, grid_for(ctx, n), kThreads, 0, cuda_stream(ctx), predictions, targets, n,
                  losses, diff, scale);
  }
  column_sum_with_scratch(ctx, losses, n, 1, loss_sum, losses + n);
}

}  // namespace reckon::detail
