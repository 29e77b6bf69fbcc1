// An ensemble that keeps serving when a component fails: each component runs on a worker thread of its own (on the
// GPU, with its own Context and stream); a request goes to every component whose circuit is closed, waits until its
// deadline, and blends the lists of the components that answered in time. A component that throws, runs out of
// memory, returns NaN or +inf, or is late is left out of that request and counted against its circuit
// (circuit.h); every response says which components contributed and why the others did not.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reckon/models/ensemble/blend.h"
#include "reckon/models/ensemble/circuit.h"
#include "reckon/models/ensemble/component.h"

namespace reckon::ensemble {

struct EnsembleOptions {
  std::chrono::milliseconds deadline{100};  // per request, from its arrival
  CircuitOptions circuit;
  int workers = 1;  // threads per component; more than one calls its score() concurrently
  int queue = 64;   // calls a component may have waiting; beyond: "busy" (a bulkhead: a stuck component's queue
                    // stays bounded)
};

enum class Outcome : std::uint8_t { kAnswered, kThrew, kTimedOut, kNonFinite, kOutOfMemory, kCircuitOpen, kBusy };
inline constexpr std::size_t kOutcomes = 7;
const char* to_string(Outcome outcome) noexcept;

struct Request {
  Request() = default;
  Request(std::vector<std::int32_t> clicks, int top_k = 20, Features request_features = {})
      : session(std::move(clicks)), k(top_k), features(std::move(request_features)) {}
  std::vector<std::int32_t> session;  // catalogue indices, oldest first (-1: an item the catalogue lacks)
  int k = 20;
  Features features;  // for the components that read them (Component::features)
};

struct ComponentReport {
  std::string name;
  Outcome outcome = Outcome::kAnswered;
  std::string message;  // why it did not contribute
  double milliseconds = 0;
};

struct Response {
  std::vector<ScoredItem> items;  // the blend's top k, best first
  std::vector<ComponentReport> components;
  int answered = 0;
  double milliseconds = 0;
};

// Latencies in Prometheus-style cumulative buckets (upper bounds in seconds, the last +Inf).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 15> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
  void observe(double seconds);
  std::array<std::int64_t, kBounds.size() + 1> counts() const;  // per bucket, not cumulative; the last: +Inf
  double sum() const;
  std::int64_t count() const;
  // The q-quantile's bucket's upper bound in seconds (Prometheus' histogram_quantile without interpolation); 0 when
  // empty, +inf when it falls past the last bound.
  double quantile(double q) const;

 private:
  std::array<std::atomic<std::int64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::int64_t> sum_us_{0};
};

struct ComponentHealth {
  std::string name;
  CircuitState circuit = CircuitState::kClosed;
  std::int64_t times_opened = 0;
  std::array<std::int64_t, kOutcomes> outcomes{};
  const LatencyHistogram* latency = nullptr;  // valid while the ensemble lives
};

class Ensemble {
 public:
  // `release` wakes injected hangs at shutdown (FaultyComponent); may be null.
  Ensemble(std::vector<std::unique_ptr<Component>> components, Blend blend, std::int32_t catalog_size,
           const EnsembleOptions& options, std::shared_ptr<HangRelease> release = nullptr);
  ~Ensemble();
  Ensemble(const Ensemble&) = delete;
  Ensemble& operator=(const Ensemble&) = delete;

  // Safe from many threads at once. kOutOfRange for a session item outside the catalogue, kInvalidArgument for an
  // empty session, k outside [1, the blend's depth] or a feature no component reads.
  Response recommend(const Request& request);
  std::vector<ComponentHealth> health() const;
  // Calls, outcomes, circuits and latencies in the Prometheus text format.
  std::string metrics_text() const;
  const Blend& blend() const { return blend_; }
  const EnsembleOptions& options() const { return options_; }
  std::int32_t catalog_size() const { return catalog_size_; }
  const std::vector<std::string>& features() const { return features_; }  // read by some component, sorted

 private:
  struct Call;
  struct Worker;
  void run(Worker& worker);
  Blend blend_;
  std::int32_t catalog_size_;
  std::vector<std::string> features_;
  EnsembleOptions options_;
  std::shared_ptr<HangRelease> release_;
  std::vector<std::unique_ptr<Worker>> workers_;
  LatencyHistogram request_latency_;
  std::atomic<std::int64_t> requests_{0}, degraded_{0};
};

}  // namespace reckon::ensemble
