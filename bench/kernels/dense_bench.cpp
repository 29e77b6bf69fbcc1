// Dense layers: FLOP/s of the linear layer shapes of DeepFM (B=4096, 39·16=624 → 400 → 400 → 400 → 1) through
// cuBLAS and the CPU BLAS, and GB/s of the element-wise and reduction kernels against the copy ceiling.
#include "reckon/kernels/dense/dense.h"

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void linear(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  Tensor x = Tensor::empty(ctx, DType::kF32, {batch, in}), w = Tensor::empty(ctx, DType::kF32, {in, out}),
         b = Tensor::empty(ctx, DType::kF32, {out}), y = Tensor::empty(ctx, DType::kF32, {batch, out});
  random_uniform(ctx, x, -1, 1);
  random_uniform(ctx, w, -0.1f, 0.1f);
  random_uniform(ctx, b, -0.1f, 0.1f);
  auto step = [&] { linear_fwd(ctx, x, w, b, y, Activation::kRelu); };
  if (on_cuda) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * in * out),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearReluFwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  linear(state, cuda_context(), true);
}
BENCHMARK(BM_LinearReluFwd_cuda)
    ->Name("BM_LinearReluFwd/cuda")
    ->Args({4096, 624, 400})
    ->Args({4096, 400, 400})
    ->Args({65536, 400, 400})
    ->ArgNames({"B", "M", "N"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_LinearReluFwd_cpu(benchmark::State& state) { linear(state, cpu_context(), false); }
BENCHMARK(BM_LinearReluFwd_cpu)
    ->Name("BM_LinearReluFwd/cpu")
    ->Args({4096, 624, 400})
    ->Args({4096, 400, 400})
    ->ArgNames({"B", "M", "N"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The backward passes of the same shapes: pass 0, the data gradient dX = dY·Wᵀ; pass 1, the weight gradient
// dW = Xᵀ·dY and the bias gradient (its column sums).
void linear_backward(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  const bool weights_pass = state.range(3) == 1;
  Tensor x = Tensor::empty(ctx, DType::kF32, {batch, in}), w = Tensor::empty(ctx, DType::kF32, {in, out}),
         dw = Tensor::empty(ctx, DType::kF32, {in, out}), db = Tensor::empty(ctx, DType::kF32, {out}),
         dy = Tensor::empty(ctx, DType::kF32, {batch, out}), dx = Tensor::empty(ctx, DType::kF32, {batch, in});
  random_uniform(ctx, x, -1, 1);
  random_uniform(ctx, w, -0.1f, 0.1f);
  random_uniform(ctx, dy, -1, 1);
  auto step = [&] {
    if (weights_pass) {
      linear_bwd_weights(ctx, x, dy, dw, db);
    } else {
      linear_bwd_data(ctx, dy, w, dx);
    }
  };
  if (on_cuda) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * in * out),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearBwd_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  linear_backward(state, cuda_context(), true);
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

void BM_LinearBwd_cpu(benchmark::State& state) { linear_backward(state, cpu_context(), false); }
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
BENCHMARK(BM_ColumnSum_cuda)->Name("BM_ColumnSum/cuda")->Arg(65536)->ArgName("B")->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace reckon::bench
