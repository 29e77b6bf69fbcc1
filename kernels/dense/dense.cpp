#include "reckon/kernels/dense/dense.h"

#include <cblas.h>
#include <omp.h>

#include "reckon/config.h"
#if RECKON_WITH_ONEDNN
#include <dnnl.h>

#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#endif

#include <algorithm>
#include <cmath>
#include <vector>

#include "reckon/kernels/dense/dense_impl.h"
#include "reckon/kernels/dense/dense_math.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/memory.h"

namespace reckon {
namespace {

void check_matrix(const Context& ctx, const TensorView& t, const char* name, std::int64_t rows, std::int64_t cols) {
  check_shape(t, name, {rows, cols});
  check_dtype(t, name, DType::kF32);
  RECKON_CHECK_ARG(t.is_contiguous(), name, " must be contiguous, got ", t.shape_str());
  check_device(t, name, ctx.device());
}

void check_vector(const Context& ctx, const TensorView& t, const char* name, std::int64_t n) {
  check_shape(t, name, {n});
  check_dtype(t, name, DType::kF32);
  check_device(t, name, ctx.device());
}

std::int64_t rows_of(const TensorView& t, const char* name) {
  RECKON_CHECK_ARG(t.ndim == 2, name, " must be a matrix, got ", t.shape_str());
  return t.size(0);
}

// Row-major C[m, n] = op(A) · op(B).
// What a CPU GEMM applies to its result before writing it: the linear layer's bias, then ReLU.
struct GemmEpilogue {
  const float* bias = nullptr;  // [n], added to every row
  bool relu = false;
};

#if RECKON_WITH_ONEDNN
// oneDNN's matmul primitive (brgemm kernels): 5-15% faster than dnnl_sgemm on the MLP's shapes on an AVX-512 CPU,
// and it applies bias, ReLU and accumulation (beta = 1) as post-ops while the result is in registers, saving a
// pass over the output (docs/PERF.md). Primitives are built once per shape and kept; false when oneDNN has no
// implementation for the request (the caller falls back to dnnl_sgemm).
bool matmul_onednn(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                   std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc, float beta,
                   const GemmEpilogue& epilogue) {
  using Key = std::tuple<bool, bool, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                         float, bool, bool>;
  struct Cached {
    dnnl::matmul primitive;
    bool ok = false;
  };
  static std::mutex mutex;
  static std::map<Key, Cached> cache;
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::desc a_desc(dims{m, k}, dt::f32, ta ? dims{1, lda} : dims{lda, 1});
  const dnnl::memory::desc b_desc(dims{k, n}, dt::f32, tb ? dims{1, ldb} : dims{ldb, 1});
  const dnnl::memory::desc c_desc(dims{m, n}, dt::f32, dims{ldc, 1});
  const dnnl::memory::desc bias_desc(dims{1, n}, dt::f32, dims{n, 1});
  const Key key{ta, tb, m, n, k, lda, ldb, ldc, beta, epilogue.bias != nullptr, epilogue.relu};
  dnnl::matmul primitive;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(key);
    if (found == cache.end()) {
      if (cache.size() >= 256) cache.clear();  // many one-off shapes (e.g. query batches): start over
      Cached made;
      try {
        dnnl::post_ops ops;
        if (beta != 0.0f) ops.append_sum(beta);  // c = a·b + beta·c
        if (epilogue.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        const auto desc = epilogue.bias != nullptr ? dnnl::matmul::desc(a_desc, b_desc, bias_desc, c_desc)
                                                   : dnnl::matmul::desc(a_desc, b_desc, c_desc);
        made.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, engine));
        made.ok = true;
      } catch (const dnnl::error&) {
        made.ok = false;  // oneDNN has no matmul for this request; gemm() uses dnnl_sgemm for it
      }
      found = cache.emplace(key, std::move(made)).first;
    }
    if (!found->second.ok) return false;
    primitive = found->second.primitive;
  }
  dnnl::stream stream(engine);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(a_desc, engine, const_cast<float*>(a))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(b_desc, engine, const_cast<float*>(b))},
      {DNNL_ARG_DST, dnnl::memory(c_desc, engine, c)}};
  if (epilogue.bias != nullptr) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_desc, engine, const_cast<float*>(epilogue.bias)));
  try {
    primitive.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    RECKON_THROW(StatusCode::kUnsupported, "oneDNN matmul failed for m=", m, " n=", n, " k=", k, ": ", e.what());
  }
  return true;
}
#endif

// c = a·b (beta 0) or c += a·b (beta 1), row-major, then the epilogue when an implementation fuses it (oneDNN's
// matmul): `fused` says whether it did, so the caller applies it as a separate pass otherwise.
struct GemmProblem {
  bool ta, tb;
  std::int64_t m, n, k;
  const float* a;
  std::int64_t lda;
  const float* b;
  std::int64_t ldb;
  float* c;
  std::int64_t ldc;
  DenseMath math;
  float beta;
  GemmEpilogue epilogue;
  bool* fused;
};

void gemm_cublas(Context& ctx, const GemmProblem& p) {
#if RECKON_WITH_CUDA
  detail::gemm_cuda(ctx, p.ta, p.tb, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc, p.math);
#else
  (void)ctx, (void)p;
#endif
}

// An empty product (k = 0): c = 0, or c unchanged when accumulating.
bool empty_product(const GemmProblem& p) {
  if (p.k != 0) return false;
  if (p.beta == 0.0f) {
    for (std::int64_t i = 0; i < p.m; ++i) std::fill_n(p.c + i * p.ldc, p.n, 0.0f);
  }
  return true;
}

Status onednn_supported(const Context& ctx, const GemmProblem&) {
#if RECKON_WITH_ONEDNN
  return requires_cpu_context(ctx);
#else
  (void)ctx;
  return {StatusCode::kNotCompiled, "this build has no oneDNN (RECKON_CPU_GEMM)"};
#endif
}

void gemm_onednn(Context& ctx, const GemmProblem& p) {
#if RECKON_WITH_ONEDNN
  if (empty_product(p)) return;
  // oneDNN threads over omp_get_max_threads(); the context's thread count rules for this call.
  struct OmpThreads {
    int saved = omp_get_max_threads();
    explicit OmpThreads(int n) { omp_set_num_threads(n); }
    ~OmpThreads() { omp_set_num_threads(saved); }
  } threads(ctx.cpu_threads());
  *p.fused = matmul_onednn(p.ta, p.tb, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, p.beta, p.epilogue);
  if (*p.fused) return;
  const dnnl_status_t status = dnnl_sgemm(p.ta ? 'T' : 'N', p.tb ? 'T' : 'N', p.m, p.n, p.k, 1.0f, p.a, p.lda, p.b,
                                          p.ldb, p.beta, p.c, p.ldc);
  if (status != dnnl_success) {
    RECKON_THROW(status == dnnl_out_of_memory ? StatusCode::kOutOfMemory : StatusCode::kInvalidArgument,
                 "oneDNN sgemm failed (dnnl status ", static_cast<int>(status), ") for m=", p.m, " n=", p.n, " k=", p.k);
  }
#else
  (void)ctx, (void)p;
#endif
}

void gemm_cblas(Context&, const GemmProblem& p) {
  if (empty_product(p)) return;
  cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, static_cast<int>(p.m),
              static_cast<int>(p.n), static_cast<int>(p.k), 1.0f, p.a, static_cast<int>(p.lda), p.b,
              static_cast<int>(p.ldb), p.beta, p.c, static_cast<int>(p.ldc));
}

const ImplementationList<GemmProblem, 3> kGemm{
    "dense_gemm",
    {{{"cublas", "a CUDA context (TF32 tensor cores when the call allows them)",
       [](const Context& c, const GemmProblem&) { return requires_cuda_context(c); }, gemm_cublas},
      {"onednn", "a CPU context and a build with oneDNN (matmul with bias and ReLU fused, else sgemm)",
       onednn_supported, gemm_onednn},
      {"cblas", "a CPU context (cblas_sgemm; bias and ReLU as a separate pass)",
       [](const Context& c, const GemmProblem&) { return requires_cpu_context(c); }, gemm_cblas}}}};

bool gemm(Context& ctx, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc, DenseMath math,
          float beta = 0.0f, const GemmEpilogue& epilogue = {}) {
  if (m == 0 || n == 0) return true;
  bool fused = false;
  dispatch(ctx, kGemm, GemmProblem{ta, tb, m, n, k, a, lda, b, ldb, c, ldc, math, beta, epilogue, &fused});
  return fused;
}

struct ElementwiseProblem {
  detail::ElementwiseOp op;
  float* data;
  const float* other;
  std::int64_t rows, cols;
  float rate, scale;
  std::uint64_t stream;
  const StepScalars* clock;  // dropout: the stream is clock->rng_stream + stream
};

void elementwise_cuda_run(Context& ctx, const ElementwiseProblem& p) {
#if RECKON_WITH_CUDA
  detail::elementwise_cuda(ctx, p.op, p.data, p.other, p.rows, p.cols, p.rate, p.scale, ctx.seed(), p.stream,
                           p.clock);
#else
  (void)ctx, (void)p;
#endif
}

void elementwise_cpu(Context& ctx, const ElementwiseProblem& p) {
  const auto op = p.op;
  float* data = p.data;
  const float* other = p.other;
  const std::int64_t rows = p.rows, cols = p.cols;
  const float rate = p.rate, scale = p.scale;
  const std::uint64_t stream = detail::dropout_stream(p.stream, p.clock);
  // One loop per op over rows, so each inner loop is branch-free and vectorises, and the bias is indexed by column
  // rather than by a division per element.
  const std::uint64_t seed = ctx.seed();
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = data + r * cols;
    const float* other_row = other != nullptr ? other + r * cols : nullptr;
    switch (op) {
      case detail::ElementwiseOp::kAdd:
        for (std::int64_t c = 0; c < cols; ++c) row[c] = add_rn(row[c], other_row[c]);
        break;
      case detail::ElementwiseOp::kBias:
        for (std::int64_t c = 0; c < cols; ++c) row[c] = add_rn(row[c], other[c]);
        break;
      case detail::ElementwiseOp::kBiasRelu:
        if (other != nullptr) {
          for (std::int64_t c = 0; c < cols; ++c) row[c] = detail::relu(add_rn(row[c], other[c]));
        } else {
          for (std::int64_t c = 0; c < cols; ++c) row[c] = detail::relu(row[c]);
        }
        break;
      case detail::ElementwiseOp::kReluBwd:
        for (std::int64_t c = 0; c < cols; ++c) row[c] = other_row[c] > 0.0f ? row[c] : 0.0f;
        break;
      case detail::ElementwiseOp::kDropout:
        for (std::int64_t c = 0; c < cols; ++c) {
          const auto i = static_cast<std::uint64_t>(r * cols + c);
          row[c] = detail::dropout_keep(seed, stream, i, rate) ? mul_rn(row[c], scale) : 0.0f;
        }
        break;
      case detail::ElementwiseOp::kFill:
        std::fill_n(row, cols, scale);
        break;
    }
  }
}

const auto kElementwise = cuda_then_cpu<ElementwiseProblem>(
    "dense_elementwise", "cuda_grid_stride", "a CUDA context", elementwise_cuda_run, elementwise_cpu);

void elementwise(Context& ctx, detail::ElementwiseOp op, float* data, const float* other, std::int64_t rows,
                 std::int64_t cols, float rate, float scale, std::uint64_t stream,
                 const StepScalars* clock = nullptr) {
  if (rows * cols == 0) return;
  dispatch(ctx, kElementwise, ElementwiseProblem{op, data, other, rows, cols, rate, scale, stream, clock});
}

void column_sum_cpu(Context& ctx, const float* src, std::int64_t rows, std::int64_t cols, float* out) {
  // Each column is summed chunk by chunk (sequential within a chunk, then the chunk sums in order), as on the GPU;
  // the loops run over a block of columns innermost so rows are read contiguously and the adds vectorise.
  constexpr std::int64_t kColumnBlock = 64;
  const std::int64_t blocks = (cols + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t n0 = blk * kColumnBlock;
    const std::int64_t width = std::min(kColumnBlock, cols - n0);
    float total[kColumnBlock] = {};
    float partial[kColumnBlock];
    for (std::int64_t c = 0; c * kDenseReduceChunk < rows; ++c) {
      std::fill_n(partial, width, 0.0f);
      const std::int64_t end = std::min(rows, (c + 1) * kDenseReduceChunk);
      for (std::int64_t b = c * kDenseReduceChunk; b < end; ++b) {
        const float* row = src + b * cols + n0;
        for (std::int64_t n = 0; n < width; ++n) partial[n] = add_rn(partial[n], row[n]);
      }
      for (std::int64_t n = 0; n < width; ++n) total[n] = add_rn(total[n], partial[n]);
    }
    std::copy_n(total, width, out + n0);
  }
}

struct ColumnSumProblem {
  const float* src;
  std::int64_t rows, cols;
  float* out;
};

void column_sum_cuda_run(Context& ctx, const ColumnSumProblem& p) {
#if RECKON_WITH_CUDA
  detail::column_sum_cuda(ctx, p.src, p.rows, p.cols, p.out);
#else
  (void)ctx, (void)p;
#endif
}
void column_sum_cpu_run(Context& ctx, const ColumnSumProblem& p) { column_sum_cpu(ctx, p.src, p.rows, p.cols, p.out); }

const auto kColumnSum = cuda_then_cpu<ColumnSumProblem>(
    "column_sum", "cuda_two_pass", "a CUDA context (chunk sums, then the chunks in order: the CPU's order)",
    column_sum_cuda_run, column_sum_cpu_run);

void column_sum_any(Context& ctx, const float* src, std::int64_t rows, std::int64_t cols, float* out) {
  if (cols == 0) return;
  dispatch(ctx, kColumnSum, ColumnSumProblem{src, rows, cols, out});
}

void bwd_data(Context& ctx, const TensorView& diff_dst, const TensorView& weights, const TensorView& diff_src,
              DenseMath math, float beta) {
  const std::int64_t B = rows_of(diff_dst, "linear diff_dst");
  RECKON_CHECK_ARG(weights.ndim == 2, "linear weights must be [M, N], got ", weights.shape_str());
  const std::int64_t M = weights.size(0), N = weights.size(1);
  check_matrix(ctx, diff_dst, "linear diff_dst", B, N);
  check_matrix(ctx, weights, "linear weights", M, N);
  check_matrix(ctx, diff_src, "linear diff_src", B, M);
  (void)gemm(ctx, false, true, B, M, N, static_cast<const float*>(diff_dst.data), N,
             static_cast<const float*>(weights.data), N, static_cast<float*>(diff_src.data), M, math, beta);
}

}  // namespace

void linear_fwd(Context& ctx, const TensorView& src, const TensorView& weights, const TensorView& bias,
                const TensorView& dst, Activation activation, DenseMath math) {
  const std::int64_t B = rows_of(src, "linear src");
  RECKON_CHECK_ARG(weights.ndim == 2, "linear weights must be [M, N], got ", weights.shape_str());
  const std::int64_t M = weights.size(0), N = weights.size(1);
  check_matrix(ctx, src, "linear src", B, M);
  check_matrix(ctx, weights, "linear weights", M, N);
  check_matrix(ctx, dst, "linear dst", B, N);
  if (bias.data != nullptr) check_vector(ctx, bias, "linear bias", N);
  const GemmEpilogue epilogue{static_cast<const float*>(bias.data), activation == Activation::kRelu};
  const bool fused = gemm(ctx, false, false, B, N, M, static_cast<const float*>(src.data), M,
                          static_cast<const float*>(weights.data), N, static_cast<float*>(dst.data), N, math, 0.0f,
                          epilogue);
  if (!fused && (activation == Activation::kRelu || bias.data != nullptr)) {
    elementwise(ctx, activation == Activation::kRelu ? detail::ElementwiseOp::kBiasRelu : detail::ElementwiseOp::kBias,
                static_cast<float*>(dst.data), static_cast<const float*>(bias.data), B, N, 0.0f, 1.0f, 0);
  }
}

void linear_bwd_data(Context& ctx, const TensorView& diff_dst, const TensorView& weights, const TensorView& diff_src,
                     DenseMath math) {
  bwd_data(ctx, diff_dst, weights, diff_src, math, 0.0f);
}

void linear_bwd_data_accumulate(Context& ctx, const TensorView& diff_dst, const TensorView& weights,
                                const TensorView& diff_src, DenseMath math) {
  bwd_data(ctx, diff_dst, weights, diff_src, math, 1.0f);
}

void linear_bwd_weights(Context& ctx, const TensorView& src, const TensorView& diff_dst, const TensorView& diff_weights,
                        const TensorView& diff_bias, DenseMath math) {
  const std::int64_t B = rows_of(src, "linear src");
  RECKON_CHECK_ARG(diff_weights.ndim == 2, "linear diff_weights must be [M, N], got ", diff_weights.shape_str());
  const std::int64_t M = diff_weights.size(0), N = diff_weights.size(1);
  check_matrix(ctx, src, "linear src", B, M);
  check_matrix(ctx, diff_dst, "linear diff_dst", B, N);
  check_matrix(ctx, diff_weights, "linear diff_weights", M, N);
  (void)gemm(ctx, true, false, M, N, B, static_cast<const float*>(src.data), M,
             static_cast<const float*>(diff_dst.data), N, static_cast<float*>(diff_weights.data), N, math);
  if (diff_bias.data != nullptr) {
    check_vector(ctx, diff_bias, "linear diff_bias", N);
    column_sum_any(ctx, static_cast<const float*>(diff_dst.data), B, N, static_cast<float*>(diff_bias.data));
  }
}

void add_inplace(Context& ctx, const TensorView& dst, const TensorView& src) {
  RECKON_CHECK_ARG(dst.dtype == DType::kF32 && src.dtype == DType::kF32 && dst.is_contiguous() && src.is_contiguous() &&
                       dst.numel() == src.numel(),
                   "add_inplace: contiguous f32 tensors of equal size needed, got ", dst.shape_str(), " and ",
                   src.shape_str());
  check_device(dst, "add_inplace dst", ctx.device());
  check_device(src, "add_inplace src", ctx.device());
  elementwise(ctx, detail::ElementwiseOp::kAdd, static_cast<float*>(dst.data), static_cast<const float*>(src.data), 1,
              dst.numel(), 0.0f, 1.0f, 0);
}

void fill(Context& ctx, const TensorView& data, float value) {
  RECKON_CHECK_ARG(data.dtype == DType::kF32 && data.is_contiguous(), "fill: a contiguous f32 tensor needed, got ",
                   data.shape_str());
  check_device(data, "fill data", ctx.device());
  elementwise(ctx, detail::ElementwiseOp::kFill, static_cast<float*>(data.data), nullptr, 1, data.numel(), 0.0f, value,
              0);
}

void bias_relu_fwd(Context& ctx, const TensorView& bias, const TensorView& data) {
  const std::int64_t B = rows_of(data, "relu data");
  const std::int64_t N = data.size(1);
  check_matrix(ctx, data, "relu data", B, N);
  if (bias.data != nullptr) check_vector(ctx, bias, "relu bias", N);
  elementwise(ctx, detail::ElementwiseOp::kBiasRelu, static_cast<float*>(data.data),
              static_cast<const float*>(bias.data), B, N, 0.0f, 1.0f, 0);
}

void relu_bwd(Context& ctx, const TensorView& activated, const TensorView& diff) {
  const std::int64_t B = rows_of(diff, "relu diff");
  const std::int64_t N = diff.size(1);
  check_matrix(ctx, diff, "relu diff", B, N);
  check_matrix(ctx, activated, "relu activated", B, N);
  elementwise(ctx, detail::ElementwiseOp::kReluBwd, static_cast<float*>(diff.data),
              static_cast<const float*>(activated.data), B, N, 0.0f, 1.0f, 0);
}

void column_sum(Context& ctx, const TensorView& src, const TensorView& out) {
  const std::int64_t B = rows_of(src, "column_sum src");
  const std::int64_t N = src.size(1);
  check_matrix(ctx, src, "column_sum src", B, N);
  check_vector(ctx, out, "column_sum out", N);
  column_sum_any(ctx, static_cast<const float*>(src.data), B, N, static_cast<float*>(out.data));
}

namespace {
void dropout(Context& ctx, const TensorView& data, float rate, std::uint64_t stream, const StepClock* clock) {
  RECKON_CHECK_ARG(rate >= 0.0f && rate < 1.0f, "dropout rate must be in [0, 1), got ", rate);
  check_dtype(data, "dropout data", DType::kF32);
  RECKON_CHECK_ARG(data.is_contiguous(), "dropout data must be contiguous");
  check_device(data, "dropout data", ctx.device());
  if (clock != nullptr) {
    RECKON_CHECK_ARG(stream < clock->rng_streams_per_step(), "dropout stream index ", stream, " outside the clock's ",
                     clock->rng_streams_per_step(), " streams per step");
  }
  if (rate == 0.0f) return;
  elementwise(ctx, detail::ElementwiseOp::kDropout, static_cast<float*>(data.data), nullptr, 1, data.numel(), rate,
              1.0f / (1.0f - rate), stream, clock != nullptr ? clock->scalars() : nullptr);
}
}  // namespace

void dropout_fwd(Context& ctx, const TensorView& data, float rate, std::uint64_t stream) {
  dropout(ctx, data, rate, stream, nullptr);
}
void dropout_bwd(Context& ctx, const TensorView& diff, float rate, std::uint64_t stream) {
  dropout(ctx, diff, rate, stream, nullptr);
}
void dropout_fwd(Context& ctx, const TensorView& data, float rate, const StepClock& clock, std::uint64_t index) {
  dropout(ctx, data, rate, index, &clock);
}
void dropout_bwd(Context& ctx, const TensorView& diff, float rate, const StepClock& clock, std::uint64_t index) {
  dropout(ctx, diff, rate, index, &clock);
}

namespace {

struct BceProblem {
  const float* z;
  const float* y;
  std::int64_t n;
  float* loss_sum;
  float* diff;
  float scale;
  float* prob;
};

void bce_cuda_run(Context& ctx, const BceProblem& p) {
#if RECKON_WITH_CUDA
  detail::bce_cuda(ctx, p.z, p.y, p.n, p.loss_sum, p.diff, p.scale, p.prob);
#else
  (void)ctx, (void)p;
#endif
}

void bce_cpu(Context& ctx, const BceProblem& p) {
  std::vector<float> losses(static_cast<std::size_t>(p.n));
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < p.n; ++i) {
    losses[static_cast<std::size_t>(i)] = detail::bce_with_logits(p.z[i], p.y[i]);
    if (p.diff != nullptr || p.prob != nullptr) {
      const float q = detail::stable_sigmoid(p.z[i]);
      if (p.diff != nullptr) p.diff[i] = mul_rn(sub_rn(q, p.y[i]), p.scale);
      if (p.prob != nullptr) p.prob[i] = q;
    }
  }
  column_sum_cpu(ctx, losses.data(), p.n, 1, p.loss_sum);
}

const auto kBce = cuda_then_cpu<BceProblem>("sigmoid_bce_with_logits", "cuda_grid_stride",
                                            "a CUDA context (losses summed as column_sum does)", bce_cuda_run, bce_cpu);

}  // namespace

namespace {

struct SquaredErrorProblem {
  const float* p;
  const float* t;
  std::int64_t n;
  float* loss_sum;
  float* diff;
  float scale;
};

void squared_error_cuda_run(Context& ctx, const SquaredErrorProblem& q) {
#if RECKON_WITH_CUDA
  detail::squared_error_cuda(ctx, q.p, q.t, q.n, q.loss_sum, q.diff, q.scale);
#else
  (void)ctx, (void)q;
#endif
}

void squared_error_cpu(Context& ctx, const SquaredErrorProblem& q) {
  std::vector<float> losses(static_cast<std::size_t>(q.n));
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < q.n; ++i) {
    const float e = sub_rn(q.p[i], q.t[i]);
    losses[static_cast<std::size_t>(i)] = mul_rn(e, e);
    if (q.diff != nullptr) q.diff[i] = mul_rn(mul_rn(2.0f, e), q.scale);
  }
  column_sum_cpu(ctx, losses.data(), q.n, 1, q.loss_sum);
}

const auto kSquaredError = cuda_then_cpu<SquaredErrorProblem>(
    "squared_error", "cuda_grid_stride", "a CUDA context (losses summed as column_sum does)", squared_error_cuda_run,
    squared_error_cpu);

}  // namespace

void squared_error(Context& ctx, const TensorView& predictions, const TensorView& targets, const TensorView& loss_sum,
                   const TensorView& diff, float scale) {
  RECKON_CHECK_ARG(predictions.is_contiguous() && predictions.dtype == DType::kF32,
                   "predictions must be contiguous f32, got ", predictions.shape_str());
  const std::int64_t n = predictions.numel();
  RECKON_CHECK_ARG(targets.is_contiguous() && targets.dtype == DType::kF32 && targets.numel() == n,
                   "targets must be contiguous f32 with ", n, " values, got ", targets.shape_str());
  check_vector(ctx, loss_sum, "loss_sum", 1);
  if (diff.data != nullptr) {
    RECKON_CHECK_ARG(diff.is_contiguous() && diff.dtype == DType::kF32 && diff.numel() == n,
                     "diff must be contiguous f32 with ", n, " values, got ", diff.shape_str());
  }
  for (const TensorView* t : {&predictions, &targets}) check_device(*t, "squared_error tensor", ctx.device());
  if (diff.data != nullptr) check_device(diff, "squared_error diff", ctx.device());
  dispatch(ctx, kSquaredError,
           SquaredErrorProblem{static_cast<const float*>(predictions.data), static_cast<const float*>(targets.data), n,
                               static_cast<float*>(loss_sum.data), static_cast<float*>(diff.data), scale});
}

void sigmoid_bce_with_logits(Context& ctx, const TensorView& logits, const TensorView& labels,
                             const TensorView& loss_sum, const TensorView& diff_logits, float scale,
                             const TensorView& probabilities) {
  RECKON_CHECK_ARG(logits.ndim == 1, "logits must be [B], got ", logits.shape_str());
  const std::int64_t n = logits.size(0);
  check_vector(ctx, logits, "logits", n);
  check_vector(ctx, labels, "labels", n);
  check_vector(ctx, loss_sum, "loss_sum", 1);
  if (diff_logits.data != nullptr) check_vector(ctx, diff_logits, "diff_logits", n);
  if (probabilities.data != nullptr) check_vector(ctx, probabilities, "probabilities", n);
  dispatch(ctx, kBce,
           BceProblem{static_cast<const float*>(logits.data), static_cast<const float*>(labels.data), n,
                      static_cast<float*>(loss_sum.data), static_cast<float*>(diff_logits.data), scale,
                      static_cast<float*>(probabilities.data)});
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> dense_ops() {
  return {describe(kGemm), describe(kElementwise), describe(kColumnSum), describe(kBce), describe(kSquaredError)};
}
}  // namespace reckon::detail
