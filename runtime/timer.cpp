#include "reckon/runtime/timer.h"

#include <algorithm>
#include <utility>

#include "reckon/runtime/error.h"

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

StageTimer::StageTimer(Context& ctx, std::vector<std::string> stage_names)
    : ctx_(ctx), names_(std::move(stage_names)), totals_(names_.size(), 0.0) {}

StageTimer::~StageTimer() {
#if RECKON_WITH_CUDA
  for (void* e : event_pool_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(e));
  for (void* e : mark_event_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(e));
#endif
}

void StageTimer::begin() {
  // Bound the marks held between reads: a long profiled run folds them in every few hundred.
  if (mark_stage_.size() > 512) resolve();
  ++passes_;
  end_stage(-1);
}

void StageTimer::end_stage(int stage) {
  RECKON_CHECK_ARG(stage >= -1 && stage < static_cast<int>(names_.size()), "stage ", stage, " out of range");
  mark_stage_.push_back(stage);
#if RECKON_WITH_CUDA
  if (ctx_.is_cuda()) {
    void* e = nullptr;
    if (event_pool_.empty()) {
      detail::DeviceGuard guard(ctx_.device().index);
      cudaEvent_t created = nullptr;
      RECKON_CUDA_CHECK(cudaEventCreate(&created));
      e = created;
    } else {
      e = event_pool_.back();
      event_pool_.pop_back();
    }
    mark_event_.push_back(e);
    RECKON_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), detail::cuda_stream(ctx_)));
    return;
  }
#endif
  mark_time_.push_back(std::chrono::steady_clock::now());
}

void StageTimer::resolve() {
#if RECKON_WITH_CUDA
  if (ctx_.is_cuda() && !mark_event_.empty()) {
    RECKON_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(mark_event_.back())));
    for (std::size_t i = 1; i < mark_event_.size(); ++i) {
      if (mark_stage_[i] < 0) continue;
      float ms = 0.0f;
      RECKON_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(mark_event_[i - 1]),
                                             static_cast<cudaEvent_t>(mark_event_[i])));
      totals_[static_cast<std::size_t>(mark_stage_[i])] += ms;
    }
    // resolve() runs only between passes, so the next mark is a begin() and needs no earlier one.
    event_pool_.insert(event_pool_.end(), mark_event_.begin(), mark_event_.end());
    mark_event_.clear();
    mark_stage_.clear();
    return;
  }
#endif
  for (std::size_t i = 1; i < mark_time_.size(); ++i) {
    if (mark_stage_[i] < 0) continue;
    totals_[static_cast<std::size_t>(mark_stage_[i])] +=
        std::chrono::duration<double, std::milli>(mark_time_[i] - mark_time_[i - 1]).count();
  }
  mark_time_.clear();
  mark_stage_.clear();
}

const std::vector<double>& StageTimer::totals_ms() {
  resolve();
  return totals_;
}

void StageTimer::reset() {
  resolve();
  passes_ = 0;
  std::fill(totals_.begin(), totals_.end(), 0.0);
}

}  // namespace reckon
