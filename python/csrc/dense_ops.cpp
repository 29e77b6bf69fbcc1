// torch.ops.reckon's dense layer (kernels/dense): y = act(x · w + bias) with the bias and ReLU applied inside the
// product's epilogue, and its backward (the ReLU's mask, then the data and weight products and the bias's column
// sums). w is [in, out], reckon's layout (torch.nn.Linear keeps its transpose). CPU, CUDA and Meta implementations;
// autograd in reckon/ops.py.
#include <torch/library.h>

#include <tuple>

#include "convert.h"
#include "reckon/kernels/dense/dense.h"

namespace reckon::torch_ops {
namespace {

at::Tensor linear_output(const at::Tensor& x, const at::Tensor& w) {
  TORCH_CHECK_VALUE(x.dim() == 2 && w.dim() == 2, "x must be [B, in] and w [in, out], got ", x.sizes(), " and ", w.sizes());
  return at::empty({x.size(0), w.size(1)}, x.options());
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, bool relu) {
  at::Tensor y = linear_output(x, w);
  run_checked([&] {
    linear_fwd(context_for(x), view_of(x, "x"), view_of(w, "w"), optional_view(bias, "bias"), view_of(y, "y"),
               relu ? Activation::kRelu : Activation::kNone);
  });
  return y;
}

// dx, dw and dbias from the upstream gradient; with relu, y is the forward's output (its mask).
std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& y,
                                                               const at::Tensor& grad, bool relu) {
  at::Tensor g = relu ? grad.contiguous().clone() : grad.contiguous();
  at::Tensor dx = at::empty(x.sizes(), x.options()), dw = at::empty(w.sizes(), w.options());
  at::Tensor dbias = at::empty({w.dim() == 2 ? w.size(1) : 0}, w.options());
  run_checked([&] {
    Context& ctx = context_for(x);
    if (relu) relu_bwd(ctx, view_of(y, "y"), view_of(g, "grad"));
    linear_bwd_data(ctx, view_of(g, "grad"), view_of(w, "w"), view_of(dx, "dx"));
    linear_bwd_weights(ctx, view_of(x, "x"), view_of(g, "grad"), view_of(dw, "dw"), view_of(dbias, "dbias"));
  });
  return {dx, dw, dbias};
}

at::Tensor linear_meta(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>&, bool) {
  return linear_output(x, w);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward_meta(const at::Tensor& x, const at::Tensor& w, const at::Tensor&,
                                                                    const at::Tensor&, bool) {
  return {at::empty(x.sizes(), x.options()), at::empty(w.sizes(), w.options()),
          at::empty({w.dim() == 2 ? w.size(1) : 0}, w.options())};
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device.
void dense_impls(torch::Library& m) {
  m.impl("linear", linear);
  m.impl("linear_backward", linear_backward);
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY_FRAGMENT(reckon, m) {
  m.def("linear(Tensor x, Tensor w, Tensor? bias=None, bool relu=False) -> Tensor");
  m.def("linear_backward(Tensor x, Tensor w, Tensor y, Tensor grad, bool relu) -> (Tensor dx, Tensor dw, Tensor dbias)");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) { reckon::torch_ops::dense_impls(m); }
TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::dense_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  m.impl("linear", reckon::torch_ops::linear_meta);
  m.impl("linear_backward", reckon::torch_ops::linear_backward_meta);
}

TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"linear", "linear_backward"}) m.impl(op, torch::CppFunction::makeFallthrough());
}
