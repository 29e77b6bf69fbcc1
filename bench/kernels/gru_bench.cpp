// GRU cell: the fused element-wise step between GRU4Rec's two matrix products, forward and backward, GB/s against
// the copy ceiling (bytes: the gates and states each read once, the outputs written once). Batch 512, 100 units
// (GRU4Rec's size).
#include "bench_util.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void run(benchmark::State& state, Context& ctx, bool backward) {
  const std::int64_t B = state.range(0), H = state.range(1);
  Tensor gx = Tensor::empty(ctx, DType::kF32, {B, 3 * H}), gh = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
  Tensor h = Tensor::empty(ctx, DType::kF32, {B, H}), out = Tensor::empty(ctx, DType::kF32, {B, H});
  Tensor saved = Tensor::empty(ctx, DType::kF32, {B, 4 * H});
  for (const Tensor* t : {&gx, &gh, &h, &out}) fill(ctx, *t, 0.25f);
  gru_cell_fwd(ctx, gx, gh, h, out, saved);
  const auto step = [&] {
    if (backward) {
      gru_cell_bwd(ctx, h, saved, out, gx, gh, TensorView{});
    } else {
      gru_cell_fwd(ctx, gx, gh, h, out, saved);
    }
  };
  if (ctx.device().is_cuda()) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  // forward: reads 3H + 3H + H, writes H + 4H; backward: reads H + 4H + H, writes 3H + 3H.
  report_bytes(state, static_cast<double>(B * H * 12) * 4.0, ctx.device().is_cuda());
}

void BM_Gru_cpu(benchmark::State& state, bool backward) { run(state, cpu_context(), backward); }
void BM_Gru_cuda(benchmark::State& state, bool backward) {
  if (!has_cuda(state)) return;
  run(state, cuda_context(), backward);
}

BENCHMARK_CAPTURE(BM_Gru_cpu, fwd, false)->Name("BM_GruCell/cpu/fwd")->Args({512, 100})->ArgNames({"B", "H"})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gru_cpu, bwd, true)->Name("BM_GruCell/cpu/bwd")->Args({512, 100})->ArgNames({"B", "H"})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gru_cuda, fwd, false)->Name("BM_GruCell/cuda/fwd")->Args({4096, 100})->ArgNames({"B", "H"})->UseManualTime();
BENCHMARK_CAPTURE(BM_Gru_cuda, bwd, true)->Name("BM_GruCell/cuda/bwd")->Args({4096, 100})->ArgNames({"B", "H"})->UseManualTime();

}  // namespace
}  // namespace reckon::bench
