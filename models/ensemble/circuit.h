// A circuit breaker over a component's recent calls (Netflix Hystrix's states): closed, the calls go through and
// their outcomes fill a rolling window; `failures_to_open` failures within the last `window` calls open it; open,
// no call goes through until `cool_down` has passed; then half-open, one probe call goes through, and its outcome
// closes the circuit (the window cleared) or opens it for another cool-down.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>

namespace reckon::ensemble {

struct CircuitOptions {
  int window = 20;
  int failures_to_open = 5;
  std::chrono::milliseconds cool_down{1000};
};

enum class CircuitState : std::uint8_t { kClosed, kOpen, kHalfOpen };
const char* to_string(CircuitState state) noexcept;

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CircuitBreaker(const CircuitOptions& options);
  // Whether a call may go now; in the half-open state only the first asker (the probe) gets true.
  bool allow(Clock::time_point now = Clock::now());
  // The outcome of a call that allow() let through.
  void record(bool ok, Clock::time_point now = Clock::now());
  CircuitState state() const;
  std::int64_t times_opened() const;

 private:
  void open(Clock::time_point now);
  CircuitOptions options_;
  mutable std::mutex mutex_;
  CircuitState state_ = CircuitState::kClosed;
  std::deque<bool> window_;  // true: a failure
  int failures_ = 0;
  bool probe_out_ = false;
  Clock::time_point open_until_{};
  std::int64_t opened_ = 0;
};

}  // namespace reckon::ensemble
