// Timing for benchmarks: CUDA events on the context's stream for a GPU context, a steady clock for a CPU one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

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

// Time per named stage of a repeated pipeline (a training step), for profiling by stage. begin() opens a pass;
// end_stage(s) charges the work enqueued since the previous mark to stage s. On a GPU context the marks are events
// on the context's stream (no synchronisation until the totals are read); on a CPU one, a steady clock.
class StageTimer {
 public:
  StageTimer(Context& ctx, std::vector<std::string> stage_names);
  ~StageTimer();
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

  void begin();
  void end_stage(int stage);
  // Milliseconds per stage summed over every pass since construction or reset() (synchronises).
  const std::vector<double>& totals_ms();
  const std::vector<std::string>& stage_names() const { return names_; }
  std::int64_t passes() const { return passes_; }  // begin() calls since construction or reset()
  void reset();

 private:
  void resolve();  // fold the recorded marks into the totals

  Context& ctx_;
  std::vector<std::string> names_;
  std::vector<double> totals_;
  // Marks of passes not yet folded in: (stage charged, or -1 for a pass start) and its event or host time.
  std::vector<int> mark_stage_;
  std::vector<void*> mark_event_;
  std::vector<std::chrono::steady_clock::time_point> mark_time_;
  std::vector<void*> event_pool_;
  std::int64_t passes_ = 0;
};

}  // namespace reckon
