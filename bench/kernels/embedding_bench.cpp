// Embedding-bag forward: GB/s with the standard byte count (rows read + indices + offsets + outputs written) and
// the fraction of the measured copy ceiling. CUDA: B = 65,536 bags over 26 tables of 1,000,000 rows; CPU: a smaller
// problem against a single-thread plain loop.
#include "reckon/kernels/embedding/embedding.h"

#include <cmath>
#include <vector>

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::bench {
namespace {

struct Setup {
  std::vector<Tensor> tables, offsets, indices;
  std::vector<TensorView> table_views;
  std::vector<EmbeddingBags> bags;
  Tensor dst;
  double bytes = 0;
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
    Tensor off_t = Tensor::empty(ctx, DType::kI32, {batch + 1});
    Tensor idx_t = Tensor::empty(ctx, DType::kI32, {batch * bag});
    copy_bytes(ctx, off_t.data<std::int32_t>(), ctx.device(), off.data(), Device::cpu(), off.size() * 4);
    copy_bytes(ctx, idx_t.data<std::int32_t>(), ctx.device(), idx.data(), Device::cpu(), idx.size() * 4);
    ctx.synchronize();
    s.table_views.push_back(s.tables.back());
    s.bags.push_back({off_t, idx_t, {}});
    s.offsets.push_back(std::move(off_t));
    s.indices.push_back(std::move(idx_t));
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

}  // namespace
}  // namespace reckon::bench
