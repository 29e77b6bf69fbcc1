#include "reckon/runtime/device.h"

#include <cstdlib>
#include <mutex>

#include "reckon/config.h"
#include "reckon/runtime/error.h"

#if RECKON_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace reckon {

std::string Device::str() const { return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index); }

namespace {

struct Detection {
  int count = 0;
  std::string reason;
};

const Detection& detection() {
  static const Detection result = [] {
    Detection d;
#if RECKON_WITH_CUDA
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      // On machines with the toolkit but no driver this is cudaErrorInsufficientDriver or cudaErrorNoDevice:
      // both mean "no GPU", never a failure of the program.
      d.reason = detail::concat("cudaGetDeviceCount: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
      (void)cudaGetLastError();
    } else if (count == 0) {
      d.reason = "no CUDA device found";
    } else {
      d.count = count;
    }
#else
    d.reason = "reckon was built without CUDA (RECKON_CUDA=OFF or no nvcc at configure time)";
#endif
    return d;
  }();
  return result;
}

}  // namespace

int cuda_device_count() noexcept {
  try {
    return detection().count;
  } catch (...) {
    return 0;
  }
}

bool cuda_available() noexcept { return cuda_device_count() > 0; }

std::string cuda_unavailable_reason() { return detection().reason; }

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> out;
#if RECKON_WITH_CUDA
  for (int i = 0; i < cuda_device_count(); ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    CudaDeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.compute_major = prop.major;
    info.compute_minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.global_memory_bytes = prop.totalGlobalMem;
    info.l2_cache_bytes = static_cast<std::size_t>(prop.l2CacheSize);
    info.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
    info.memory_bus_width_bits = prop.memoryBusWidth;
    if (cudaDeviceGetAttribute(&info.memory_clock_khz, cudaDevAttrMemoryClockRate, i) != cudaSuccess) {
      (void)cudaGetLastError();
      info.memory_clock_khz = 0;
    }
    out.push_back(std::move(info));
  }
#endif
  return out;
}

namespace {
// A version query of the CUDA runtime API, 0 when it fails (as it does on machines without a driver).
[[maybe_unused]] int query_version(int (*query)(int*)) noexcept {
  int v = 0;
  if (query(&v) != 0) {
#if RECKON_WITH_CUDA
    (void)cudaGetLastError();
#endif
    return 0;
  }
  return v;
}
}  // namespace

int cuda_driver_version() noexcept {
#if RECKON_WITH_CUDA
  return query_version([](int* v) { return static_cast<int>(cudaDriverGetVersion(v)); });
#else
  return 0;
#endif
}

int cuda_runtime_version() noexcept {
#if RECKON_WITH_CUDA
  return query_version([](int* v) { return static_cast<int>(cudaRuntimeGetVersion(v)); });
#else
  return 0;
#endif
}

Device parse_device(std::string_view text) {
  if (text == "cpu") return Device::cpu();
  if (text == "auto" || text.empty()) return cuda_available() ? Device::cuda(0) : Device::cpu();
  int index = -1;
  if (text == "cuda") {
    index = 0;
  } else if (text.substr(0, 5) == "cuda:" && text.size() > 5) {
    index = 0;
    for (char c : text.substr(5)) {
      if (c < '0' || c > '9' || index > 1000) {
        index = -1;
        break;
      }
      index = index * 10 + (c - '0');
    }
  }
  if (index < 0) {
    RECKON_THROW(StatusCode::kInvalidArgument, "unknown device '", text, "': expected cpu, cuda, cuda:N or auto");
  }
  if (index >= cuda_device_count()) {
    RECKON_THROW(StatusCode::kNoDevice, "device '", text, "' was requested but ",
                 cuda_available() ? detail::concat("only ", cuda_device_count(), " CUDA device(s) answer")
                                  : cuda_unavailable_reason());
  }
  return Device::cuda(index);
}

Device default_device() {
  const char* env = std::getenv("RECKON_DEVICE");
  try {
    return parse_device(env ? std::string_view(env) : std::string_view("auto"));
  } catch (const Error& e) {
    RECKON_THROW(e.code(), "RECKON_DEVICE=", env ? env : "", ": ", e.message());
  }
}

}  // namespace reckon
