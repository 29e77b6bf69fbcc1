// Dense layers: FLOP/s of the linear layer shapes of DeepFM (B=4096, 39·16=624 → 400 → 400 → 400 → 1) through
// cuBLAS and the CPU BLAS, and GB/s of the element-wise and reduction kernels against the copy ceiling.
#include "reckon/kernels/dense/dense.h"

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

// One pass of a linear layer of DeepFM's shapes, timed: the forward with bias and ReLU, the data gradient
// dX = dY·Wᵀ, or the weight gradient dW = Xᵀ·dY with the bias gradient (its column sums).
enum class LinearPass : int { kForward = -1, kData = 0, kWeights = 1 };

void linear(benchmark::State& state, Context& ctx, bool on_cuda, LinearPass pass) {
  const std::int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  Tensor x = Tensor::empty(ctx, DType::kF32, {batch, in}), w = Tensor::empty(ctx, DType::kF32, {in, out}),
         b = Tensor::empty(ctx, DType::kF32, {out}), y = Tensor::empty(ctx, DType::kF32, {batch, out});
  Tensor dx, dw, db, dy;
  random_uniform(ctx, x, -1, 1);
  random_uniform(ctx, w, -0.1f, 0.1f);
  random_uniform(ctx, b, -0.1f, 0.1f);
  if (pass != LinearPass::kForward) {
    dx = Tensor::empty(ctx, DType::kF32, {batch, in});
    dw = Tensor::empty(ctx, DType::kF32, {in, out});
    db = Tensor::empty(ctx, DType::kF32, {out});
    dy = Tensor::empty(ctx, DType::kF32, {batch, out});
    random_uniform(ctx, dy, -1, 1);
  }
  auto step = [&] {
    switch (pass) {
      case LinearPass::kForward: linear_fwd(ctx, x, w, b, y, Activation::kRelu); break;
      case LinearPass::kData: linear_bwd_data(ctx, dy, w, dx); break;
      case LinearPass::kWeights: linear_bwd_weights(ctx, x, dy, dw, db); break;
    }
  };
  if (on_cuda) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(batch * in * out), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearReluFwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  linear(state, cuda_context(), true, LinearPass::kForward);
}
BENCHMARK(BM_LinearReluFwd_cuda)
    ->Name("BM_LinearReluFwd/cuda")
    ->Args({4096, 624, 400})
    ->Args({4096, 400, 400})
    ->Args({65536, 400, 400})
    ->ArgNames({"B", "M", "N"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_LinearReluFwd_cpu(benchmark::State& state) {
  linear(state, cpu_context(), false, LinearPass::kForward);
}
BENCHMARK(BM_LinearReluFwd_cpu)
    ->Name("BM_LinearReluFwd/cpu")
    ->Args({4096, 624, 400})
    ->Args({4096, 400, 400})
    ->ArgNames({"B", "M", "N"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_LinearBwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  linear(state, cuda_context(), true, static_cast<LinearPass>(state.range(3)));
}
BENCHMARK(BM_LinearBwd_cuda)
    ->Name("BM_LinearBwd/cuda")
    ->Args({4096, 624, 400, 0})
    ->Args({4096, 624, 400, 1})
    ->Args({65536, 400, 400, 0})
    ->Args({65536, 400, 400, 1})
    ->ArgNames({"B", "M", "N", "pass"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// pass 0: the data gradient; pass 1: the weight and bias gradients.
void BM_LinearBwd_cpu(benchmark::State& state) {
  linear(state, cpu_context(), false, static_cast<LinearPass>(state.range(3)));
}
BENCHMARK(BM_LinearBwd_cpu)
    ->Name("BM_LinearBwd/cpu")
    ->Args({4096, 624, 400, 0})
    ->Args({4096, 624, 400, 1})
    ->Args({4096, 400, 400, 0})
    ->Args({4096, 400, 400, 1})
    ->ArgNames({"B", "M", "N", "pass"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ColumnSum_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Tensor x = Tensor::empty(ctx, DType::kF32, {state.range(0), 400}), out = Tensor::empty(ctx, DType::kF32, {400});
  random_uniform(ctx, x, -1, 1);
  time_iterations(state, ctx, [&] { column_sum(ctx, x, out); });
  report_bytes(state, static_cast<double>(x.nbytes()), true);
}
BENCHMARK(BM_ColumnSum_cuda)
    ->Name("BM_ColumnSum/cuda")
    ->Arg(65536)
    ->ArgName("B")
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace reckon::bench
