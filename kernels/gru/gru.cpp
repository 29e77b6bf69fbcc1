#include "reckon/kernels/gru/gru.h"

#include "reckon/config.h"
#include "reckon/kernels/gru/gru_impl.h"
#include "reckon/kernels/gru/gru_math.h"
#include "reckon/runtime/dispatch.h"

namespace reckon {
namespace {

void check(const Context& ctx, const TensorView& t, const char* name, std::int64_t rows, std::int64_t cols) {
  RECKON_CHECK_ARG(t.dtype == DType::kF32 && t.ndim == 2 && t.size(0) == rows && t.size(1) == cols && t.is_contiguous(),
                   "gru ", name, " must be contiguous f32 [", rows, ", ", cols, "], got ", t.shape_str());
  check_device(t, name, ctx.device());
}

// B and H from h [B, H], every operand checked against them.
detail::GruArgs shape_of(const Context& ctx, const TensorView& h) {
  RECKON_CHECK_ARG(h.ndim == 2, "gru h must be [B, H], got ", h.shape_str());
  detail::GruArgs a{};
  a.batch = h.size(0);
  a.hidden = h.size(1);
  check(ctx, h, "h", a.batch, a.hidden);
  a.h = static_cast<const float*>(h.data);
  return a;
}

struct GruProblem {
  detail::GruArgs a;
  bool backward;
};

void gru_cpu(Context& ctx, const GruProblem& p) {
  const detail::GruArgs& a = p.a;
  const std::int64_t total = a.batch * a.hidden;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < total; ++i) {
    if (p.backward) {
      detail::gru_bwd_element(a, i / a.hidden, i % a.hidden);
    } else {
      detail::gru_fwd_element(a, i / a.hidden, i % a.hidden);
    }
  }
}

void gru_cuda(Context& ctx, const GruProblem& p) {
#if RECKON_WITH_CUDA
  if (p.backward) {
    detail::gru_cell_bwd_cuda(ctx, p.a);
  } else {
    detail::gru_cell_fwd_cuda(ctx, p.a);
  }
#else
  (void)ctx, (void)p;
#endif
}

const auto kGruFwd = cuda_then_cpu<GruProblem>("gru_cell_fwd", "cuda_grid_stride", "a CUDA context", gru_cuda, gru_cpu);
const auto kGruBwd = cuda_then_cpu<GruProblem>("gru_cell_bwd", "cuda_grid_stride", "a CUDA context", gru_cuda, gru_cpu);

}  // namespace

void gru_cell_fwd(Context& ctx, const TensorView& gates_x, const TensorView& gates_h, const TensorView& h,
                  const TensorView& h_out, const TensorView& saved) {
  detail::GruArgs a = shape_of(ctx, h);
  check(ctx, gates_x, "gates_x", a.batch, 3 * a.hidden);
  check(ctx, gates_h, "gates_h", a.batch, 3 * a.hidden);
  check(ctx, h_out, "h_out", a.batch, a.hidden);
  check(ctx, saved, "saved", a.batch, 4 * a.hidden);
  a.gates_x = static_cast<const float*>(gates_x.data);
  a.gates_h = static_cast<const float*>(gates_h.data);
  a.h_out = static_cast<float*>(h_out.data);
  a.saved = static_cast<float*>(saved.data);
  if (a.batch * a.hidden == 0) return;
  dispatch(ctx, kGruFwd, GruProblem{a, false});
}

void gru_cell_bwd(Context& ctx, const TensorView& h, const TensorView& saved, const TensorView& diff_h_out,
                  const TensorView& diff_gates_x, const TensorView& diff_gates_h, const TensorView& diff_h) {
  detail::GruArgs a = shape_of(ctx, h);
  check(ctx, saved, "saved", a.batch, 4 * a.hidden);
  check(ctx, diff_h_out, "diff_h_out", a.batch, a.hidden);
  check(ctx, diff_gates_x, "diff_gates_x", a.batch, 3 * a.hidden);
  check(ctx, diff_gates_h, "diff_gates_h", a.batch, 3 * a.hidden);
  if (diff_h.data != nullptr) check(ctx, diff_h, "diff_h", a.batch, a.hidden);
  a.saved = static_cast<float*>(saved.data);
  a.diff_h_out = static_cast<const float*>(diff_h_out.data);
  a.diff_gates_x = static_cast<float*>(diff_gates_x.data);
  a.diff_gates_h = static_cast<float*>(diff_gates_h.data);
  a.diff_h = static_cast<float*>(diff_h.data);
  if (a.batch * a.hidden == 0) return;
  dispatch(ctx, kGruBwd, GruProblem{a, true});
}

namespace detail {
OpDescription gru_layer_op();  // gru_layer.cpp
std::vector<OpDescription> gru_ops() { return {describe(kGruFwd), describe(kGruBwd), gru_layer_op()}; }
}  // namespace detail

}  // namespace reckon
