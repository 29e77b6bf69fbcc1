// Status checking and launch validation for CUDA code (compiled as C++ against the CUDA runtime API).
#include "reckon/runtime/detail/cuda_check.h"

#if RECKON_WITH_CUDA
#include <vector_types.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "reckon/runtime/detail/cuda_context.h"

namespace reckon::detail {

void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  const StatusCode code = status == cudaErrorMemoryAllocation ? StatusCode::kOutOfMemory : StatusCode::kCudaError;
  throw Error(code, concat(expr, " failed: ", cudaGetErrorName(status), ": ", cudaGetErrorString(status)), file,
              line);
}

void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw Error(StatusCode::kCublasError,
              concat(expr, " failed: ", cublasGetStatusName(status), ": ", cublasGetStatusString(status)), file, line);
}

void throw_cufft_error(cufftResult status, const char* expr, const char* file, int line) {
  const char* name = "an unknown cuFFT status";
  switch (status) {
    case CUFFT_INVALID_PLAN: name = "CUFFT_INVALID_PLAN"; break;
    case CUFFT_ALLOC_FAILED: name = "CUFFT_ALLOC_FAILED"; break;
    case CUFFT_INVALID_VALUE: name = "CUFFT_INVALID_VALUE"; break;
    case CUFFT_INTERNAL_ERROR: name = "CUFFT_INTERNAL_ERROR"; break;
    case CUFFT_EXEC_FAILED: name = "CUFFT_EXEC_FAILED"; break;
    case CUFFT_SETUP_FAILED: name = "CUFFT_SETUP_FAILED"; break;
    case CUFFT_INVALID_SIZE: name = "CUFFT_INVALID_SIZE"; break;
    case CUFFT_NOT_SUPPORTED: name = "CUFFT_NOT_SUPPORTED"; break;
    default: break;
  }
  throw Error(status == CUFFT_ALLOC_FAILED ? StatusCode::kOutOfMemory : StatusCode::kCudaError,
              concat(expr, " failed: ", name, " (", static_cast<int>(status), ")"), file, line);
}

#if RECKON_WITH_CUDNN
void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
  throw Error(StatusCode::kCudnnError, concat(expr, " failed: ", cudnnGetErrorString(status)), file, line);
}
#endif

DeviceGuard::DeviceGuard(int device) {
  RECKON_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) RECKON_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current != previous_ && previous_ >= 0) {
    (void)cudaSetDevice(previous_);
  }
  (void)cudaGetLastError();
}

const cudaDeviceProp& device_properties(int device) {
  constexpr int kMaxDevices = 64;
  static std::array<cudaDeviceProp, kMaxDevices> props{};
  static std::array<std::once_flag, kMaxDevices> once;
  RECKON_CHECK_ARG(device >= 0 && device < kMaxDevices, "device index ", device, " out of range");
  std::call_once(once[static_cast<std::size_t>(device)], [device] {
    RECKON_CUDA_CHECK(cudaGetDeviceProperties(&props[static_cast<std::size_t>(device)], device));
  });
  return props[static_cast<std::size_t>(device)];
}

bool sync_launches() {
  static const bool enabled = [] {
    const char* env = std::getenv("RECKON_SYNC_LAUNCHES");
    return env != nullptr && std::strcmp(env, "0") != 0 && env[0] != '\0';
  }();
  return enabled;
}

void validate_launch(const char* kernel_name, dim3 grid, dim3 block, std::size_t shared_bytes, const char* file,
                     int line) {
  int device = 0;
  RECKON_CUDA_CHECK(cudaGetDevice(&device));
  const cudaDeviceProp& prop = device_properties(device);
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  const char* problem = nullptr;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) {
    problem = "empty grid";
  } else if (grid.x > static_cast<unsigned>(prop.maxGridSize[0]) || grid.y > static_cast<unsigned>(prop.maxGridSize[1]) ||
             grid.z > static_cast<unsigned>(prop.maxGridSize[2])) {
    problem = "grid exceeds the device's maximum grid size";
  } else if (threads == 0 || threads > static_cast<unsigned long long>(prop.maxThreadsPerBlock) ||
             block.x > static_cast<unsigned>(prop.maxThreadsDim[0]) ||
             block.y > static_cast<unsigned>(prop.maxThreadsDim[1]) ||
             block.z > static_cast<unsigned>(prop.maxThreadsDim[2])) {
    problem = "block exceeds the device's thread limits";
  } else if (shared_bytes > prop.sharedMemPerBlockOptin) {
    problem = "dynamic shared memory exceeds the device's per-block limit";
  }
  if (problem != nullptr) {
    throw Error(StatusCode::kInvalidArgument,
                concat("launch of ", kernel_name, ": ", problem, " (grid ", grid.x, "x", grid.y, "x", grid.z,
                       ", block ", block.x, "x", block.y, "x", block.z, ", shared ", shared_bytes,
                       " B; device limits grid ", prop.maxGridSize[0], "x", prop.maxGridSize[1], "x",
                       prop.maxGridSize[2], ", ", prop.maxThreadsPerBlock, " threads, ",
                       prop.sharedMemPerBlockOptin, " B shared)"),
                file, line);
  }
}

void throw_launch_error(cudaError_t status, const char* kernel_name, const char* what, const char* file, int line) {
  throw_cuda_error(status, concat(what, " of ", kernel_name).c_str(), file, line);
}

}  // namespace reckon::detail
#endif  // RECKON_WITH_CUDA
