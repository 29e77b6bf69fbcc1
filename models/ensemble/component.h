// The ensemble's components: anything that scores a catalogue's items for a request, behind one interface, with the
// adapter for the session models and the failure injection of the tests and demos.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "reckon/models/session/recommender.h"

namespace reckon::ensemble {

// An item of the ensemble's catalogue and its score, higher first.
struct ScoredItem {
  std::int32_t item = 0;
  float score = 0;
};

// A request's features beyond its clicks, by field name (e.g. {"user": "42"}): what the CTR models read.
using Features = std::map<std::string, std::string>;

// What a component scores for: the session's clicks so far (catalogue indices, oldest first; -1 for an item the
// catalogue lacks) and the request's features.
struct Query {
  std::span<const std::int32_t> session;
  const Features* features = nullptr;  // null: none
};

class Component {
 public:
  virtual ~Component() = default;
  virtual std::string name() const = 0;
  // scores[i] for every item i of the ensemble's catalogue given the query; -inf for an item the component cannot
  // rank. The ensemble calls a component from its own worker threads: one call at a time with one worker
  // (EnsembleOptions::workers), else concurrently.
  virtual void score(const Query& query, std::span<float> scores) = 0;
  // The request features it reads (the ensemble refuses a request with a feature no component reads).
  virtual std::vector<std::string> features() const { return {}; }
};

// A session model as a component. Its catalogue is mapped onto the ensemble's by item name: the ensemble's items the
// model does not know score -inf, the session's clicks it does not know reach it as -1. Safe to call concurrently
// (as the session models are).
class SessionComponent final : public Component {
 public:
  SessionComponent(std::string name, std::shared_ptr<const session::SessionRecommender> model,
                   const session::Catalog& catalog);
  std::string name() const override { return name_; }
  void score(const Query& query, std::span<float> scores) override;

 private:
  std::string name_;
  std::shared_ptr<const session::SessionRecommender> model_;
  std::vector<std::int32_t> to_model_;  // ensemble index -> the model's (-1: unknown)
};

// Failure injection: `component:kind:rate` (kinds throw, hang, nan, oom; rate in [0, 1]).
enum class FaultKind : std::uint8_t { kThrow, kHang, kNan, kOom };
struct FaultSpec {
  std::string component;
  FaultKind kind = FaultKind::kThrow;
  double rate = 0;
};
FaultSpec parse_fault(const std::string& text);  // kInvalidArgument naming what is wrong
const char* to_string(FaultKind kind) noexcept;

// Wakes every injected hang, so that an ensemble shuts down without waiting them out.
class HangRelease {
 public:
  // Waits `for_at_most` or until release(); returns at once after release().
  void wait(std::chrono::milliseconds for_at_most);
  void release();

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool done_ = false;
};

// `inner` with faults injected on a share `rate` of its calls, drawn from the Philox stream (seed, call number):
// throw (reckon::Error kUnavailable), hang (`hang_for`, or until the release), nan (a score poisoned), oom
// (reckon::Error kOutOfMemory, as a device allocation throws it).
class FaultyComponent final : public Component {
 public:
  FaultyComponent(std::unique_ptr<Component> inner, std::vector<FaultSpec> faults, std::uint64_t seed,
                  std::shared_ptr<HangRelease> release, std::chrono::milliseconds hang_for = std::chrono::seconds(2));
  std::string name() const override { return inner_->name(); }
  std::vector<std::string> features() const override { return inner_->features(); }
  void score(const Query& query, std::span<float> scores) override;

 private:
  std::unique_ptr<Component> inner_;
  std::vector<FaultSpec> faults_;
  std::uint64_t seed_;
  std::atomic<std::uint64_t> calls_{0};
  std::shared_ptr<HangRelease> release_;
  std::chrono::milliseconds hang_for_;
};

}  // namespace reckon::ensemble
