#include "bench_util.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "reckon/runtime/memory.h"
#include "reckon/runtime/timer.h"

namespace reckon::bench {

Context& cpu_context() {
  static Context ctx(Device::cpu());
  return ctx;
}

Context& cuda_context() {
  static Context ctx(Device::cuda(0));
  return ctx;
}

bool has_cuda(benchmark::State& state) {
  if (cuda_available()) return true;
  state.SkipWithError(("no CUDA device: " + cuda_unavailable_reason()).c_str());
  return false;
}

void time_iterations(benchmark::State& state, Context& ctx, const std::function<void()>& body) {
  body();  // warm-up: module load, handle creation, first-touch allocation
  ctx.synchronize();
  DeviceTimer timer(ctx);
  for (auto _ : state) {
    timer.start();
    body();
    state.SetIterationTime(timer.stop_ms() / 1e3);
  }
}

double best_ms(Context& ctx, int repetitions, const std::function<void()>& body) {
  body();
  ctx.synchronize();
  DeviceTimer timer(ctx);
  double best = 1e30;
  for (int i = 0; i < repetitions; ++i) {
    timer.start();
    body();
    best = std::min(best, timer.stop_ms());
  }
  return best;
}

double device_copy_gbs() {
  static const double gbs = [] {
    if (!cuda_available()) return 0.0;
    Context& ctx = cuda_context();
    const std::size_t bytes = std::size_t{512} << 20;
    Buffer a = Buffer::on_device(ctx, bytes);
    Buffer b = Buffer::on_device(ctx, bytes);
    const double ms =
        best_ms(ctx, 10, [&] { copy_bytes(ctx, b.data(), ctx.device(), a.data(), ctx.device(), bytes); });
    return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
  }();
  return gbs;
}

double host_copy_gbs(bool all_threads) {
  auto measure = [](int threads) {
    const std::size_t bytes = std::size_t{256} << 20;
    Buffer a = Buffer::host(bytes), b = Buffer::host(bytes);
    std::memset(a.data(), 1, bytes);
    std::memset(b.data(), 2, bytes);
    const std::size_t chunk = bytes / static_cast<std::size_t>(threads);
    const double ms = best_ms(cpu_context(), 5, [&] {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        std::memcpy(static_cast<char*>(b.data()) + chunk * t, static_cast<char*>(a.data()) + chunk * t, chunk);
      }
    });
    return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
  };
  static const double single = measure(1);
  static const double all = measure(std::max(1, omp_get_max_threads()));
  return all_threads ? all : single;
}

void report_bytes(benchmark::State& state, double bytes_per_iteration, bool on_cuda) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
  state.counters["bytes_per_iter"] = bytes_per_iteration;
  const double ceiling = on_cuda ? device_copy_gbs() : host_copy_gbs(true);
  if (ceiling > 0) {
    // GB/s achieved over the copy ceiling: bytes / (iterations * seconds per iteration) / ceiling.
    state.counters["of_copy_bw"] = benchmark::Counter(bytes_per_iteration / 1e9 / ceiling,
                                                      benchmark::Counter::kIsIterationInvariantRate);
  }
}

}  // namespace reckon::bench
