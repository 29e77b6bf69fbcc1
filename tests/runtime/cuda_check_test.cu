// RECKON_CUDA_CHECK for the three status types, and the context's library handles. The status tests need no GPU:
// the status names and texts come from the libraries' tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"
#include "testing.h"

namespace reckon {
namespace {

template <typename StatusT>
Error capture(StatusT status) {
  try {
    RECKON_CUDA_CHECK(status);
  } catch (const Error& e) {
    return e;
  }
  return Error(StatusCode::kOk, "no exception", __FILE__, __LINE__);
}

TEST(CudaCheck, CudaStatusNamesCodeExpressionAndLine) {
  const Error e = capture(cudaErrorInvalidValue);
  EXPECT_EQ(e.code(), StatusCode::kCudaError);
  EXPECT_NE(e.message().find("cudaErrorInvalidValue"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("status"), std::string::npos) << "the failing expression: " << e.message();
  EXPECT_NE(std::string(e.file()).find("cuda_check_test.cu"), std::string::npos);
  EXPECT_EQ(capture(cudaErrorMemoryAllocation).code(), StatusCode::kOutOfMemory);
  EXPECT_NO_THROW(RECKON_CUDA_CHECK(cudaSuccess));
}

TEST(CudaCheck, CublasStatusIsNamed) {
  const Error e = capture(CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(e.code(), StatusCode::kCublasError);
  EXPECT_NE(e.message().find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << e.message();
  EXPECT_NO_THROW(RECKON_CUDA_CHECK(CUBLAS_STATUS_SUCCESS));
}

#if RECKON_WITH_CUDNN
TEST(CudaCheck, CudnnStatusIsNamed) {
  const Error e = capture(CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(e.code(), StatusCode::kCudnnError);
  EXPECT_NE(e.message().find("CUDNN_STATUS_BAD_PARAM"), std::string::npos) << e.message();
}
#endif

TEST(ContextCuda, LibraryHandlesAreBoundToTheContextStream) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  cublasHandle_t blas = detail::cublas_handle(ctx);
  EXPECT_EQ(detail::cublas_handle(ctx), blas);  // created once
  cudaStream_t stream = nullptr;
  RECKON_CUDA_CHECK(cublasGetStream(blas, &stream));
  EXPECT_EQ(stream, detail::cuda_stream(ctx));
#if RECKON_WITH_CUDNN
  cudnnHandle_t dnn = detail::cudnn_handle(ctx);
  cudaStream_t dnn_stream = nullptr;
  RECKON_CUDA_CHECK(cudnnGetStream(dnn, &dnn_stream));
  EXPECT_EQ(dnn_stream, detail::cuda_stream(ctx));
#endif
}

TEST(ContextCuda, CublasErrorsSurfaceAsReckonErrors) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const float one = 1.0f;
  try {
    // m = -1 is rejected by cuBLAS before touching memory.
    RECKON_CUDA_CHECK(cublasSgemm(detail::cublas_handle(ctx), CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1, &one, nullptr, 1,
                                  nullptr, 1, &one, nullptr, 1));
    FAIL() << "cuBLAS accepted m = -1";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kCublasError);
    EXPECT_NE(e.message().find("cublasSgemm"), std::string::npos) << e.message();
  }
}

TEST(ContextCpu, LibraryHandlesNeedACudaContext) {
  Context ctx(Device::cpu());
  EXPECT_THROW((void)detail::cublas_handle(ctx), Error);
}

}  // namespace
}  // namespace reckon
