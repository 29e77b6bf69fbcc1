// Copy bandwidth: the ceiling every memory-bound kernel is measured against. Bytes count reads plus writes.
#include <omp.h>

#include <cstring>

#include "bench_util.h"
#include "reckon/runtime/memory.h"

namespace reckon::bench {
namespace {

void BM_HostMemcpy(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  Buffer a = Buffer::host(bytes), b = Buffer::host(bytes);
  std::memset(a.data(), 1, bytes);
  std::memset(b.data(), 2, bytes);
  const std::size_t chunk = bytes / static_cast<std::size_t>(threads);
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      std::memcpy(static_cast<char*>(b.data()) + chunk * t, static_cast<char*>(a.data()) + chunk * t, chunk);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(2 * chunk * threads * state.iterations()));
  state.counters["threads"] = threads;
}
BENCHMARK(BM_HostMemcpy)
    ->Name("BM_HostMemcpy/cpu")
    ->ArgsProduct({{64 << 20, 256 << 20}, {1, 2}})
    ->ArgNames({"bytes", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_DeviceCopy(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  Buffer a = Buffer::on_device(ctx, bytes), b = Buffer::on_device(ctx, bytes);
  time_iterations(state, ctx, [&] { copy_bytes(ctx, b.data(), ctx.device(), a.data(), ctx.device(), bytes); });
  report_bytes(state, 2.0 * static_cast<double>(bytes), true);
}
BENCHMARK(BM_DeviceCopy)
    ->Name("BM_DeviceCopy/cuda")
    ->Arg(64 << 20)
    ->Arg(1 << 30)
    ->ArgName("bytes")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_HostDeviceCopy(benchmark::State& state) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const bool to_device = state.range(1) != 0;
  Buffer host = Buffer::pinned(bytes), dev = Buffer::on_device(ctx, bytes);
  std::memset(host.data(), 3, bytes);
  time_iterations(state, ctx, [&] {
    if (to_device) {
      copy_bytes(ctx, dev.data(), ctx.device(), host.data(), Device::cpu(), bytes);
    } else {
      copy_bytes(ctx, host.data(), Device::cpu(), dev.data(), ctx.device(), bytes);
    }
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes * state.iterations()));  // one way over the bus
}
BENCHMARK(BM_HostDeviceCopy)
    ->Name("BM_PinnedCopy/cuda")
    ->ArgsProduct({{256 << 20}, {1, 0}})
    ->ArgNames({"bytes", "to_device"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
