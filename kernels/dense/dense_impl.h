// Internal (not installed): what dense.cpp and dense.cu share - launch arguments and the CUDA entry points the
// dispatcher calls. The contract is dense.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/kernels/dense/dense.h"
#include "reckon/runtime/step_clock.h"

namespace reckon {
namespace detail {

enum class ElementwiseOp : std::uint8_t { kAdd, kBias, kBiasRelu, kReluBwd, kDropout, kFill };

// c = a·b (beta 0) or c += a·b (beta 1), row-major.
void gemm_cuda(Context& ctx, bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc, DenseMath math);
// Dropout's stream is `stream`, or clock->rng_stream + stream with a clock.
void elementwise_cuda(Context& ctx, ElementwiseOp op, float* data, const float* other, std::int64_t rows,
                      std::int64_t cols, float keep_threshold_rate, float scale, std::uint64_t seed,
                      std::uint64_t stream, const StepScalars* clock);
void column_sum_cuda(Context& ctx, const float* src, std::int64_t rows, std::int64_t cols, float* out);
void bce_cuda(Context& ctx, const float* logits, const float* labels, std::int64_t n, float* loss_sum,
              float* diff_logits, float scale, float* probabilities);
void squared_error_cuda(Context& ctx, const float* predictions, const float* targets, std::int64_t n, float* loss_sum,
                        float* diff, float scale);
}  // namespace detail
}  // namespace reckon
