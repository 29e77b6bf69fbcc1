// FM interaction: GB/s against the copy ceiling (target on an H200 for B=65,536, F=39, K=16: >= 80%), dense and
// fused forms, forward and backward. CPU: against a single-thread plain loop.
#include "reckon/kernels/fm/fm.h"

#include <vector>

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::bench {
namespace {

constexpr int kFields = 39;
constexpr int kDim = 16;

struct Dense {
  Tensor src, dst, diff_dst, diff_src;
};

Dense make_dense(Context& ctx, std::int64_t batch) {
  Dense d{Tensor::empty(ctx, DType::kF32, {batch, kFields, kDim}), Tensor::empty(ctx, DType::kF32, {batch}),
          Tensor::empty(ctx, DType::kF32, {batch}), Tensor::empty(ctx, DType::kF32, {batch, kFields, kDim})};
  random_uniform(ctx, d.src, -0.1f, 0.1f);
  random_uniform(ctx, d.diff_dst, -1.0f, 1.0f);
  ctx.synchronize();
  return d;
}

// Bytes: forward reads src and writes y; backward reads src and dy and writes diff_src.
double fwd_bytes(std::int64_t batch) { return static_cast<double>(batch) * (kFields * kDim * 4 + 4); }
double bwd_bytes(std::int64_t batch) { return static_cast<double>(batch) * (2 * kFields * kDim * 4 + 4); }

void BM_FmFwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Dense d = make_dense(ctx, state.range(0));
  time_iterations(state, ctx, [&] { fm_interaction_fwd(ctx, d.src, {}, d.dst); });
  report_bytes(state, fwd_bytes(state.range(0)), true);
}
BENCHMARK(BM_FmFwd_cuda)->Name("BM_FmInteractionFwd/cuda")->Arg(65536)->Arg(1 << 20)->ArgName("B")->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_FmBwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Dense d = make_dense(ctx, state.range(0));
  time_iterations(state, ctx, [&] { fm_interaction_bwd(ctx, d.src, {}, d.diff_dst, d.diff_src); });
  report_bytes(state, bwd_bytes(state.range(0)), true);
}
BENCHMARK(BM_FmBwd_cuda)->Name("BM_FmInteractionBwd/cuda")->Arg(65536)->Arg(1 << 20)->ArgName("B")->UseManualTime()->Unit(benchmark::kMicrosecond);

// Fused: 39 tables of 1,000,000 rows, uniform ids. Bytes: rows read + ids + y (forward).
void BM_FmFusedFwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const std::int64_t batch = state.range(0), rows = 1'000'000;
  std::vector<Tensor> tables;
  std::vector<TensorView> views;
  for (int f = 0; f < kFields; ++f) {
    tables.push_back(Tensor::empty(ctx, DType::kF32, {rows, kDim}));
    random_uniform(ctx, tables.back(), -0.1f, 0.1f);
    views.push_back(tables.back());
  }
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * kFields));
  PhiloxStream rng(3, 3);
  for (auto& id : ids) id = static_cast<std::int32_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(rows)));
  Tensor ids_t = Tensor::empty(ctx, DType::kI32, {batch, kFields});
  copy_bytes(ctx, ids_t.data<std::int32_t>(), ctx.device(), ids.data(), Device::cpu(), ids_t.nbytes());
  Tensor dst = Tensor::empty(ctx, DType::kF32, {batch});
  ctx.synchronize();
  time_iterations(state, ctx, [&] { fm_interaction_fused_fwd(ctx, views, ids_t, {}, dst, IndexPolicy::kOovRow, 0); });
  report_bytes(state, fwd_bytes(batch) + static_cast<double>(ids_t.nbytes()), true);
}
BENCHMARK(BM_FmFusedFwd_cuda)->Name("BM_FmInteractionFusedFwd/cuda")->Arg(65536)->ArgName("B")->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_FmFwd_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  Dense d = make_dense(ctx, state.range(0));
  for (auto _ : state) {
    fm_interaction_fwd(ctx, d.src, {}, d.dst);
    benchmark::ClobberMemory();
  }
  report_bytes(state, fwd_bytes(state.range(0)), false);
}
BENCHMARK(BM_FmFwd_cpu)->Name("BM_FmInteractionFwd/cpu")->Arg(65536)->ArgName("B")->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_FmBwd_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  Dense d = make_dense(ctx, state.range(0));
  for (auto _ : state) {
    fm_interaction_bwd(ctx, d.src, {}, d.diff_dst, d.diff_src);
    benchmark::ClobberMemory();
  }
  report_bytes(state, bwd_bytes(state.range(0)), false);
}
BENCHMARK(BM_FmBwd_cpu)->Name("BM_FmInteractionBwd/cpu")->Arg(65536)->ArgName("B")->UseRealTime()->Unit(benchmark::kMillisecond);

// Baseline: the single-thread loop a user would write with the same ½(S² − Q) identity.
void BM_FmFwdPlainLoop_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  const std::int64_t batch = state.range(0);
  Dense d = make_dense(ctx, batch);
  for (auto _ : state) {
    const float* src = d.src.data<float>();
    for (std::int64_t b = 0; b < batch; ++b) {
      float s[kDim] = {}, q[kDim] = {};
      for (int f = 0; f < kFields; ++f) {
        for (int k = 0; k < kDim; ++k) {
          const float v = src[(b * kFields + f) * kDim + k];
          s[k] += v;
          q[k] += v * v;
        }
      }
      float y = 0;
      for (int k = 0; k < kDim; ++k) y += 0.5f * (s[k] * s[k] - q[k]);
      d.dst.data<float>()[b] = y;
    }
    benchmark::ClobberMemory();
  }
  report_bytes(state, fwd_bytes(batch), false);
}
BENCHMARK(BM_FmFwdPlainLoop_cpu)->Name("BM_FmInteractionFwd/cpu_baseline_plain_loop")->Arg(65536)->ArgName("B")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
