// torch.ops.reckon's session-model operators: the GRU cell between its two matrix products (forward, saving what its
// backward needs, and backward), a whole GRU layer for inference, the large-catalogue softmax cross-entropy and
// GRU4Rec's BPR-max over sampled columns (each loss with its gradient in one pass). CPU, CUDA and Meta
// implementations; autograd in reckon/ops.py.
#include <torch/library.h>

#include <tuple>
#include <utility>
#include <vector>

#include "convert.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/kernels/softmax/softmax.h"

namespace reckon::torch_ops {
namespace {

std::int64_t hidden_of(const at::Tensor& h) {
  TORCH_CHECK_VALUE(h.dim() == 2, "h must be [B, H], got ", h.sizes());
  return h.size(1);
}

std::tuple<at::Tensor, at::Tensor> gru_cell_outputs(const at::Tensor& h) {
  return {at::empty(h.sizes(), h.options()), at::empty({h.size(0), 4 * hidden_of(h)}, h.options())};
}

// diff_gates_x, diff_gates_h [B, 3H] and diff_h [B, H].
std::tuple<at::Tensor, at::Tensor, at::Tensor> gru_cell_grads(const at::Tensor& h) {
  const std::int64_t hidden = hidden_of(h);
  return {at::empty({h.size(0), 3 * hidden}, h.options()), at::empty({h.size(0), 3 * hidden}, h.options()),
          at::empty(h.sizes(), h.options())};
}

// A layer's output [T, B, H] for x [T, B, I] and w_h [H, 3H].
at::Tensor gru_layer_output(const at::Tensor& x, const at::Tensor& w_h) {
  TORCH_CHECK_VALUE(x.dim() == 3 && w_h.dim() == 2, "x must be [T, B, I] and w_h [H, 3H], got ", x.sizes(), " and ",
                    w_h.sizes());
  return at::empty({x.size(0), x.size(1), w_h.size(0)}, x.options());
}

// A loss's per-row values [B] and its gradient, shaped like the scores [B, N].
std::tuple<at::Tensor, at::Tensor> loss_outputs(const at::Tensor& scores, const char* name) {
  TORCH_CHECK_VALUE(scores.dim() == 2, name, " must be [B, N], got ", scores.sizes());
  return {at::empty({scores.size(0)}, scores.options()), at::empty(scores.sizes(), scores.options())};
}

// h' and the saved [B, 4H] (r, z, n, gh_n) its backward reads.
std::tuple<at::Tensor, at::Tensor> gru_cell(const at::Tensor& gates_x, const at::Tensor& gates_h, const at::Tensor& h) {
  auto [h_out, saved] = gru_cell_outputs(h);
  const at::Tensor gx = gates_x.contiguous(), gh = gates_h.contiguous();
  run_checked([&] {
    gru_cell_fwd(context_for(h), view_of(gx, "gates_x"), view_of(gh, "gates_h"), view_of(h, "h"), view_of(h_out, "h_out"),
                 view_of(saved, "saved"));
  });
  return {h_out, saved};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gru_cell_backward(const at::Tensor& h, const at::Tensor& saved,
                                                                 const at::Tensor& grad_h_out) {
  auto [dgx, dgh, dh] = gru_cell_grads(h);
  const at::Tensor g = grad_h_out.contiguous();
  run_checked([&] {
    gru_cell_bwd(context_for(h), view_of(h, "h"), view_of(saved, "saved"), view_of(g, "grad_h_out"),
                 view_of(dgx, "diff_gates_x"), view_of(dgh, "diff_gates_h"), view_of(dh, "diff_h"));
  });
  return {dgx, dgh, dh};
}

// The whole layer over time-major x [T, B, I], inference: y [T, B, H].
at::Tensor gru_layer(const at::Tensor& x, const c10::optional<at::Tensor>& h0, const at::Tensor& w_x, const at::Tensor& w_h,
                     const at::Tensor& b_x, const at::Tensor& b_h) {
  at::Tensor y = gru_layer_output(x, w_h);
  run_checked([&] {
    const GruWeights weights{view_of(w_x, "w_x"), view_of(w_h, "w_h"), view_of(b_x, "b_x"), view_of(b_h, "b_h")};
    gru_layer_fwd(context_for(x), view_of(x, "x"), optional_view(h0, "h0"), weights, view_of(y, "y"));
  });
  return y;
}

void check_sequence(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_h) {
  TORCH_CHECK_VALUE(x.dim() == 3 && x.size(0) >= 1 && h0.dim() == 2 && w_h.dim() == 2 && x.size(1) == h0.size(0),
                    "x must be [T >= 1, B, I], h0 [B, H] and w_h [H, 3H], got ", x.sizes(), ", ", h0.sizes(), ", ",
                    w_h.sizes());
}

// The training layer's y [T, B, H] and saved [T, B, 4H].
std::tuple<at::Tensor, at::Tensor> gru_train_outputs(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_h) {
  check_sequence(x, h0, w_h);
  return {at::empty({x.size(0), x.size(1), h0.size(1)}, x.options()),
          at::empty({x.size(0), x.size(1), 4 * h0.size(1)}, x.options())};
}

std::tuple<at::Tensor, at::Tensor> gru_train_meta(const at::Tensor& x, const at::Tensor& h0, const at::Tensor&,
                                                  const at::Tensor& w_h, const at::Tensor&, const at::Tensor&) {
  return gru_train_outputs(x, h0, w_h);
}

std::vector<at::Tensor> gru_train_backward_meta(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_x,
                                                const at::Tensor& w_h, const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  const auto like = [](const at::Tensor& t) { return at::empty(t.sizes(), t.options()); };
  return {like(x), like(h0), like(w_x), like(w_h), at::empty({w_h.size(1)}, x.options()), at::empty({w_h.size(1)}, x.options())};
}

// Training over a whole sequence, the steps in C++: one product for every step's input gates, then per step the
// hidden product and the fused cell; saved [T, B, 4H] is what the backward reads. Returns (y [T, B, H], saved).
std::tuple<at::Tensor, at::Tensor> gru_layer_train(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_x,
                                                   const at::Tensor& w_h, const at::Tensor& b_x, const at::Tensor& b_h) {
  auto [y, saved] = gru_train_outputs(x, h0, w_h);
  const std::int64_t steps = x.size(0), batch = x.size(1), hidden = h0.size(1);
  at::Tensor gx = at::empty({steps, batch, 3 * hidden}, x.options()), gh = at::empty({batch, 3 * hidden}, x.options());
  run_checked([&] {
    Context& ctx = context_for(x);
    linear_fwd(ctx, view_of(x.view({steps * batch, x.size(2)}), "x"), view_of(w_x, "w_x"), view_of(b_x, "b_x"),
               view_of(gx.view({steps * batch, 3 * hidden}), "gates_x"));
    for (std::int64_t t = 0; t < steps; ++t) {
      const at::Tensor h = t == 0 ? h0 : y[t - 1];
      linear_fwd(ctx, view_of(h, "h"), view_of(w_h, "w_h"), view_of(b_h, "b_h"), view_of(gh, "gates_h"));
      gru_cell_fwd(ctx, view_of(gx[t], "gates_x"), view_of(gh, "gates_h"), view_of(h, "h"), view_of(y[t], "y"),
                   view_of(saved[t], "saved"));
    }
  });
  return {y, saved};
}

// Its backward through time: the cells from the last step to the first, the gradient into h carried back through
// the direct path and the hidden product; the weight gradients as one product each over every step.
// Returns (dx, dh0, dw_x, dw_h, db_x, db_h).
std::vector<at::Tensor> gru_layer_train_backward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_x,
                                                 const at::Tensor& w_h, const at::Tensor& y, const at::Tensor& saved,
                                                 const at::Tensor& grad_y) {
  check_sequence(x, h0, w_h);
  const std::int64_t steps = x.size(0), batch = x.size(1), hidden = h0.size(1), inputs = x.size(2);
  const at::Tensor h_prev = at::cat({h0.unsqueeze(0), y.narrow(0, 0, steps - 1)}).contiguous();
  const at::Tensor gy = grad_y.contiguous();
  at::Tensor dgx = at::empty({steps, batch, 3 * hidden}, x.options()), dgh = at::empty_like(dgx);
  at::Tensor dh = at::zeros({batch, hidden}, x.options()), carried = at::empty({batch, hidden}, x.options());
  at::Tensor dx = at::empty(x.sizes(), x.options()), dw_x = at::empty(w_x.sizes(), w_x.options());
  at::Tensor dw_h = at::empty(w_h.sizes(), w_h.options());
  at::Tensor db_x = at::empty({3 * hidden}, x.options()), db_h = at::empty({3 * hidden}, x.options());
  run_checked([&] {
    Context& ctx = context_for(x);
    for (std::int64_t t = steps - 1; t >= 0; --t) {
      add_inplace(ctx, view_of(dh, "dh"), view_of(gy[t], "grad_y"));  // dL/dh_{t+1}: its output's and the later steps'
      gru_cell_bwd(ctx, view_of(h_prev[t], "h"), view_of(saved[t], "saved"), view_of(dh, "dh"), view_of(dgx[t], "dgx"),
                   view_of(dgh[t], "dgh"), view_of(carried, "dh_direct"));
      linear_bwd_data_accumulate(ctx, view_of(dgh[t], "dgh"), view_of(w_h, "w_h"), view_of(carried, "dh_direct"));
      std::swap(dh, carried);
    }
    const TensorView all_dgx = view_of(dgx.view({steps * batch, 3 * hidden}), "dgx");
    const TensorView all_dgh = view_of(dgh.view({steps * batch, 3 * hidden}), "dgh");
    linear_bwd_data(ctx, all_dgx, view_of(w_x, "w_x"), view_of(dx.view({steps * batch, inputs}), "dx"));
    linear_bwd_weights(ctx, view_of(x.view({steps * batch, inputs}), "x"), all_dgx, view_of(dw_x, "dw_x"), view_of(db_x, "db_x"));
    linear_bwd_weights(ctx, view_of(h_prev.view({steps * batch, hidden}), "h"), all_dgh, view_of(dw_h, "dw_h"),
                       view_of(db_h, "db_h"));
  });
  return {dx, dh, dw_x, dw_h, db_x, db_h};
}

// Per-row losses [B] and the gradient of scale · Σ losses with respect to the logits [B, N].
std::tuple<at::Tensor, at::Tensor> softmax_cross_entropy_op(const at::Tensor& logits, const at::Tensor& targets, double scale) {
  auto [losses, diff] = loss_outputs(logits, "logits");
  const at::Tensor t = targets.to(at::kInt).contiguous();
  run_checked([&] {
    softmax_cross_entropy(context_for(logits), view_of(logits, "logits"), view_of(t, "targets"), view_of(losses, "losses"),
                          view_of(diff, "diff_logits"), static_cast<float>(scale));
  });
  return {losses, diff};
}

// GRU4Rec's BPR-max over sampled columns: per-row losses [B] and the gradient of scale · Σ losses in the scores.
std::tuple<at::Tensor, at::Tensor> bpr_max_op(const at::Tensor& scores, const c10::optional<at::Tensor>& bias,
                                              const at::Tensor& target_columns, const at::Tensor& column_items,
                                              double regularization, double scale) {
  auto [losses, diff] = loss_outputs(scores, "scores");
  const at::Tensor t = target_columns.to(at::kInt).contiguous(), items = column_items.to(at::kInt).contiguous();
  run_checked([&] {
    bpr_max_loss(context_for(scores), view_of(scores, "scores"), optional_view(bias, "bias"), view_of(t, "target_columns"),
                 view_of(items, "column_items"), view_of(losses, "losses"), view_of(diff, "diff_scores"),
                 static_cast<float>(regularization), static_cast<float>(scale));
  });
  return {losses, diff};
}

std::tuple<at::Tensor, at::Tensor> bpr_max_meta(const at::Tensor& scores, const c10::optional<at::Tensor>&, const at::Tensor&,
                                                const at::Tensor&, double, double) {
  return loss_outputs(scores, "scores");
}

std::tuple<at::Tensor, at::Tensor> gru_cell_meta(const at::Tensor&, const at::Tensor&, const at::Tensor& h) {
  return gru_cell_outputs(h);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gru_cell_backward_meta(const at::Tensor& h, const at::Tensor&, const at::Tensor&) {
  return gru_cell_grads(h);
}

at::Tensor gru_layer_meta(const at::Tensor& x, const c10::optional<at::Tensor>&, const at::Tensor&, const at::Tensor& w_h,
                          const at::Tensor&, const at::Tensor&) {
  return gru_layer_output(x, w_h);
}

std::tuple<at::Tensor, at::Tensor> softmax_cross_entropy_meta(const at::Tensor& logits, const at::Tensor&, double) {
  return loss_outputs(logits, "logits");
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device.
void sequence_impls(torch::Library& m) {
  m.impl("gru_cell", gru_cell);
  m.impl("gru_cell_backward", gru_cell_backward);
  m.impl("gru", gru_layer);
  m.impl("gru_train", gru_layer_train);
  m.impl("gru_train_backward", gru_layer_train_backward);
  m.impl("softmax_cross_entropy", softmax_cross_entropy_op);
  m.impl("bpr_max_loss", bpr_max_op);
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY_FRAGMENT(reckon, m) {
  m.def("gru_cell(Tensor gates_x, Tensor gates_h, Tensor h) -> (Tensor h_out, Tensor saved)");
  m.def("gru_cell_backward(Tensor h, Tensor saved, Tensor grad_h_out) -> (Tensor diff_gates_x, Tensor diff_gates_h, "
        "Tensor diff_h)");
  m.def("gru(Tensor x, Tensor? h0, Tensor w_x, Tensor w_h, Tensor b_x, Tensor b_h) -> Tensor");
  m.def("gru_train(Tensor x, Tensor h0, Tensor w_x, Tensor w_h, Tensor b_x, Tensor b_h) -> (Tensor y, Tensor saved)");
  m.def("gru_train_backward(Tensor x, Tensor h0, Tensor w_x, Tensor w_h, Tensor y, Tensor saved, Tensor grad_y) "
        "-> Tensor[]");
  m.def("softmax_cross_entropy(Tensor logits, Tensor targets, float scale=1.0) -> (Tensor losses, Tensor diff_logits)");
  m.def("bpr_max_loss(Tensor scores, Tensor? bias, Tensor target_columns, Tensor column_items, float regularization, "
        "float scale=1.0) -> (Tensor losses, Tensor diff_scores)");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) { reckon::torch_ops::sequence_impls(m); }
TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::sequence_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("gru_cell", gru_cell_meta);
  m.impl("gru_cell_backward", gru_cell_backward_meta);
  m.impl("gru", gru_layer_meta);
  m.impl("gru_train", gru_train_meta);
  m.impl("gru_train_backward", gru_train_backward_meta);
  m.impl("softmax_cross_entropy", softmax_cross_entropy_meta);
  m.impl("bpr_max_loss", bpr_max_meta);
}

TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"gru_cell", "gru_cell_backward", "gru", "gru_train", "gru_train_backward", "softmax_cross_entropy",
                         "bpr_max_loss"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}
