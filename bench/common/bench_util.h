// Shared benchmark helpers: the CUDA context, timing loops with events, and the copy-bandwidth ceiling that every
// memory-bound kernel is reported against.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <functional>

#include "reckon/runtime/context.h"
#include "reckon/runtime/device.h"

namespace reckon::bench {

// The process-wide CPU context and CUDA context (cuda:0). cuda_context() must only be called after has_cuda().
Context& cpu_context();
Context& cuda_context();
// True when a GPU answers; otherwise marks the benchmark skipped with the reason.
bool has_cuda(benchmark::State& state);

// Runs `body` once per iteration on ctx, timing each iteration with the context's DeviceTimer (CUDA events on a
// GPU) and reporting it as manual time. One untimed warm-up call first.
void time_iterations(benchmark::State& state, Context& ctx, const std::function<void()>& body);

// Milliseconds of the fastest of `repetitions` timed calls of `body` on ctx, after one untimed warm-up call.
// For baselines and ceilings measured outside Google Benchmark's own loop.
double best_ms(Context& ctx, int repetitions, const std::function<void()>& body);

// Device-to-device copy bandwidth of cuda:0 in GB/s, counting bytes read plus bytes written, measured once per
// process (512 MiB buffers, best of 10 copies).
double device_copy_gbs();
// Single-thread and all-thread host memcpy bandwidth in GB/s (read plus written), measured once per process.
double host_copy_gbs(bool all_threads);

// Sets bytes processed and the fraction of the measured copy ceiling ("of_copy_bw") for bytes moved per iteration.
void report_bytes(benchmark::State& state, double bytes_per_iteration, bool on_cuda);

}  // namespace reckon::bench
