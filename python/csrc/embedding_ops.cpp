// torch.ops.reckon's embedding operators: one table's pooled bags (embedding_bag), and several tables in one call
// (embedding_bags, FBGEMM's table-batched layout: one [B + 1] offsets per table, output [B, T, D]) with the sparse
// optimizers fused into the backward (embedding_bags_update: tables and optimizer state updated in place, the rows
// the bags touched only, as FBGEMM's TBE does). CPU, CUDA and Meta implementations; autograd in reckon/ops.py.
#include <torch/library.h>

#include <vector>

#include "convert.h"
#include "reckon/kernels/embedding/embedding.h"

namespace reckon::torch_ops {
namespace {

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

// The tables' views and bags; every table [rows, D] with the same D, every offsets [B + 1] with the same B.
struct Batch {
  std::vector<TensorView> tables;
  std::vector<EmbeddingBags> bags;
  std::int64_t batch = 0, dim = 0;
};

// Per-sample weights, one optional [nnz] per table (none, or as many as tables); sum pooling only (the kernel
// refuses them otherwise).
using SampleWeights = c10::List<c10::optional<at::Tensor>>;

Batch batch_of(at::TensorList weights, at::TensorList indices, at::TensorList offsets, const SampleWeights& sample_weights) {
  TORCH_CHECK_VALUE(!weights.empty() && weights.size() == indices.size() && weights.size() == offsets.size(),
                    "embedding_bags needs as many index and offset tensors as tables: ", weights.size(), " tables, ",
                    indices.size(), " indices, ", offsets.size(), " offsets");
  TORCH_CHECK_VALUE(sample_weights.empty() || sample_weights.size() == weights.size(),
                    "per_sample_weights: none, or one (or None) per table; got ", sample_weights.size(), " for ",
                    weights.size(), " tables");
  Batch b;
  b.batch = bag_count(weights[0], offsets[0]);
  b.dim = weights[0].size(1);
  for (std::size_t t = 0; t < weights.size(); ++t) {
    TORCH_CHECK_VALUE(bag_count(weights[t], offsets[t]) == b.batch && weights[t].size(1) == b.dim, "table ", t,
                      " has ", weights[t].sizes(), " and ", offsets[t].size(0) - 1, " bags; table 0 has dim ", b.dim,
                      " and ", b.batch, " bags");
    b.tables.push_back(view_of(weights[t], "weights"));
    const c10::optional<at::Tensor> w = sample_weights.empty() ? c10::nullopt : sample_weights.get(t);
    b.bags.push_back({view_of(offsets[t], "offsets"), view_of(indices[t], "indices"), optional_view(w, "per_sample_weights")});
  }
  return b;
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

// The sparse gradient's rows written into dense zero gradients, one per table, by torch's indexing on the
// tensors' device (learning how many rows there are synchronises a GPU context; the fused update never does this).
void scatter_rows(Context& ctx, const SparseGradient& sparse, std::vector<at::Tensor>& dense) {
  const std::int64_t rows = sparse.num_rows(ctx), dim = dense[0].size(1);
  if (rows == 0) return;
  const at::TensorOptions on = dense[0].options();
  const at::Tensor table = at::from_blob(sparse.table.data<std::int32_t>(), {rows}, on.dtype(at::kInt));
  const at::Tensor row = at::from_blob(sparse.row.data<std::int64_t>(), {rows}, on.dtype(at::kLong));
  const at::Tensor values = at::from_blob(sparse.values.data<float>(), {rows, dim}, on.dtype(at::kFloat));
  for (std::size_t t = 0; t < dense.size(); ++t) {
    const at::Tensor in_table = table == static_cast<std::int64_t>(t);
    dense[t].index_copy_(0, row.masked_select(in_table), values.index({in_table}));
  }
}

// The table's gradient, dense: the rows the bags touched, zeros elsewhere (torch's nn.EmbeddingBag default).
at::Tensor embedding_bag_backward(const at::Tensor& grad, const at::Tensor& weight, const at::Tensor& indices,
                                  const at::Tensor& offsets, c10::string_view mode,
                                  const c10::optional<at::Tensor>& per_sample_weights) {
  (void)bag_count(weight, offsets);
  std::vector<at::Tensor> diff{at::zeros({weight.size(0), weight.size(1)}, weight.options().dtype(at::kFloat))};
  const at::Tensor g = grad.contiguous();
  const EmbeddingBagOptions options = bag_options(mode);
  run_checked([&] {
    Context& ctx = context_for(weight);
    const TensorView table = view_of(weight, "weight");
    const EmbeddingBags bags{view_of(offsets, "offsets"), view_of(indices, "indices"), optional_view(per_sample_weights, "per_sample_weights")};
    scatter_rows(ctx, embedding_bag_bwd(ctx, {&table, 1}, {&bags, 1}, view_of(g, "grad"), options), diff);
  });
  return diff[0];
}

at::Tensor embedding_bags(at::TensorList weights, at::TensorList indices, at::TensorList offsets, c10::string_view mode,
                          const SampleWeights& per_sample_weights) {
  const EmbeddingBagOptions options = bag_options(mode);
  at::Tensor out;
  run_checked([&] {
    const Batch b = batch_of(weights, indices, offsets, per_sample_weights);
    out = at::empty({b.batch, static_cast<std::int64_t>(weights.size()), b.dim}, weights[0].options().dtype(at::kFloat));
    embedding_bag_fwd(context_for(weights[0]), b.tables, b.bags, view_of(out, "out"), options);
  });
  return out;
}

std::vector<at::Tensor> embedding_bags_backward(const at::Tensor& grad, at::TensorList weights, at::TensorList indices,
                                                at::TensorList offsets, c10::string_view mode,
                                                const SampleWeights& per_sample_weights) {
  const EmbeddingBagOptions options = bag_options(mode);
  std::vector<at::Tensor> diff;
  for (const at::Tensor& w : weights) diff.push_back(at::zeros(w.sizes(), w.options().dtype(at::kFloat)));
  const at::Tensor g = grad.contiguous();
  run_checked([&] {
    const Batch b = batch_of(weights, indices, offsets, per_sample_weights);
    Context& ctx = context_for(weights[0]);
    scatter_rows(ctx, embedding_bag_bwd(ctx, b.tables, b.bags, view_of(g, "grad"), options), diff);
  });
  return diff;
}

// One optimizer step on the rows the bags touched, fused into the backward; state1/state2 per table as the kind
// needs them (adagrad: [rows, D] sums of squares; rowwise-adagrad: [rows]; adam: [rows, D] moments; sgd: none).
void embedding_bags_update(at::TensorList weights, at::TensorList state1, at::TensorList state2, at::TensorList indices,
                           at::TensorList offsets, const at::Tensor& grad, c10::string_view mode,
                           c10::string_view optimizer, double learning_rate, double eps, double beta1, double beta2,
                           double weight_decay, std::int64_t step, const SampleWeights& per_sample_weights) {
  const EmbeddingBagOptions options = bag_options(mode);
  const at::Tensor g = grad.contiguous();
  run_checked([&] {
    SparseOptimizer o;
    o.kind = parse_optimizer_kind(std::string(optimizer));
    o.learning_rate = static_cast<float>(learning_rate);
    o.eps = eps < 0 ? kDefaultEps : static_cast<float>(eps);
    o.beta1 = static_cast<float>(beta1);
    o.beta2 = static_cast<float>(beta2);
    o.weight_decay = static_cast<float>(weight_decay);
    o.step = step;
    const Batch b = batch_of(weights, indices, offsets, per_sample_weights);
    std::vector<EmbeddingOptimizerState> states(weights.size());
    for (std::size_t t = 0; t < weights.size(); ++t) {
      if (t < state1.size()) states[t].state1 = view_of(state1[t], "state1");
      if (t < state2.size()) states[t].state2 = view_of(state2[t], "state2");
    }
    embedding_bag_bwd_update(context_for(weights[0]), b.tables, b.bags, view_of(g, "grad"), options, o, states);
  });
}

at::Tensor embedding_bag_meta(const at::Tensor& weight, const at::Tensor&, const at::Tensor& offsets, c10::string_view,
                              const c10::optional<at::Tensor>&) {
  return at::empty({bag_count(weight, offsets), weight.size(1)}, weight.options().dtype(at::kFloat));
}

at::Tensor embedding_bag_backward_meta(const at::Tensor&, const at::Tensor& weight, const at::Tensor&, const at::Tensor&,
                                       c10::string_view, const c10::optional<at::Tensor>&) {
  return at::empty({weight.size(0), weight.size(1)}, weight.options().dtype(at::kFloat));
}

at::Tensor embedding_bags_meta(at::TensorList weights, at::TensorList, at::TensorList offsets, c10::string_view,
                               const SampleWeights&) {
  TORCH_CHECK_VALUE(!weights.empty() && weights.size() == offsets.size(), "embedding_bags: a set of offsets per table");
  return at::empty({bag_count(weights[0], offsets[0]), static_cast<std::int64_t>(weights.size()), weights[0].size(1)},
                   weights[0].options().dtype(at::kFloat));
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device.
void embedding_impls(torch::Library& m) {
  m.impl("embedding_bag", embedding_bag);
  m.impl("embedding_bag_backward", embedding_bag_backward);
  m.impl("embedding_bags", embedding_bags);
  m.impl("embedding_bags_backward", embedding_bags_backward);
  m.impl("embedding_bags_update", embedding_bags_update);
}

std::vector<at::Tensor> embedding_bags_backward_meta(const at::Tensor&, at::TensorList weights, at::TensorList,
                                                     at::TensorList, c10::string_view, const SampleWeights&) {
  std::vector<at::Tensor> diff;
  for (const at::Tensor& w : weights) diff.push_back(at::empty(w.sizes(), w.options().dtype(at::kFloat)));
  return diff;
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY_FRAGMENT(reckon, m) {
  m.def("embedding_bag(Tensor weight, Tensor indices, Tensor offsets, str mode='sum', Tensor? per_sample_weights=None) -> Tensor");
  m.def("embedding_bag_backward(Tensor grad, Tensor weight, Tensor indices, Tensor offsets, str mode='sum', "
        "Tensor? per_sample_weights=None) -> Tensor");
  // per_sample_weights: [] for none (a Tensor?[] takes no default in a schema).
  m.def("embedding_bags(Tensor[] weights, Tensor[] indices, Tensor[] offsets, str mode, Tensor?[] per_sample_weights) "
        "-> Tensor");
  m.def("embedding_bags_backward(Tensor grad, Tensor[] weights, Tensor[] indices, Tensor[] offsets, str mode, "
        "Tensor?[] per_sample_weights) -> Tensor[]");
  m.def("embedding_bags_update(Tensor(a!)[] weights, Tensor(b!)[] state1, Tensor(c!)[] state2, Tensor[] indices, "
        "Tensor[] offsets, Tensor grad, str mode, str optimizer, float learning_rate, float eps, float beta1, "
        "float beta2, float weight_decay, int step, Tensor?[] per_sample_weights) -> ()");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) { reckon::torch_ops::embedding_impls(m); }
TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::embedding_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("embedding_bag", embedding_bag_meta);
  m.impl("embedding_bag_backward", embedding_bag_backward_meta);
  m.impl("embedding_bags", embedding_bags_meta);
  m.impl("embedding_bags_backward", embedding_bags_backward_meta);
}

TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"embedding_bag", "embedding_bag_backward", "embedding_bags", "embedding_bags_backward"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}
