// torch.ops.reckon's item-vector operators: skip-gram with negative sampling (sgns_step, the tables updated in place,
// and the host-side helpers it needs: the negative sampler's alias table and word2vec's subsampling) and top-k
// selection, on a score matrix (topk) or on the product of queries and item vectors (topk_product: scores, masked
// pairs and selection in one call, the scores in chunks of bounded size). CPU, CUDA and Meta implementations.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <span>
#include <tuple>
#include <vector>

#include "convert.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/skipgram/skipgram.h"
#include "reckon/kernels/topk/topk.h"

namespace reckon::torch_ops {
namespace {

template <typename T>
std::span<const T> host_span(const at::Tensor& t, at::ScalarType type, const char* name) {
  TORCH_CHECK_VALUE(t.dim() == 1 && t.scalar_type() == type && t.is_cpu() && t.is_contiguous(), name,
                    " must be a contiguous 1-d ", type, " CPU tensor, got ", t.scalar_type(), " ", t.sizes());
  return {t.data_ptr<T>(), static_cast<std::size_t>(t.numel())};
}

std::span<const std::int64_t> counts_of(const at::Tensor& counts) {
  return host_span<std::int64_t>(counts, at::kLong, "counts");
}

std::tuple<at::Tensor, at::Tensor> alias_table(const at::Tensor& counts, double alpha) {
  AliasTable table;
  run_checked([&] { table = build_alias_table(counts_of(counts), alpha); });
  const auto v = static_cast<std::int64_t>(table.prob.size());
  at::Tensor prob = at::empty({v}, counts.options().dtype(at::kFloat));
  at::Tensor alias = at::empty({v}, counts.options().dtype(at::kInt));
  std::copy(table.prob.begin(), table.prob.end(), prob.data_ptr<float>());
  std::copy(table.alias.begin(), table.alias.end(), alias.data_ptr<std::int32_t>());
  return {prob, alias};
}

at::Tensor keep_probability(const at::Tensor& counts, double threshold) {
  std::vector<float> keep;
  run_checked([&] { keep = subsample_keep_probability(counts_of(counts), threshold); });
  at::Tensor out = at::empty({static_cast<std::int64_t>(keep.size())}, counts.options().dtype(at::kFloat));
  std::copy(keep.begin(), keep.end(), out.data_ptr<float>());
  return out;
}

std::tuple<at::Tensor, at::Tensor> subsample(const at::Tensor& tokens, const at::Tensor& offsets, const at::Tensor& keep,
                                             std::int64_t seed, std::int64_t stream) {
  std::vector<std::int32_t> kept;
  std::vector<std::int64_t> kept_offsets;
  run_checked([&] {
    subsample_sentences(host_span<std::int32_t>(tokens, at::kInt, "tokens"), host_span<std::int64_t>(offsets, at::kLong, "offsets"),
                        host_span<float>(keep, at::kFloat, "keep"), static_cast<std::uint64_t>(seed),
                        static_cast<std::uint64_t>(stream), kept, kept_offsets, at::get_num_threads());
  });
  at::Tensor t = at::empty({static_cast<std::int64_t>(kept.size())}, tokens.options());
  at::Tensor o = at::empty({static_cast<std::int64_t>(kept_offsets.size())}, offsets.options());
  std::copy(kept.begin(), kept.end(), t.data_ptr<std::int32_t>());
  std::copy(kept_offsets.begin(), kept_offsets.end(), o.data_ptr<std::int64_t>());
  return {t, o};
}

// One step over a batch of sentences; returns float64 [3] on the CPU: pairs trained, pairs whose loss was computed,
// their loss. Reading them synchronises a GPU context, which is also where a bad token found on the device surfaces.
at::Tensor sgns_step_op(const at::Tensor& input_vectors, const at::Tensor& output_vectors, const at::Tensor& tokens,
                        const at::Tensor& sentence_offsets, const at::Tensor& alias_prob, const at::Tensor& alias_index,
                        std::int64_t window, std::int64_t negatives, double learning_rate, std::int64_t seed,
                        std::int64_t stream, bool sequential, bool compute_loss) {
  SgnsOptions o;
  o.window = static_cast<int>(std::clamp<std::int64_t>(window, -1, kSgnsMaxWindow + 1));
  o.negatives = static_cast<int>(std::clamp<std::int64_t>(negatives, -1, kSgnsMaxNegatives + 1));
  o.learning_rate = static_cast<float>(learning_rate);
  o.seed = static_cast<std::uint64_t>(seed);
  o.stream = static_cast<std::uint64_t>(stream);
  o.schedule = sequential ? SgnsSchedule::kSequential : SgnsSchedule::kHogwild;
  o.compute_loss = compute_loss;
  SgnsStats stats;
  run_checked([&] {
    Context& ctx = context_for(input_vectors);
    SgnsTotals totals(ctx);
    sgns_step(ctx, view_of(input_vectors, "input_vectors"), view_of(output_vectors, "output_vectors"),
              view_of(tokens, "tokens"), view_of(sentence_offsets, "sentence_offsets"), view_of(alias_prob, "alias_prob"),
              view_of(alias_index, "alias_index"), o, &totals);
    stats = totals.read();
  });
  at::Tensor out = at::empty({3}, at::TensorOptions().dtype(at::kDouble));
  double* d = out.data_ptr<double>();
  d[0] = static_cast<double>(stats.pairs);
  d[1] = static_cast<double>(stats.loss_pairs);
  d[2] = stats.loss;
  return out;
}

std::tuple<at::Tensor, at::Tensor> topk_outputs(const at::Tensor& like, std::int64_t rows, std::int64_t k) {
  return {at::empty({rows, k}, like.options().dtype(at::kFloat)), at::empty({rows, k}, like.options().dtype(at::kInt))};
}

std::tuple<at::Tensor, at::Tensor> topk(const at::Tensor& scores, std::int64_t k) {
  TORCH_CHECK_VALUE(scores.dim() == 2, "scores must be [Q, N], got ", scores.sizes());
  TORCH_CHECK_VALUE(k >= 1 && k <= kTopkMaxK, "k ", k, " outside [1, ", kTopkMaxK, "]");
  auto [best, columns] = topk_outputs(scores, scores.size(0), k);
  run_checked([&] {
    topk_rows(context_for(scores), view_of(scores, "scores"), static_cast<int>(k), view_of(columns, "columns"),
              view_of(best, "best"));
  });
  return {best, columns};
}

// Rows of the chunk [q0, q0 + n) of the excluded pairs, renumbered from the chunk's first row.
std::tuple<at::Tensor, at::Tensor> pairs_in_chunk(const at::Tensor& rows, const at::Tensor& columns, std::int64_t q0,
                                                  std::int64_t n) {
  const at::Tensor in = (rows >= q0).logical_and(rows < q0 + n);
  return {(rows.masked_select(in) - q0).to(at::kInt).contiguous(), columns.masked_select(in).to(at::kInt).contiguous()};
}

// The k best items per query by inner product: scores = queries · itemsᵀ, the listed (row, column) pairs excluded
// (a session's own items, say), in chunks of queries so the score matrix stays near 256 MiB.
std::tuple<at::Tensor, at::Tensor> topk_product(const at::Tensor& queries, const at::Tensor& items, std::int64_t k,
                                                const c10::optional<at::Tensor>& exclude_rows,
                                                const c10::optional<at::Tensor>& exclude_columns) {
  TORCH_CHECK_VALUE(queries.dim() == 2 && items.dim() == 2 && queries.size(1) == items.size(1),
                    "queries [Q, D] and items [N, D] must share D, got ", queries.sizes(), " and ", items.sizes());
  TORCH_CHECK_VALUE(k >= 1 && k <= kTopkMaxK, "k ", k, " outside [1, ", kTopkMaxK, "]");
  TORCH_CHECK_VALUE(exclude_rows.has_value() == exclude_columns.has_value() &&
                        (!exclude_rows || exclude_rows->sizes() == exclude_columns->sizes()),
                    "exclude_rows and exclude_columns come together, one entry per excluded pair");
  const std::int64_t q = queries.size(0), n = std::max<std::int64_t>(1, items.size(0));
  const std::int64_t chunk = std::clamp<std::int64_t>((std::int64_t{64} << 20) / n, 1, std::max<std::int64_t>(q, 1));
  auto [best, columns] = topk_outputs(queries, q, k);
  at::Tensor scores = at::empty({chunk, items.size(0)}, queries.options().dtype(at::kFloat));
  run_checked([&] {
    Context& ctx = context_for(queries);
    for (std::int64_t q0 = 0; q0 < q; q0 += chunk) {
      const std::int64_t rows = std::min(chunk, q - q0);
      const at::Tensor s = scores.narrow(0, 0, rows);
      linear_bwd_data(ctx, view_of(queries.narrow(0, q0, rows), "queries"), view_of(items, "items"), view_of(s, "scores"));
      if (exclude_rows) {
        const auto [r, c] = pairs_in_chunk(*exclude_rows, *exclude_columns, q0, rows);
        if (r.numel() > 0) mask_entries(ctx, view_of(s, "scores"), view_of(r, "exclude_rows"), view_of(c, "exclude_columns"));
      }
      topk_rows(ctx, view_of(s, "scores"), static_cast<int>(k), view_of(columns.narrow(0, q0, rows), "columns"),
                view_of(best.narrow(0, q0, rows), "best"));
    }
  });
  return {best, columns};
}

std::tuple<at::Tensor, at::Tensor> topk_meta(const at::Tensor& scores, std::int64_t k) {
  return topk_outputs(scores, scores.size(0), k);
}

std::tuple<at::Tensor, at::Tensor> topk_product_meta(const at::Tensor& queries, const at::Tensor&, std::int64_t k,
                                                     const c10::optional<at::Tensor>&, const c10::optional<at::Tensor>&) {
  return topk_outputs(queries, queries.size(0), k);
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device. (The sampler and
// subsampling are host work, on CPU tensors.)
void retrieval_impls(torch::Library& m) {
  m.impl("sgns_step", sgns_step_op);
  m.impl("topk", topk);
  m.impl("topk_product", topk_product);
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY_FRAGMENT(reckon, m) {
  m.def("alias_table(Tensor counts, float alpha=0.75) -> (Tensor prob, Tensor alias)");
  m.def("subsample_keep_probability(Tensor counts, float threshold=0.001) -> Tensor");
  m.def("subsample_sentences(Tensor tokens, Tensor offsets, Tensor keep, int seed, int stream) -> (Tensor, Tensor)");
  m.def("sgns_step(Tensor(a!) input_vectors, Tensor(b!) output_vectors, Tensor tokens, Tensor sentence_offsets, "
        "Tensor alias_prob, Tensor alias_index, int window=5, int negatives=5, float learning_rate=0.025, int seed=1, "
        "int stream=0, bool sequential=False, bool compute_loss=False) -> Tensor");
  m.def("topk(Tensor scores, int k) -> (Tensor scores, Tensor columns)");
  m.def("topk_product(Tensor queries, Tensor items, int k, Tensor? exclude_rows=None, Tensor? exclude_columns=None) "
        "-> (Tensor scores, Tensor columns)");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) {
  using namespace reckon::torch_ops;
  m.impl("alias_table", alias_table);
  m.impl("subsample_keep_probability", keep_probability);
  m.impl("subsample_sentences", subsample);
  retrieval_impls(m);
}

TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::retrieval_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("topk", topk_meta);
  m.impl("topk_product", topk_product_meta);
}

TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"topk", "topk_product"}) m.impl(op, torch::CppFunction::makeFallthrough());
}
