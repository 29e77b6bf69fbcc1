// Benchmark entry point: records the devices and the copy ceilings in the report's context.
#include <benchmark/benchmark.h>

#include <string>

#include "bench_util.h"
#include "reckon/config.h"
#include "reckon/runtime/device.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("reckon_version", RECKON_VERSION_STRING);
  benchmark::AddCustomContext("host_copy_gbs_all_threads", std::to_string(reckon::bench::host_copy_gbs(true)));
  if (reckon::cuda_available()) {
    const auto devices = reckon::cuda_devices();
    benchmark::AddCustomContext("cuda_device", devices.empty() ? "?" : devices.front().name);
    benchmark::AddCustomContext("device_copy_gbs", std::to_string(reckon::bench::device_copy_gbs()));
  } else {
    benchmark::AddCustomContext("cuda_device", "none: " + reckon::cuda_unavailable_reason());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
