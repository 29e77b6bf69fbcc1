// Log-mel spectrograms: one minute of audio at 22,050 Hz (the CPU goal: under 5 ms), and on CUDA a batch of
// 30-second clips. Rates in seconds of audio per second.
#include "reckon/kernels/logmel/logmel.h"

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void run(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t batch = state.range(0), seconds = state.range(1), fft = state.range(2), hop = state.range(3);
  MelFilterbankOptions o;
  o.fft_size = static_cast<int>(fft);
  o.mels = static_cast<int>(state.range(4));
  const std::int64_t samples = seconds * o.sample_rate;
  Tensor signals = Tensor::empty(ctx, DType::kF32, {batch, samples});
  random_uniform(ctx, signals, -0.5f, 0.5f);
  const std::vector<float> bank = mel_filterbank(o);
  Tensor fb = Tensor::empty(ctx, DType::kF32, {fft / 2 + 1, o.mels});
  copy_bytes(ctx, fb.view().data, ctx.device(), bank.data(), Device::cpu(), bank.size() * sizeof(float));
  Tensor out = Tensor::empty(ctx, DType::kF32, {batch, logmel_frames(samples, fft, hop), o.mels});
  auto body = [&] { logmel(ctx, signals.view(), fb.view(), out.view(), static_cast<int>(hop)); };
  if (on_cuda) {
    time_iterations(state, ctx, body);
  } else {
    body();
    for (auto _ : state) body();
  }
  state.counters["audio_s_per_s"] =
      benchmark::Counter(static_cast<double>(batch * seconds), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LogMel_cpu(benchmark::State& state) { run(state, cpu_context(), false); }
BENCHMARK(BM_LogMel_cpu)
    ->Name("BM_LogMel/cpu")
    ->Args({1, 60, 1024, 512, 64})
    ->Args({1, 60, 2048, 512, 128})
    ->ArgNames({"B", "seconds", "fft", "hop", "mels"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_LogMel_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run(state, cuda_context(), true);
}
BENCHMARK(BM_LogMel_cuda)
    ->Name("BM_LogMel/cuda")
    ->Args({1, 60, 1024, 512, 64})
    ->Args({256, 30, 1024, 512, 64})
    ->ArgNames({"B", "seconds", "fft", "hop", "mels"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
