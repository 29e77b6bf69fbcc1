// item2vec queries: similar-item queries per second against a normalised table (matrix product + top-k, the whole
// SimilarityIndex path including the transfers of queries and results). Target on an H200: >= 50,000 queries/s for
// a 1,000,000 x 128 table at k = 20.
#include <vector>

#include "bench_util.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/philox.h"

namespace reckon::bench {
namespace {

void run(benchmark::State& state, Context& ctx) {
  const std::int64_t rows = state.range(0), dim = 128, batch = state.range(1);
  item2vec::KeyedVectors kv;
  kv.dim = dim;
  kv.vectors.resize(static_cast<std::size_t>(rows * dim));
  PhiloxStream rng(7, 0);
  for (float& v : kv.vectors) v = rng.next_uniform() - 0.5f;
  kv.tokens.resize(static_cast<std::size_t>(rows));
  const item2vec::SimilarityIndex index(ctx, kv);
  std::vector<std::int32_t> items(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = static_cast<std::int32_t>((i * 7919) % static_cast<std::size_t>(rows));
  (void)index.most_similar(items, 20);
  for (auto _ : state) benchmark::DoNotOptimize(index.most_similar(items, 20));
  state.counters["queries_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SimilarQueries_cpu(benchmark::State& state) { run(state, cpu_context()); }
BENCHMARK(BM_SimilarQueries_cpu)->Name("BM_SimilarQueries/cpu")->Args({100'000, 256})->ArgNames({"rows", "batch"})->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SimilarQueries_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run(state, cuda_context());
}
BENCHMARK(BM_SimilarQueries_cuda)->Name("BM_SimilarQueries/cuda")->Args({1'000'000, 4096})->ArgNames({"rows", "batch"})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
