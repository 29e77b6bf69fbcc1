// Row-wise top-k: GB/s of scores read (the scan is the work) against the copy ceiling of the device.
#include "reckon/kernels/topk/topk.h"


#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void run(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t rows = state.range(0), cols = state.range(1);
  const int k = static_cast<int>(state.range(2));
  Tensor scores = Tensor::empty(ctx, DType::kF32, {rows, cols});
  random_uniform(ctx, scores, -1.0f, 1.0f);
  Tensor oc = Tensor::empty(ctx, DType::kI32, {rows, k}), os = Tensor::empty(ctx, DType::kF32, {rows, k});
  auto body = [&] { topk_rows(ctx, scores.view(), k, oc.view(), os.view()); };
  if (on_cuda) {
    time_iterations(state, ctx, body);
  } else {
    body();
    for (auto _ : state) body();
  }
  report_bytes(state, static_cast<double>(rows * cols) * 4, on_cuda);
  state.counters["rows_per_s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Topk_cpu(benchmark::State& state) { run(state, cpu_context(), false); }
BENCHMARK(BM_Topk_cpu)->Name("BM_Topk/cpu")->Args({64, 100'000, 20})->ArgNames({"Q", "N", "k"})->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Topk_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run(state, cuda_context(), true);
}
BENCHMARK(BM_Topk_cuda)
    ->Name("BM_Topk/cuda")
    ->Args({256, 1'000'000, 20})
    ->Args({256, 1'000'000, 100})
    ->ArgNames({"Q", "N", "k"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
