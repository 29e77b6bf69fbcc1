// DeepFM training throughput: F=39 fields, K=16, hidden 400-400-400, batch 4096 (the configuration), one
// training step (forward, backward, sparse Adam on the embeddings, Adam on the MLP) per iteration, in samples/s.
// Targets: CPU (2 cores) >= 3x a straightforward framework's ~17,000 samples/s; H200 >= 5,000,000 samples/s.
#include <vector>

#include "bench_util.h"
#include "reckon/models/ctr/model.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::bench {
namespace {

constexpr int kFields = 39;
constexpr std::int64_t kRows = 100'000;

ctr::CtrBatch random_batch(Context& ctx, std::int64_t batch) {
  ctr::CtrBatch b;
  b.size = batch;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(kFields * batch)), offsets(static_cast<std::size_t>(batch + 1));
  std::vector<float> labels(static_cast<std::size_t>(batch));
  PhiloxStream rng(11, 0);
  for (auto& id : ids) id = static_cast<std::int32_t>(uniform_below(rng.next_u32(), kRows));
  for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<std::int32_t>(i);
  for (float& y : labels) y = rng.next_uniform() < 0.25f ? 1.0f : 0.0f;
  b.ids = Tensor::empty(ctx, DType::kI32, {kFields, batch});
  b.offsets = Tensor::empty(ctx, DType::kI32, {batch + 1});
  b.labels = Tensor::empty(ctx, DType::kF32, {batch});
  copy_bytes(ctx, b.ids.data<std::int32_t>(), ctx.device(), ids.data(), Device::cpu(), ids.size() * 4);
  copy_bytes(ctx, b.offsets.data<std::int32_t>(), ctx.device(), offsets.data(), Device::cpu(), offsets.size() * 4);
  copy_bytes(ctx, b.labels.data<float>(), ctx.device(), labels.data(), Device::cpu(), labels.size() * 4);
  ctx.synchronize();
  return b;
}

void train_steps(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t batch = state.range(0);
  ctr::CtrModelConfig config;
  config.kind = static_cast<ctr::CtrModelKind>(state.range(1));
  ctr::CtrModel model(ctx, config, std::vector<std::int64_t>(kFields, kRows));
  const ctr::CtrBatch b = random_batch(ctx, batch);
  auto step = [&] { model.train_step(b); };
  if (on_cuda) {
    time_iterations(state, ctx, step);
  } else {
    step();
    for (auto _ : state) step();
  }
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CtrTrainStep_cpu(benchmark::State& state) { train_steps(state, cpu_context(), false); }
BENCHMARK(BM_CtrTrainStep_cpu)
    ->Name("BM_CtrTrainStep/cpu")
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kFm)})
    ->ArgNames({"B", "model"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_CtrTrainStep_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  train_steps(state, cuda_context(), true);
}
BENCHMARK(BM_CtrTrainStep_cuda)
    ->Name("BM_CtrTrainStep/cuda")
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({65536, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({65536, static_cast<int>(ctr::CtrModelKind::kFm)})
    ->ArgNames({"B", "model"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
