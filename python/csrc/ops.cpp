// torch.ops.reckon.*: reckon's kernels as PyTorch operators. Each schema is defined once (TORCH_LIBRARY); the CPU
// implementation calls the kernel on torch's tensors without copying them; the Meta implementation gives shapes
// only, so that torch.fx and fake tensors can trace a model that uses them. Autograd is attached in Python
// (reckon/ops.py), as FBGEMM_GPU does. Debian's torch is CPU-only, so no CUDA implementation is registered yet: one
// needs torch's current CUDA stream from ATen's CUDA headers.
#include <torch/library.h>

#include <cstring>

#include "convert.h"
#include "reckon/kernels/embedding/embedding.h"
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

EmbeddingBagOptions bag_options(c10::string_view mode) {
  EmbeddingBagOptions o;
  TORCH_CHECK_VALUE(mode == "sum" || mode == "mean", "mode must be 'sum' or 'mean', got '", std::string(mode), "'");
  o.pooling = mode == "sum" ? PoolingMode::kSum : PoolingMode::kMean;
  return o;
}

// One table's bags: [B + 1] CSR offsets (FBGEMM's table-batched layout; torch's include_last_offset=True).
std::int64_t bag_count(const at::Tensor& weight, const at::Tensor& offsets) {
  TORCH_CHECK_VALUE(weight.dim() == 2, "weight must be [rows, dim], got ", weight.sizes());
  TORCH_CHECK_VALUE(offsets.dim() == 1 && offsets.size(0) >= 1, "offsets must be [bags + 1], got ", offsets.sizes());
  return offsets.size(0) - 1;
}

at::Tensor embedding_bag(const at::Tensor& weight, const at::Tensor& indices, const at::Tensor& offsets,
                         c10::string_view mode, const c10::optional<at::Tensor>& per_sample_weights) {
  at::Tensor out = at::empty({bag_count(weight, offsets), weight.size(1)}, weight.options().dtype(at::kFloat));
  const EmbeddingBagOptions options = bag_options(mode);
  run_checked([&] {
    const TensorView table = view_of(weight, "weight");
    const EmbeddingBags bags{view_of(offsets, "offsets"), view_of(indices, "indices"), optional_view(per_sample_weights, "per_sample_weights")};
    embedding_bag_fwd(context_for(weight), {&table, 1}, {&bags, 1}, view_of(out, "out"), options);
  });
  return out;
}

// The table's gradient, dense: the rows the bags touched, zeros elsewhere (torch's nn.EmbeddingBag default).
at::Tensor embedding_bag_backward(const at::Tensor& grad, const at::Tensor& weight, const at::Tensor& indices,
                                  const at::Tensor& offsets, c10::string_view mode,
                                  const c10::optional<at::Tensor>& per_sample_weights) {
  (void)bag_count(weight, offsets);
  at::Tensor diff = at::zeros({weight.size(0), weight.size(1)}, weight.options().dtype(at::kFloat));
  const at::Tensor g = grad.contiguous();
  const EmbeddingBagOptions options = bag_options(mode);
  run_checked([&] {
    Context& ctx = context_for(weight);
    const TensorView table = view_of(weight, "weight");
    const EmbeddingBags bags{view_of(offsets, "offsets"), view_of(indices, "indices"), optional_view(per_sample_weights, "per_sample_weights")};
    const SparseGradient sparse = embedding_bag_bwd(ctx, {&table, 1}, {&bags, 1}, view_of(g, "grad"), options);
    const std::int64_t rows = sparse.num_rows(ctx), dim = weight.size(1);
    const std::int64_t* row = sparse.row.data<std::int64_t>();
    const float* values = sparse.values.data<float>();
    float* out = diff.data_ptr<float>();
    for (std::int64_t u = 0; u < rows; ++u) std::memcpy(out + row[u] * dim, values + u * dim, sizeof(float) * static_cast<std::size_t>(dim));
  });
  return diff;
}

at::Tensor fm_interaction_meta(const at::Tensor& src, const c10::optional<at::Tensor>&) {
  return at::empty({leading_size(src, "src")}, src.options().dtype(at::kFloat));
}

at::Tensor fm_interaction_backward_meta(const at::Tensor& src, const c10::optional<at::Tensor>&, const at::Tensor&) {
  return at::empty_like(src, src.options().dtype(at::kFloat));
}

at::Tensor embedding_bag_meta(const at::Tensor& weight, const at::Tensor&, const at::Tensor& offsets, c10::string_view,
                              const c10::optional<at::Tensor>&) {
  return at::empty({bag_count(weight, offsets), weight.size(1)}, weight.options().dtype(at::kFloat));
}

at::Tensor embedding_bag_backward_meta(const at::Tensor&, const at::Tensor& weight, const at::Tensor&, const at::Tensor&,
                                       c10::string_view, const c10::optional<at::Tensor>&) {
  return at::empty({weight.size(0), weight.size(1)}, weight.options().dtype(at::kFloat));
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY(reckon, m) {
  m.def("fm_interaction(Tensor src, Tensor? values=None) -> Tensor");
  m.def("fm_interaction_backward(Tensor src, Tensor? values, Tensor grad) -> Tensor");
  m.def("embedding_bag(Tensor weight, Tensor indices, Tensor offsets, str mode='sum', Tensor? per_sample_weights=None) -> Tensor");
  m.def("embedding_bag_backward(Tensor grad, Tensor weight, Tensor indices, Tensor offsets, str mode='sum', "
        "Tensor? per_sample_weights=None) -> Tensor");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) {
  using namespace reckon::torch_ops;
  m.impl("fm_interaction", fm_interaction);
  m.impl("fm_interaction_backward", fm_interaction_backward);
  m.impl("embedding_bag", embedding_bag);
  m.impl("embedding_bag_backward", embedding_bag_backward);
}

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("fm_interaction", fm_interaction_meta);
  m.impl("fm_interaction_backward", fm_interaction_backward_meta);
  m.impl("embedding_bag", embedding_bag_meta);
  m.impl("embedding_bag_backward", embedding_bag_backward_meta);
}

// Autograd is attached in Python; under meta tensors the autograd key passes straight through to the shapes.
TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"fm_interaction", "fm_interaction_backward", "embedding_bag", "embedding_bag_backward"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}
