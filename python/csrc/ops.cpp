// torch.ops.reckon.*: reckon's kernels as PyTorch operators; here the library's definition and FM's operators (the
// embedding operators are in embedding_ops.cpp). Each schema is defined once (TORCH_LIBRARY); the CPU
// implementation calls the kernel on torch's tensors without copying them; the Meta implementation gives shapes
// only, so that torch.fx and fake tensors can trace a model that uses them. Autograd is attached in Python
// (reckon/ops.py), as FBGEMM_GPU does. The CPU and CUDA registrations are the same functions: the kernels dispatch on
// the device of the Context that context_for gives (on a GPU: torch's current stream).
#include <torch/library.h>

#include <vector>

#include "convert.h"
#include "reckon/kernels/fm/fm.h"

namespace reckon::torch_ops {
namespace {

std::int64_t leading_size(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(t.dim() >= 1, name, " must have at least one dimension");
  return t.size(0);
}

at::Tensor fm_interaction(const at::Tensor& src, const c10::optional<at::Tensor>& values) {
  at::Tensor out = at::empty({leading_size(src, "src")}, src.options().dtype(at::kFloat));
  run_checked([&] { fm_interaction_fwd(context_for(src), view_of(src, "src"), optional_view(values, "values"), view_of(out, "out")); });
  return out;
}

at::Tensor fm_interaction_backward(const at::Tensor& src, const c10::optional<at::Tensor>& values, const at::Tensor& grad) {
  at::Tensor diff_src = at::empty_like(src, src.options().dtype(at::kFloat));
  const at::Tensor g = grad.contiguous();
  run_checked([&] {
    fm_interaction_bwd(context_for(src), view_of(src, "src"), optional_view(values, "values"), view_of(g, "grad"), view_of(diff_src, "diff_src"));
  });
  return diff_src;
}

// Raises the first input error a kernel recorded on the tensor's device since the last check (on a GPU, kernels
// record errors instead of raising them; this synchronises this thread's reckon work there). On the CPU, errors
// were raised by the operator itself: nothing to do.
void check_errors(const at::Tensor& on) {
  if (on.is_cuda()) check_cuda_errors(on.get_device());
}

// The fused form: rows read from one table per field by id (indices [B, F]), no [B, F, K] gather in between.
std::vector<TensorView> table_views(at::TensorList tables) {
  TORCH_CHECK_VALUE(!tables.empty(), "fm_interaction_fused needs one table per field");
  std::vector<TensorView> views;
  for (const at::Tensor& t : tables) views.push_back(view_of(t, "tables"));
  return views;
}

// The gradient of each gathered row of the fused form: [B, F, K].
at::Tensor fused_rows_grad(at::TensorList tables, const at::Tensor& indices) {
  TORCH_CHECK_VALUE(indices.dim() == 2 && !tables.empty() && tables[0].dim() == 2, "indices must be [B, F] and tables [N, K]");
  return at::empty({indices.size(0), indices.size(1), tables[0].size(1)}, tables[0].options().dtype(at::kFloat));
}

at::Tensor fm_interaction_fused(at::TensorList tables, const at::Tensor& indices, const c10::optional<at::Tensor>& values) {
  at::Tensor out = at::empty({leading_size(indices, "indices")}, tables.at(0).options().dtype(at::kFloat));
  run_checked([&] {
    fm_interaction_fused_fwd(context_for(tables[0]), table_views(tables), view_of(indices, "indices"),
                             optional_view(values, "values"), view_of(out, "out"));
  });
  return out;
}

// The gradient of each gathered row, [B, F, K]: table f's gradient is its rows indices[:, f] accumulated.
at::Tensor fm_interaction_fused_backward(at::TensorList tables, const at::Tensor& indices,
                                         const c10::optional<at::Tensor>& values, const at::Tensor& grad) {
  at::Tensor diff = fused_rows_grad(tables, indices);
  const at::Tensor g = grad.contiguous();
  run_checked([&] {
    fm_interaction_fused_bwd(context_for(tables[0]), table_views(tables), view_of(indices, "indices"),
                             optional_view(values, "values"), view_of(g, "grad"), view_of(diff, "diff_rows"));
  });
  return diff;
}

at::Tensor fm_interaction_fused_meta(at::TensorList tables, const at::Tensor& indices, const c10::optional<at::Tensor>&) {
  return at::empty({leading_size(indices, "indices")}, tables.at(0).options().dtype(at::kFloat));
}

at::Tensor fm_interaction_fused_backward_meta(at::TensorList tables, const at::Tensor& indices,
                                              const c10::optional<at::Tensor>&, const at::Tensor&) {
  return fused_rows_grad(tables, indices);
}

at::Tensor fm_interaction_meta(const at::Tensor& src, const c10::optional<at::Tensor>&) {
  return at::empty({leading_size(src, "src")}, src.options().dtype(at::kFloat));
}

at::Tensor fm_interaction_backward_meta(const at::Tensor& src, const c10::optional<at::Tensor>&, const at::Tensor&) {
  return at::empty_like(src, src.options().dtype(at::kFloat));
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device.
void fm_impls(torch::Library& m) {
  m.impl("check_errors", check_errors);
  m.impl("fm_interaction", fm_interaction);
  m.impl("fm_interaction_backward", fm_interaction_backward);
  m.impl("fm_interaction_fused", fm_interaction_fused);
  m.impl("fm_interaction_fused_backward", fm_interaction_fused_backward);
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY(reckon, m) {
  m.def("check_errors(Tensor on) -> ()");
  m.def("fm_interaction(Tensor src, Tensor? values=None) -> Tensor");
  m.def("fm_interaction_backward(Tensor src, Tensor? values, Tensor grad) -> Tensor");
  m.def("fm_interaction_fused(Tensor[] tables, Tensor indices, Tensor? values=None) -> Tensor");
  m.def("fm_interaction_fused_backward(Tensor[] tables, Tensor indices, Tensor? values, Tensor grad) -> Tensor");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) { reckon::torch_ops::fm_impls(m); }
TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::fm_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("fm_interaction", fm_interaction_meta);
  m.impl("fm_interaction_backward", fm_interaction_backward_meta);
  m.impl("fm_interaction_fused", fm_interaction_fused_meta);
  m.impl("fm_interaction_fused_backward", fm_interaction_fused_backward_meta);
}

// Autograd is attached in Python; under meta tensors the autograd key passes straight through to the shapes.
TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"fm_interaction", "fm_interaction_backward", "fm_interaction_fused", "fm_interaction_fused_backward"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}
