#include "reckon/runtime/timer.h"

#include "reckon/config.h"
#if RECKON_WITH_CUDA
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"
#endif

namespace reckon {

DeviceTimer::DeviceTimer(Context& ctx) : ctx_(ctx) {
#if RECKON_WITH_CUDA
  if (ctx.is_cuda()) {
    detail::DeviceGuard guard(ctx.device().index);
    cudaEvent_t a = nullptr;
    cudaEvent_t b = nullptr;
    RECKON_CUDA_CHECK(cudaEventCreate(&a));
    RECKON_CUDA_CHECK(cudaEventCreate(&b));
    start_event_ = a;
    stop_event_ = b;
  }
#endif
}

DeviceTimer::~DeviceTimer() {
#if RECKON_WITH_CUDA
  if (start_event_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(start_event_));
  if (stop_event_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(stop_event_));
#endif
}

void DeviceTimer::start() {
#if RECKON_WITH_CUDA
  if (start_event_ != nullptr) {
    RECKON_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_event_), detail::cuda_stream(ctx_)));
    return;
  }
#endif
  host_start_ = std::chrono::steady_clock::now();
}

double DeviceTimer::stop_ms() {
#if RECKON_WITH_CUDA
  if (stop_event_ != nullptr) {
    RECKON_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_event_), detail::cuda_stream(ctx_)));
    RECKON_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_event_)));
    float ms = 0.0f;
    RECKON_CUDA_CHECK(
        cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_event_), static_cast<cudaEvent_t>(stop_event_)));
    return ms;
  }
#endif
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start_).count();
}

}  // namespace reckon
