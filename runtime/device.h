// Devices: the CPU, always present, and CUDA GPUs when one answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace reckon {

enum class DeviceKind : std::uint8_t { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;

  static constexpr Device cpu() { return {DeviceKind::kCpu, 0}; }
  static constexpr Device cuda(int i = 0) { return {DeviceKind::kCuda, i}; }
  constexpr bool is_cpu() const { return kind == DeviceKind::kCpu; }
  constexpr bool is_cuda() const { return kind == DeviceKind::kCuda; }
  friend constexpr bool operator==(Device a, Device b) {
    return a.kind == b.kind && (a.kind == DeviceKind::kCpu || a.index == b.index);
  }
  std::string str() const;  // "cpu", "cuda:0"
};

// Properties of one CUDA device, as the driver reports them.
struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
  std::size_t global_memory_bytes = 0;
  std::size_t l2_cache_bytes = 0;
  std::size_t shared_memory_per_block_optin = 0;
  int memory_clock_khz = 0;
  int memory_bus_width_bits = 0;
  // Datasheet-style peak from clock and bus width (double data rate); measured copy bandwidth is the real ceiling.
  double peak_memory_bandwidth_gbs() const {
    return 2.0 * memory_clock_khz * 1e3 * (memory_bus_width_bits / 8.0) / 1e9;
  }
};

// Number of CUDA devices that answer. Any CUDA error during detection (no driver, driver too old, no device)
// counts as "no GPU" and returns 0; cuda_unavailable_reason() then says why. Always 0 in a CPU-only build.
int cuda_device_count() noexcept;
bool cuda_available() noexcept;
std::string cuda_unavailable_reason();
std::vector<CudaDeviceInfo> cuda_devices();
// CUDA driver and runtime versions as major*1000 + minor*10 (0 when unknown).
int cuda_driver_version() noexcept;
int cuda_runtime_version() noexcept;

// "cpu", "cuda", "cuda:N" or "auto"; throws kInvalidArgument for anything else, kNoDevice for a CUDA device that
// does not answer.
Device parse_device(std::string_view text);
// The device named by RECKON_DEVICE (cpu|cuda|cuda:N|auto; unset means auto): auto picks cuda:0 when a GPU
// answers and the CPU otherwise.
Device default_device();

}  // namespace reckon
