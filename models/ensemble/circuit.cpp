#include "reckon/models/ensemble/circuit.h"

#include "reckon/runtime/error.h"

namespace reckon::ensemble {

const char* to_string(CircuitState state) noexcept {
  switch (state) {
    case CircuitState::kClosed: return "closed";
    case CircuitState::kOpen: return "open";
    case CircuitState::kHalfOpen: return "half-open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(const CircuitOptions& options) : options_(options) {
  RECKON_CHECK_ARG(options.window >= 1 && options.failures_to_open >= 1 && options.failures_to_open <= options.window &&
                       options.cool_down.count() >= 0,
                   "a circuit needs 1 <= failures_to_open <= window and a cool-down >= 0");
}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::kOpen && now >= open_until_) {
    state_ = CircuitState::kHalfOpen;
    probe_out_ = false;
  }
  if (state_ == CircuitState::kClosed) return true;
  if (state_ == CircuitState::kHalfOpen && !probe_out_) return probe_out_ = true;
  return false;
}

void CircuitBreaker::open(Clock::time_point now) {
  state_ = CircuitState::kOpen;
  open_until_ = now + options_.cool_down;
  window_.clear();
  failures_ = 0;
  ++opened_;
}

void CircuitBreaker::record(bool ok, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::kHalfOpen) {
    if (ok) {
      state_ = CircuitState::kClosed;
    } else {
      open(now);
    }
    return;
  }
  if (state_ == CircuitState::kOpen) return;  // a call let through before the circuit opened
  window_.push_back(!ok);
  failures_ += ok ? 0 : 1;
  if (static_cast<int>(window_.size()) > options_.window) {
    failures_ -= window_.front() ? 1 : 0;
    window_.pop_front();
  }
  if (failures_ >= options_.failures_to_open) open(now);
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::int64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mutex_);
  return opened_;
}

}  // namespace reckon::ensemble
