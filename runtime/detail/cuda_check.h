// Internal (not installed): checking CUDA, cuBLAS, cuFFT and cuDNN statuses. One macro for all three:
//   RECKON_CUDA_CHECK(cudaMemsetAsync(...));
//   RECKON_CUDA_CHECK(cublasSgemm(...));
// A failure throws reckon::Error with the library's status name and text, the expression, file and line.
#pragma once

#include "reckon/config.h"
#include "reckon/runtime/error.h"

#if RECKON_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cufft.h>
#if RECKON_WITH_CUDNN
#include <cudnn.h>
#endif

namespace reckon::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line);

inline void check_status(cudaError_t status, const char* expr, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, expr, file, line);
}
inline void check_status(cublasStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, expr, file, line);
}
[[noreturn]] void throw_cufft_error(cufftResult status, const char* expr, const char* file, int line);
inline void check_status(cufftResult status, const char* expr, const char* file, int line) {
  if (status != CUFFT_SUCCESS) throw_cufft_error(status, expr, file, line);
}
#if RECKON_WITH_CUDNN
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line);
inline void check_status(cudnnStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn_error(status, expr, file, line);
}
#endif

}  // namespace reckon::detail

#define RECKON_CUDA_CHECK(expr) ::reckon::detail::check_status((expr), #expr, __FILE__, __LINE__)

#endif  // RECKON_WITH_CUDA
