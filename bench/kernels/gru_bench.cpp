// GRU cell: the fused element-wise step between GRU4Rec's two matrix products, forward and backward, GB/s against
// the copy ceiling (bytes: the gates and states each read once, the outputs written once). Batch 512, 100 units
// (GRU4Rec's size). And the GRU layer over sequences (inference), each implementation by name: the cell path on the
// CPU and on CUDA, cuDNN's RNN; GFLOP/s of the two products per step (2·B·3H·(I + H) per step).
#include <string_view>

#include "bench_util.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/runtime/error.h"
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

void BM_GruLayer(benchmark::State& state, const char* implementation) {
  const bool cuda = std::string_view(implementation).starts_with("cuda");
  if (cuda && !has_cuda(state)) return;
  Context& ctx = cuda ? cuda_context() : cpu_context();
  const std::int64_t T = state.range(0), B = state.range(1), I = state.range(2), H = state.range(3);
  Tensor x = Tensor::empty(ctx, DType::kF32, {T, B, I}), y = Tensor::empty(ctx, DType::kF32, {T, B, H});
  Tensor w_x = Tensor::empty(ctx, DType::kF32, {I, 3 * H}), w_h = Tensor::empty(ctx, DType::kF32, {H, 3 * H});
  Tensor b_x = Tensor::empty(ctx, DType::kF32, {3 * H}), b_h = Tensor::empty(ctx, DType::kF32, {3 * H});
  for (const Tensor* t : {&x, &w_x, &w_h, &b_x, &b_h}) fill(ctx, *t, 0.01f);
  const GruWeights w{w_x, w_h, b_x, b_h};
  const auto step = [&] { gru_layer_fwd(ctx, x, TensorView{}, w, y, {implementation}); };
  try {
    step();
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (cuda) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(T * B * 3 * H * (I + H)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_GruLayer, cpu_cell, "cpu_cell")->Name("BM_GruLayer/cpu_cell")->Args({20, 32, 100, 100})
    ->ArgNames({"T", "B", "I", "H"})->UseRealTime();
BENCHMARK_CAPTURE(BM_GruLayer, cuda_cell, "cuda_cell")->Name("BM_GruLayer/cuda_cell")->Args({20, 512, 100, 100})
    ->ArgNames({"T", "B", "I", "H"})->UseManualTime();
BENCHMARK_CAPTURE(BM_GruLayer, cuda_cudnn, "cuda_cudnn")->Name("BM_GruLayer/cuda_cudnn")->Args({20, 512, 100, 100})
    ->ArgNames({"T", "B", "I", "H"})->UseManualTime();
BENCHMARK_CAPTURE(BM_Gru_cpu, fwd, false)->Name("BM_GruCell/cpu/fwd")->Args({512, 100})->ArgNames({"B", "H"})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gru_cpu, bwd, true)->Name("BM_GruCell/cpu/bwd")->Args({512, 100})->ArgNames({"B", "H"})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gru_cuda, fwd, false)->Name("BM_GruCell/cuda/fwd")->Args({4096, 100})->ArgNames({"B", "H"})->UseManualTime();
BENCHMARK_CAPTURE(BM_Gru_cuda, bwd, true)->Name("BM_GruCell/cuda/bwd")->Args({4096, 100})->ArgNames({"B", "H"})->UseManualTime();

}  // namespace
}  // namespace reckon::bench
