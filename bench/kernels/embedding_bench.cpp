// Embedding-bag forward: GB/s with the standard byte count (rows read + indices + offsets + outputs written) and
// the fraction of the measured copy ceiling. CUDA: B = 65,536 bags over 26 tables of 1,000,000 rows; CPU: a smaller
// problem against a single-thread plain loop.
#include "reckon/kernels/embedding/embedding.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_util.h"
#if RECKON_BENCH_HAS_CUDA_BASELINE
#include "embedding_bench_baseline.h"
#endif
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"
#include "reckon/runtime/timer.h"

namespace reckon::bench {
namespace {

struct Setup {
  std::vector<Tensor> tables, offsets, indices;
  std::vector<TensorView> table_views;
  std::vector<EmbeddingBags> bags;
  Tensor dst;
  double bytes = 0;
  std::vector<std::vector<std::int32_t>> host_ids;  // per table, for baselines
  std::int64_t unique_rows = 0;                     // touched rows over all tables
};

// Ids: uniform, or Zipf(1.05) by inverse CDF of the continuous power law (hot head, long tail).
Setup make_setup(Context& ctx, std::int64_t batch, int num_tables, std::int64_t rows, std::int64_t dim, int bag,
                 bool zipf, DType storage) {
  Setup s;
  PhiloxStream rng(7, zipf ? 1 : 0);
  for (int t = 0; t < num_tables; ++t) {
    s.tables.push_back(Tensor::empty(ctx, storage, {rows, dim}));
    random_uniform(ctx, s.tables.back(), -0.05f, 0.05f);
    std::vector<std::int32_t> off(static_cast<std::size_t>(batch + 1)), idx(static_cast<std::size_t>(batch * bag));
    for (std::int64_t b = 0; b <= batch; ++b) off[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(b * bag);
    for (auto& id : idx) {
      if (zipf) {
        const double u = uniform_open_from_bits(rng.next_u32());
        id = static_cast<std::int32_t>(static_cast<std::int64_t>(std::pow(static_cast<double>(rows), std::pow(u, 1.05)) - 1.0) % rows);
      } else {
        id = static_cast<std::int32_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(rows)));
      }
    }
    std::vector<char> seen(static_cast<std::size_t>(rows), 0);
    for (std::int32_t id : idx) {
      s.unique_rows += seen[static_cast<std::size_t>(id)] ? 0 : 1;
      seen[static_cast<std::size_t>(id)] = 1;
    }
    Tensor off_t = Tensor::empty(ctx, DType::kI32, {batch + 1});
    Tensor idx_t = Tensor::empty(ctx, DType::kI32, {batch * bag});
    copy_bytes(ctx, off_t.data<std::int32_t>(), ctx.device(), off.data(), Device::cpu(), off.size() * 4);
    copy_bytes(ctx, idx_t.data<std::int32_t>(), ctx.device(), idx.data(), Device::cpu(), idx.size() * 4);
    ctx.synchronize();
    s.table_views.push_back(s.tables.back());
    s.bags.push_back({off_t, idx_t, {}});
    s.offsets.push_back(std::move(off_t));
    s.indices.push_back(std::move(idx_t));
    s.host_ids.push_back(std::move(idx));
  }
  s.dst = Tensor::empty(ctx, DType::kF32, {batch, num_tables, dim});
  const double nnz = static_cast<double>(batch) * bag * num_tables;
  s.bytes = nnz * static_cast<double>(dim * dtype_size(storage)) + nnz * 4 +
            static_cast<double>((batch + 1) * num_tables * 4) + static_cast<double>(s.dst.nbytes());
  return s;
}

void BM_EmbeddingBagFwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const std::int64_t dim = state.range(0);
  const int bag = static_cast<int>(state.range(1));
  const bool zipf = state.range(2) != 0;
  const DType storage = state.range(3) != 0 ? DType::kBF16 : DType::kF32;
  Setup s = make_setup(ctx, 65536, 26, 1'000'000, dim, bag, zipf, storage);
  time_iterations(state, ctx, [&] { embedding_bag_fwd(ctx, s.table_views, s.bags, s.dst, {PoolingMode::kSum}); });
  report_bytes(state, s.bytes, true);
}
BENCHMARK(BM_EmbeddingBagFwd_cuda)
    ->Name("BM_EmbeddingBagFwd/cuda")
    ->ArgsProduct({{16, 64, 128}, {1, 20}, {0, 1}, {0, 1}})
    ->ArgNames({"D", "L", "zipf", "bf16"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One table of 10,000,000 rows: the lookup pattern of a large id space (users, items) without table batching.
void BM_EmbeddingBagFwdLargeTable_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Setup s = make_setup(ctx, 65536, 1, 10'000'000, state.range(0), static_cast<int>(state.range(1)), false, DType::kF32);
  time_iterations(state, ctx, [&] { embedding_bag_fwd(ctx, s.table_views, s.bags, s.dst, {PoolingMode::kSum}); });
  report_bytes(state, s.bytes, true);
}
BENCHMARK(BM_EmbeddingBagFwdLargeTable_cuda)
    ->Name("BM_EmbeddingBagFwd/cuda_one_10M_row_table")
    ->ArgsProduct({{64, 128}, {1, 20}})
    ->ArgNames({"D", "L"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---- Backward with fused row-wise Adagrad --------------------------------------------------------------------
// Bytes: diff_dst read + ids + offsets + touched rows read and written + their row state read and written.

struct BackwardSetup {
  Setup lookup;
  Tensor diff;
  std::vector<Tensor> states;
  std::vector<EmbeddingOptimizerState> state_views;
  double bytes = 0;
};

BackwardSetup make_backward_setup(Context& ctx, std::int64_t batch, int num_tables, std::int64_t rows, std::int64_t dim,
                                  int bag, bool zipf) {
  BackwardSetup b;
  b.lookup = make_setup(ctx, batch, num_tables, rows, dim, bag, zipf, DType::kF32);
  b.diff = Tensor::empty(ctx, DType::kF32, {batch, num_tables, dim});
  random_uniform(ctx, b.diff, -1.0f, 1.0f);
  for (int t = 0; t < num_tables; ++t) {
    b.states.push_back(Tensor::empty(ctx, DType::kF32, {rows}));
    random_uniform(ctx, b.states.back(), 0.0f, 0.0f);
    b.state_views.push_back({b.states.back(), {}});
  }
  const double nnz = static_cast<double>(batch) * bag * num_tables;
  const auto touched = static_cast<double>(b.lookup.unique_rows);
  b.bytes = static_cast<double>(b.diff.nbytes()) + nnz * 4 + static_cast<double>((batch + 1) * num_tables * 4) +
            touched * static_cast<double>(dim) * 4 * 2 + touched * 4 * 2;
  ctx.synchronize();
  return b;
}

const SparseOptimizer kRowwiseAdagrad{SparseOptimizerKind::kRowwiseAdagrad, 0.01f, 1e-8f};

#if RECKON_BENCH_HAS_CUDA_BASELINE
// Milliseconds of the naive baseline (atomic scatter into a dense gradient, then an optimizer pass), best of 5.
double naive_backward_ms(Context& ctx, const BackwardSetup& b, std::int64_t rows, std::int64_t dim, int bag) {
  const auto num_tables = static_cast<std::int64_t>(b.lookup.host_ids.size());
  std::vector<std::int64_t> key, diff_row;
  for (std::int64_t t = 0; t < num_tables; ++t) {
    const auto& ids = b.lookup.host_ids[static_cast<std::size_t>(t)];
    for (std::size_t j = 0; j < ids.size(); ++j) {
      key.push_back(t * rows + ids[j]);
      diff_row.push_back(static_cast<std::int64_t>(j) / bag * num_tables + t);
    }
  }
  const std::int64_t total_rows = rows * num_tables;
  Tensor weights = Tensor::empty(ctx, DType::kF32, {total_rows, dim});
  Tensor gradient = Tensor::empty(ctx, DType::kF32, {total_rows, dim});
  Tensor state = Tensor::empty(ctx, DType::kF32, {total_rows});
  Tensor touched = Tensor::empty(ctx, DType::kI32, {total_rows});
  random_uniform(ctx, weights, -0.05f, 0.05f);
  random_uniform(ctx, gradient, 0.0f, 0.0f);
  random_uniform(ctx, state, 0.0f, 0.0f);
  copy_bytes(ctx, touched.data<std::int32_t>(), ctx.device(), std::vector<std::int32_t>(static_cast<std::size_t>(total_rows), 0).data(),
             Device::cpu(), touched.nbytes());
  Tensor key_t = Tensor::empty(ctx, DType::kI64, {static_cast<std::int64_t>(key.size())});
  Tensor row_t = Tensor::empty(ctx, DType::kI64, {static_cast<std::int64_t>(key.size())});
  copy_bytes(ctx, key_t.data<std::int64_t>(), ctx.device(), key.data(), Device::cpu(), key_t.nbytes());
  copy_bytes(ctx, row_t.data<std::int64_t>(), ctx.device(), diff_row.data(), Device::cpu(), row_t.nbytes());
  const NaiveBackwardArgs args{weights.data<float>(), state.data<float>(), gradient.data<float>(), touched.data<std::int32_t>(),
                               b.diff.data<float>(), key_t.data<std::int64_t>(), row_t.data<std::int64_t>(),
                               static_cast<std::int64_t>(key.size()), static_cast<int>(dim), 0.01f, 1e-8f};
  return best_ms(ctx, 5, [&] { naive_backward_rowwise_adagrad(args, ctx.stream()); });
}
#endif

void BM_EmbeddingBagBwdRowwiseAdagrad_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const std::int64_t dim = state.range(0);
  const int bag = static_cast<int>(state.range(1));
  constexpr std::int64_t kRows = 1'000'000;
  BackwardSetup b = make_backward_setup(ctx, 65536, 26, kRows, dim, bag, state.range(2) != 0);
  auto step = [&] {
    embedding_bag_bwd_update(ctx, b.lookup.table_views, b.lookup.bags, b.diff, {PoolingMode::kSum}, kRowwiseAdagrad,
                             b.state_views);
  };
  time_iterations(state, ctx, step);
  report_bytes(state, b.bytes, true);
  state.counters["touched_rows"] = static_cast<double>(b.lookup.unique_rows);
#if RECKON_BENCH_HAS_CUDA_BASELINE
  const double ours = best_ms(ctx, 5, step);
  const double naive = naive_backward_ms(ctx, b, kRows, dim, bag);
  state.counters["naive_ms"] = naive;
  state.counters["vs_naive"] = naive / ours;
#endif
}
BENCHMARK(BM_EmbeddingBagBwdRowwiseAdagrad_cuda)
    ->Name("BM_EmbeddingBagBwdRowwiseAdagrad/cuda")
    ->ArgsProduct({{16, 64, 128}, {1, 20}, {0, 1}})
    ->ArgNames({"D", "L", "zipf"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

constexpr std::int64_t kCpuBatch = 4096;
constexpr int kCpuTables = 26;
constexpr std::int64_t kCpuRows = 100'000;

// The CPU problem for arguments (D, L); the library and the plain-loop baseline run the same one.
Setup cpu_setup(const benchmark::State& state) {
  return make_setup(cpu_context(), kCpuBatch, kCpuTables, kCpuRows, state.range(0), static_cast<int>(state.range(1)),
                    false, DType::kF32);
}
void cpu_shapes(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{16, 64}, {1, 20}})->ArgNames({"D", "L"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

void BM_EmbeddingBagFwd_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  Setup s = cpu_setup(state);
  for (auto _ : state) {
    embedding_bag_fwd(ctx, s.table_views, s.bags, s.dst, {PoolingMode::kSum});
    benchmark::ClobberMemory();
  }
  report_bytes(state, s.bytes, false);
}
BENCHMARK(BM_EmbeddingBagFwd_cpu)->Name("BM_EmbeddingBagFwd/cpu")->Apply(cpu_shapes);

// Baseline: the plain single-thread loop a user would write (no validation, no threads).
// The peer comparison's shapes (bench/peers/kernels_compare.py times PyTorch's F.embedding_bag on the same): 26
// tables of 1,000,000 rows at D = 16 or 250,000 at D = 64 (1.7 GB of tables either way, far beyond the caches),
// B = 8192 bags of L uniform ids each.
void BM_EmbeddingBagFwdPeerShapes_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  const std::int64_t dim = state.range(0), rows = dim == 16 ? 1'000'000 : 250'000;
  Setup s = make_setup(ctx, 8192, 26, rows, dim, static_cast<int>(state.range(1)), false, DType::kF32);
  for (auto _ : state) {
    embedding_bag_fwd(ctx, s.table_views, s.bags, s.dst, {PoolingMode::kSum});
    benchmark::ClobberMemory();
  }
  report_bytes(state, s.bytes, false);
}
BENCHMARK(BM_EmbeddingBagFwdPeerShapes_cpu)
    ->Name("BM_EmbeddingBagFwd/cpu_peer_shapes")
    ->ArgsProduct({{16, 64}, {1, 20}})
    ->ArgNames({"D", "L"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_EmbeddingBagFwdPlainLoop_cpu(benchmark::State& state) {
  const std::int64_t dim = state.range(0);
  Setup s = cpu_setup(state);
  for (auto _ : state) {
    float* out = s.dst.data<float>();
    for (std::int64_t b = 0; b < kCpuBatch; ++b) {
      for (int t = 0; t < kCpuTables; ++t) {
        const float* w = s.tables[static_cast<std::size_t>(t)].data<float>();
        const std::int32_t* off = s.offsets[static_cast<std::size_t>(t)].data<std::int32_t>();
        const std::int32_t* idx = s.indices[static_cast<std::size_t>(t)].data<std::int32_t>();
        float* o = out + (b * kCpuTables + t) * dim;
        for (std::int64_t d = 0; d < dim; ++d) o[d] = 0;
        for (std::int32_t j = off[b]; j < off[b + 1]; ++j) {
          for (std::int64_t d = 0; d < dim; ++d) o[d] += w[idx[j] * dim + d];
        }
      }
    }
    benchmark::ClobberMemory();
  }
  report_bytes(state, s.bytes, false);
}
BENCHMARK(BM_EmbeddingBagFwdPlainLoop_cpu)->Name("BM_EmbeddingBagFwd/cpu_baseline_plain_loop")->Apply(cpu_shapes);

void BM_EmbeddingBagBwdRowwiseAdagrad_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  BackwardSetup b = make_backward_setup(ctx, kCpuBatch, kCpuTables, kCpuRows, state.range(0), static_cast<int>(state.range(1)), false);
  for (auto _ : state) {
    embedding_bag_bwd_update(ctx, b.lookup.table_views, b.lookup.bags, b.diff, {PoolingMode::kSum}, kRowwiseAdagrad,
                             b.state_views);
  }
  report_bytes(state, b.bytes, false);
}
BENCHMARK(BM_EmbeddingBagBwdRowwiseAdagrad_cpu)->Name("BM_EmbeddingBagBwdRowwiseAdagrad/cpu")->Apply(cpu_shapes);

// The DeepFM step's sparse update: 39 tables of 100,000 rows, D=16, one id per field, lazy Adam (two [rows, D]
// state tables). Bytes as above with both state rows read and written.
void BM_EmbeddingBagBwdAdam_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  const std::int64_t dim = state.range(0);
  BackwardSetup b = make_backward_setup(ctx, kCpuBatch, 39, kCpuRows, dim, 1, state.range(1) != 0);
  std::vector<Tensor> moments;
  std::vector<EmbeddingOptimizerState> adam_states;
  for (int t = 0; t < 39; ++t) {
    for (int s = 0; s < 2; ++s) {
      moments.push_back(Tensor::empty(ctx, DType::kF32, {kCpuRows, dim}));
      random_uniform(ctx, moments.back(), 0.0f, 0.0f);
    }
    adam_states.push_back({moments[moments.size() - 2], moments.back()});
  }
  SparseOptimizer adam{SparseOptimizerKind::kAdam, 1e-3f};
  for (auto _ : state) {
    embedding_bag_bwd_update(ctx, b.lookup.table_views, b.lookup.bags, b.diff, {PoolingMode::kSum}, adam, adam_states);
    ++adam.step;
  }
  const double touched = static_cast<double>(b.lookup.unique_rows);
  report_bytes(state, b.bytes + touched * static_cast<double>(dim) * 4 * 4 - touched * 4 * 2, false);
}
BENCHMARK(BM_EmbeddingBagBwdAdam_cpu)
    ->Name("BM_EmbeddingBagBwdAdam/cpu")
    ->Args({16, 0})
    ->Args({16, 1})
    ->ArgNames({"D", "zipf"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Baseline: a plain single-thread loop: scatter into a dense gradient, then update each touched row once.
void BM_EmbeddingBagBwdPlainLoop_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  const std::int64_t dim = state.range(0);
  const int bag = static_cast<int>(state.range(1));
  BackwardSetup b = make_backward_setup(ctx, kCpuBatch, kCpuTables, kCpuRows, dim, bag, false);
  std::vector<float> gradient(static_cast<std::size_t>(kCpuRows * dim), 0.0f);
  std::vector<char> touched(static_cast<std::size_t>(kCpuRows), 0);
  for (auto _ : state) {
    for (int t = 0; t < kCpuTables; ++t) {
      const auto& ids = b.lookup.host_ids[static_cast<std::size_t>(t)];
      float* w = b.lookup.tables[static_cast<std::size_t>(t)].data<float>();
      float* s = b.states[static_cast<std::size_t>(t)].data<float>();
      for (std::size_t j = 0; j < ids.size(); ++j) {
        const float* src = b.diff.data<float>() + (static_cast<std::int64_t>(j) / bag * kCpuTables + t) * dim;
        float* g = gradient.data() + static_cast<std::int64_t>(ids[j]) * dim;
        for (std::int64_t d = 0; d < dim; ++d) g[d] += src[d];
        touched[static_cast<std::size_t>(ids[j])] = 1;
      }
      for (std::int32_t id : ids) {
        if (!touched[static_cast<std::size_t>(id)]) continue;
        touched[static_cast<std::size_t>(id)] = 0;
        float* g = gradient.data() + static_cast<std::int64_t>(id) * dim;
        float sum = 0;
        for (std::int64_t d = 0; d < dim; ++d) sum += g[d] * g[d];
        s[id] += sum / static_cast<float>(dim);
        const float scale = 0.01f / (std::sqrt(s[id]) + 1e-8f);
        for (std::int64_t d = 0; d < dim; ++d) {
          w[static_cast<std::int64_t>(id) * dim + d] -= scale * g[d];
          g[d] = 0.0f;
        }
      }
    }
    benchmark::ClobberMemory();
  }
  report_bytes(state, b.bytes, false);
}
BENCHMARK(BM_EmbeddingBagBwdPlainLoop_cpu)->Name("BM_EmbeddingBagBwdRowwiseAdagrad/cpu_baseline_plain_loop")->Apply(cpu_shapes);

}  // namespace
}  // namespace reckon::bench
