// gru_layer_fwd: validation and the ordered implementations (cuDNN's RNN, then the cell path on CUDA and on the CPU).
#include <string_view>

#include "reckon/config.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/kernels/gru/gru_impl.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/memory.h"

namespace reckon {
namespace {

using detail::GruLayerProblem;

TensorView rows(const TensorView& t, std::int64_t first, std::int64_t count, std::int64_t cols) {
  return TensorView::contiguous(static_cast<float*>(t.data) + first * cols, DType::kF32, t.device, {count, cols});
}

// Every step's input gates in one product, then per step the recurrent product and the fused cell.
void layer_by_cell(Context& ctx, const GruLayerProblem& p) {
  const std::int64_t T = p.steps, B = p.batch, H = p.hidden;
  const Tensor gates_x = Tensor::empty(ctx, DType::kF32, {T * B, 3 * H});
  const Tensor gates_h = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
  const Tensor saved = Tensor::empty(ctx, DType::kF32, {B, 4 * H});
  Tensor zeros;
  linear_fwd(ctx, rows(p.x, 0, T * B, p.input), p.w.w_x, p.w.b_x, gates_x);
  TensorView h = p.h0;
  if (h.data == nullptr) {
    zeros = Tensor::empty(ctx, DType::kF32, {B, H});
    fill(ctx, zeros, 0.0f);
    h = zeros.view();
  }
  for (std::int64_t t = 0; t < T; ++t) {
    linear_fwd(ctx, h, p.w.w_h, p.w.b_h, gates_h);
    const TensorView out = rows(p.y, t * B, B, H);
    gru_cell_fwd(ctx, rows(gates_x, t * B, B, 3 * H), gates_h, h, out, saved);
    h = out;
  }
}

Status named(const GruLayerProblem& p, const char* name) {
  if (p.implementation == nullptr || std::string_view(p.implementation) == name) return Status::ok();
  return Status(StatusCode::kUnsupported, "not the implementation asked for");
}

Status cudnn_supported(const Context& ctx, const GruLayerProblem& p) {
  if (Status s = named(p, "cuda_cudnn"); !s.is_ok()) return s;
  if (Status s = requires_cuda_context(ctx); !s.is_ok()) return s;
#if !(RECKON_WITH_CUDA && RECKON_WITH_CUDNN)
  return Status(StatusCode::kNotCompiled, "this build has no cuDNN");
#endif
  if (p.steps * p.batch > (std::int64_t{1} << 31) - 1 || p.input > 65'536 || p.hidden > 65'536) {
    return Status(StatusCode::kUnsupported, "cuDNN's RNN takes int sizes");
  }
  return Status::ok();
}

void run_cudnn(Context& ctx, const GruLayerProblem& p) {
#if RECKON_WITH_CUDA && RECKON_WITH_CUDNN
  detail::gru_layer_fwd_cudnn(ctx, p);
#else
  (void)ctx, (void)p;
#endif
}

const ImplementationList<GruLayerProblem, 3> kGruLayer{
    "gru_layer_fwd",
    {{{"cuda_cudnn", "a CUDA context and a build with cuDNN", cudnn_supported, run_cudnn},
      {"cuda_cell", "a CUDA context",
       [](const Context& c, const GruLayerProblem& p) {
         const Status s = named(p, "cuda_cell");
         return s.is_ok() ? requires_cuda_context(c) : s;
       },
       layer_by_cell},
      {"cpu_cell", "a CPU context",
       [](const Context& c, const GruLayerProblem& p) {
         const Status s = named(p, "cpu_cell");
         return s.is_ok() ? requires_cpu_context(c) : s;
       },
       layer_by_cell}}}};

void check_matrix(const Context& ctx, const TensorView& t, const char* name, std::int64_t rows, std::int64_t cols) {
  RECKON_CHECK_ARG(t.dtype == DType::kF32 && t.ndim == 2 && t.size(0) == rows && t.size(1) == cols && t.is_contiguous(),
                   "gru layer ", name, " must be contiguous f32 [", rows, ", ", cols, "], got ", t.shape_str());
  check_device(t, name, ctx.device());
}

}  // namespace

void gru_layer_fwd(Context& ctx, const TensorView& x, const TensorView& h0, const GruWeights& w, const TensorView& y,
                   const GruLayerOptions& options) {
  RECKON_CHECK_ARG(x.ndim == 3 && x.dtype == DType::kF32 && x.is_contiguous(),
                   "gru layer x must be contiguous f32 [T, B, I], got ", x.shape_str());
  check_device(x, "x", ctx.device());
  RECKON_CHECK_ARG(w.w_h.ndim == 2, "gru layer w_h must be [H, 3H], got ", w.w_h.shape_str());
  GruLayerProblem p{x.size(0), x.size(1), x.size(2), w.w_h.size(0), x, h0, y, w, options.implementation};
  check_matrix(ctx, w.w_x, "w_x", p.input, 3 * p.hidden);
  check_matrix(ctx, w.w_h, "w_h", p.hidden, 3 * p.hidden);
  for (const TensorView* b : {&w.b_x, &w.b_h}) {
    RECKON_CHECK_ARG(b->dtype == DType::kF32 && b->ndim == 1 && b->size(0) == 3 * p.hidden && b->is_contiguous(),
                     "gru layer biases must be contiguous f32 [", 3 * p.hidden, "], got ", b->shape_str());
    check_device(*b, "bias", ctx.device());
  }
  if (h0.data != nullptr) check_matrix(ctx, h0, "h0", p.batch, p.hidden);
  RECKON_CHECK_ARG(y.ndim == 3 && y.dtype == DType::kF32 && y.is_contiguous() && y.size(0) == p.steps &&
                       y.size(1) == p.batch && y.size(2) == p.hidden,
                   "gru layer y must be contiguous f32 [", p.steps, ", ", p.batch, ", ", p.hidden, "], got ",
                   y.shape_str());
  check_device(y, "y", ctx.device());
  if (p.steps * p.batch * p.hidden == 0) return;
  dispatch(ctx, kGruLayer, p);
}

namespace detail {
OpDescription gru_layer_op() { return describe(kGruLayer); }
}  // namespace detail

}  // namespace reckon
