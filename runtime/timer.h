// Timing for benchmarks: CUDA events on the context's stream for a GPU context, a steady clock for a CPU one.
#pragma once

#include <chrono>

#include "reckon/runtime/context.h"

namespace reckon {

class DeviceTimer {
 public:
  explicit DeviceTimer(Context& ctx);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  void start();
  // Milliseconds since start(); waits for the work enqueued in between.
  double stop_ms();

 private:
  Context& ctx_;
  void* start_event_ = nullptr;
  void* stop_event_ = nullptr;
  std::chrono::steady_clock::time_point host_start_;
};

}  // namespace reckon
