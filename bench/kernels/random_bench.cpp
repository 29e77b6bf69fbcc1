// Random fills: GB/s written, against the copy ceiling, and against a peer (cuRAND's Philox4x32-10 on the GPU, a
// single-thread std::mt19937 loop on the CPU).
#include "reckon/kernels/random/random.h"

#include <random>
#include <vector>

#include "bench_util.h"
#include "reckon/config.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/timer.h"

#if RECKON_WITH_CUDA
#include <cuda_runtime_api.h>
#include <curand.h>
#endif

namespace reckon::bench {
namespace {

constexpr std::int64_t kElements = std::int64_t{1} << 26;  // 256 MiB of f32: well past any L2

void BM_RandomUniform_cpu(benchmark::State& state) {
  Context& ctx = cpu_context();
  const std::int64_t n = state.range(0);
  Tensor t = Tensor::empty(ctx, DType::kF32, {n});
  for (auto _ : state) {
    random_uniform(ctx, t, 0.0f, 1.0f);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(t.nbytes()) * state.iterations());
  state.counters["elements_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RandomUniform_cpu)->Name("BM_RandomUniform/cpu")->Arg(1 << 24)->UseRealTime()->Unit(benchmark::kMillisecond);

// The baseline a plain C++ program would write: one thread, std::mt19937 and uniform_real_distribution.
void BM_RandomUniformMt19937_cpu(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::vector<float> out(static_cast<std::size_t>(n));
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (auto _ : state) {
    for (float& x : out) x = dist(gen);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(n * 4) * state.iterations());
}
BENCHMARK(BM_RandomUniformMt19937_cpu)->Name("BM_RandomUniform/cpu_baseline_mt19937")->Arg(1 << 24)->UseRealTime()->Unit(benchmark::kMillisecond);

#if RECKON_WITH_CUDA
// cuRAND's Philox generator filling the same buffer: the peer we compare the CUDA fill with.
double curand_uniform_ms(Context& ctx, float* dst, std::int64_t n) {
  curandGenerator_t gen = nullptr;
  if (curandCreateGenerator(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10) != CURAND_STATUS_SUCCESS) return 0.0;
  curandSetStream(gen, ctx.stream());
  curandSetPseudoRandomGeneratorSeed(gen, 1234);
  const double best = best_ms(ctx, 10, [&] { curandGenerateUniform(gen, dst, static_cast<std::size_t>(n)); });
  curandDestroyGenerator(gen);
  return best;
}
#endif

void BM_RandomUniform_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const std::int64_t n = state.range(0);
  Tensor t = Tensor::empty(ctx, DType::kF32, {n});
  time_iterations(state, ctx, [&] { random_uniform(ctx, t, 0.0f, 1.0f); });
  report_bytes(state, static_cast<double>(t.nbytes()), true);
#if RECKON_WITH_CUDA
  const double curand_ms = curand_uniform_ms(ctx, t.data<float>(), n);
  if (curand_ms > 0) {
    const double curand_gbs = static_cast<double>(t.nbytes()) / (curand_ms * 1e-3) / 1e9;
    state.counters["curand_GBps"] = curand_gbs;
    state.counters["vs_curand"] = benchmark::Counter(static_cast<double>(t.nbytes()) / 1e9 / curand_gbs,
                                                     benchmark::Counter::kIsIterationInvariantRate);
  }
#endif
}
BENCHMARK(BM_RandomUniform_cuda)->Name("BM_RandomUniform/cuda")->Arg(kElements)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_RandomNormal_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Tensor t = Tensor::empty(ctx, DType::kF32, {state.range(0)});
  time_iterations(state, ctx, [&] { random_normal(ctx, t, 0.0f, 1.0f); });
  report_bytes(state, static_cast<double>(t.nbytes()), true);
}
BENCHMARK(BM_RandomNormal_cuda)->Name("BM_RandomNormal/cuda")->Arg(kElements)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
