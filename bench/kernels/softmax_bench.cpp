// Softmax cross-entropy and BPR-max. Softmax cross-entropy over a large catalogue, in place (the logits become their gradient): GB/s against the copy
// ceiling, counting the row read twice (maximum, then the sum of exponentials) and written once. GRU4Rec's batch
// over a 40,000-item catalogue on the CPU, a larger batch on a GPU.
#include <vector>

#include "bench_util.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/softmax/softmax.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void run(benchmark::State& state, Context& ctx) {
  const std::int64_t B = state.range(0), N = state.range(1);
  Tensor logits = Tensor::empty(ctx, DType::kF32, {B, N}), losses = Tensor::empty(ctx, DType::kF32, {B});
  Tensor targets = Tensor::empty(ctx, DType::kI32, {B});
  std::vector<std::int32_t> t(static_cast<std::size_t>(B));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::int32_t>((i * 7919) % static_cast<std::size_t>(N));
  copy_bytes(ctx, targets.view().data, ctx.device(), t.data(), Device::cpu(), t.size() * 4);
  fill(ctx, logits, 0.5f);
  const auto step = [&] { softmax_cross_entropy(ctx, logits, targets, losses, logits, 1.0f / static_cast<float>(B)); };
  if (ctx.device().is_cuda()) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  report_bytes(state, static_cast<double>(B * N) * 12.0, ctx.device().is_cuda());
}

void BM_Softmax_cpu(benchmark::State& state) { run(state, cpu_context()); }
void BM_Softmax_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run(state, cuda_context());
}
// BPR-max over GRU4Rec's sampled columns (the batch's targets and 2,048 negatives), in place, with a bias: each
// row is read three times (maximum, sums, gradient) and written once.
void run_bpr_max(benchmark::State& state, Context& ctx) {
  const std::int64_t B = state.range(0), M = state.range(1);
  Tensor scores = Tensor::empty(ctx, DType::kF32, {B, M}), bias = Tensor::empty(ctx, DType::kF32, {M});
  Tensor losses = Tensor::empty(ctx, DType::kF32, {B}), targets = Tensor::empty(ctx, DType::kI32, {B});
  Tensor items = Tensor::empty(ctx, DType::kI32, {M});
  std::vector<std::int32_t> t(static_cast<std::size_t>(B)), column_items(static_cast<std::size_t>(M));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::int32_t>(i);
  for (std::size_t j = 0; j < column_items.size(); ++j) column_items[j] = static_cast<std::int32_t>((j * 7919) % 40'000);
  copy_bytes(ctx, targets.view().data, ctx.device(), t.data(), Device::cpu(), t.size() * 4);
  copy_bytes(ctx, items.view().data, ctx.device(), column_items.data(), Device::cpu(), column_items.size() * 4);
  fill(ctx, scores, 0.5f);
  fill(ctx, bias, 0.1f);
  const auto step = [&] { bpr_max_loss(ctx, scores, bias, targets, items, losses, scores, 1.0f, 1.0f / static_cast<float>(B)); };
  if (ctx.device().is_cuda()) {
    time_iterations(state, ctx, step);
  } else {
    for (auto _ : state) step();
  }
  report_bytes(state, static_cast<double>(B * M) * 16.0, ctx.device().is_cuda());
}

void BM_BprMax_cpu(benchmark::State& state) { run_bpr_max(state, cpu_context()); }
void BM_BprMax_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run_bpr_max(state, cuda_context());
}

BENCHMARK(BM_BprMax_cpu)->Name("BM_BprMax/cpu")->Args({32, 32 + 2'048})->ArgNames({"B", "M"})->UseRealTime();
BENCHMARK(BM_BprMax_cuda)->Name("BM_BprMax/cuda")->Args({512, 512 + 2'048})->ArgNames({"B", "M"})->UseManualTime();
BENCHMARK(BM_Softmax_cpu)->Name("BM_SoftmaxCrossEntropy/cpu")->Args({32, 40'000})->ArgNames({"B", "N"})->UseRealTime();
BENCHMARK(BM_Softmax_cuda)->Name("BM_SoftmaxCrossEntropy/cuda")->Args({512, 40'000})->ArgNames({"B", "N"})->UseManualTime();

}  // namespace
}  // namespace reckon::bench
