#include "reckon/models/ensemble/ensemble.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>

#include "reckon/runtime/error.h"

namespace reckon::ensemble {

using Clock = std::chrono::steady_clock;

const char* to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kAnswered: return "answered";
    case Outcome::kThrew: return "threw";
    case Outcome::kTimedOut: return "timed_out";
    case Outcome::kNonFinite: return "non_finite";
    case Outcome::kOutOfMemory: return "out_of_memory";
    case Outcome::kCircuitOpen: return "circuit_open";
    case Outcome::kBusy: return "busy";
  }
  return "?";
}

void LatencyHistogram::observe(double seconds) {
  std::size_t b = 0;
  while (b < kBounds.size() && seconds > kBounds[b]) ++b;
  counts_[b].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::int64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

std::array<std::int64_t, LatencyHistogram::kBounds.size() + 1> LatencyHistogram::counts() const {
  std::array<std::int64_t, kBounds.size() + 1> out{};
  for (std::size_t b = 0; b < out.size(); ++b) out[b] = counts_[b].load(std::memory_order_relaxed);
  return out;
}

double LatencyHistogram::sum() const { return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) * 1e-6; }

std::int64_t LatencyHistogram::count() const {
  std::int64_t n = 0;
  for (const std::int64_t c : counts()) n += c;
  return n;
}

double LatencyHistogram::quantile(double q) const {
  const auto c = counts();
  std::int64_t total = 0;
  for (const std::int64_t n : c) total += n;
  if (total == 0) return 0;
  const double want = q * static_cast<double>(total);
  std::int64_t cumulative = 0;
  for (std::size_t b = 0; b < kBounds.size(); ++b) {
    cumulative += c[b];
    if (static_cast<double>(cumulative) >= want) return kBounds[b];
  }
  return INFINITY;
}

// One request's call of one component: the worker fills it, the request waits on it until its deadline.
struct Ensemble::Call {
  std::shared_ptr<const Request> request;  // one copy, shared by the request's calls
  Clock::time_point deadline;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  Outcome outcome = Outcome::kAnswered;
  std::string message;
  TopList top;
  double milliseconds = 0;
};

struct Ensemble::Worker {
  std::unique_ptr<Component> component;
  std::string name;
  CircuitBreaker circuit;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<Call>> queue;
  bool stop = false;
  std::array<std::atomic<std::int64_t>, kOutcomes> outcomes{};
  LatencyHistogram latency;
  std::vector<std::thread> threads;
  Worker(std::unique_ptr<Component> c, const CircuitOptions& o) : component(std::move(c)), name(component->name()), circuit(o) {}
};

Ensemble::Ensemble(std::vector<std::unique_ptr<Component>> components, Blend blend, std::int32_t catalog_size,
                   const EnsembleOptions& options, std::shared_ptr<HangRelease> release)
    : blend_(std::move(blend)), catalog_size_(catalog_size), options_(options), release_(std::move(release)) {
  RECKON_CHECK_ARG(!components.empty() && blend_.weights.size() == components.size(), "an ensemble of ",
                   components.size(), " components needs a blend of as many weights, got ", blend_.weights.size());
  RECKON_CHECK_ARG(catalog_size > 0 && options.deadline.count() > 0 && options.queue >= 0 && options.workers >= 1,
                   "an ensemble needs a catalogue, a positive deadline, a worker per component and a queue >= 0");
  for (auto& c : components) {
    RECKON_CHECK_ARG(c != nullptr, "an ensemble component is null");
    for (std::string& f : c->features()) features_.push_back(std::move(f));
    workers_.push_back(std::make_unique<Worker>(std::move(c), options.circuit));
  }
  std::sort(features_.begin(), features_.end());
  features_.erase(std::unique(features_.begin(), features_.end()), features_.end());
  for (auto& w : workers_) {
    for (int t = 0; t < options.workers; ++t) w->threads.emplace_back([this, worker = w.get()] { run(*worker); });
  }
}

Ensemble::~Ensemble() {
  if (release_) release_->release();
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mutex);
      w->stop = true;
    }
    w->wake.notify_all();
  }
  for (auto& w : workers_) {
    for (std::thread& t : w->threads) t.join();
  }
}

namespace {

// The component's scores of one call into the call's outcome and top list.
void score_call(Component& component, const Query& query, std::vector<float>& scores, int depth, Outcome& outcome,
                std::string& message, TopList& top) {
  try {
    component.score(query, scores);
    for (const float s : scores) {
      if (std::isnan(s) || s == INFINITY) {
        outcome = Outcome::kNonFinite;
        message = "a score is NaN or +inf";
        return;
      }
    }
    top = top_of(scores, depth);
    outcome = Outcome::kAnswered;
  } catch (const Error& e) {
    outcome = e.code() == StatusCode::kOutOfMemory ? Outcome::kOutOfMemory : Outcome::kThrew;
    message = e.what();
  } catch (const std::bad_alloc&) {
    outcome = Outcome::kOutOfMemory;
    message = "out of host memory";
  } catch (const std::exception& e) {
    outcome = Outcome::kThrew;
    message = e.what();
  }
}

}  // namespace

void Ensemble::run(Worker& worker) {
  std::vector<float> scores(static_cast<std::size_t>(catalog_size_));
  for (;;) {
    std::shared_ptr<Call> call;
    {
      std::unique_lock lock(worker.mutex);
      worker.wake.wait(lock, [&] { return worker.stop || !worker.queue.empty(); });
      if (worker.stop) return;
      call = std::move(worker.queue.front());
      worker.queue.pop_front();
    }
    Outcome outcome = Outcome::kTimedOut;
    std::string message;
    TopList top;
    const auto start = Clock::now();
    if (start < call->deadline) {
      score_call(*worker.component, Query{call->request->session, &call->request->features}, scores, blend_.depth, outcome, message, top);
    } else {
      message = "the deadline passed while it waited in the queue";
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    worker.latency.observe(seconds);
    {
      std::lock_guard lock(call->mutex);
      call->done = true;
      call->outcome = outcome;
      call->message = std::move(message);
      call->top = std::move(top);
      call->milliseconds = seconds * 1e3;
    }
    call->finished.notify_all();
  }
}

}  // namespace reckon::ensemble

namespace reckon::ensemble {
namespace {

void check_request(const Request& r, std::int32_t catalog_size, int depth, const std::vector<std::string>& features) {
  RECKON_CHECK_ARG(!r.session.empty(), "a request needs a session with at least one click");
  RECKON_CHECK_ARG(r.k >= 1 && r.k <= depth, "k must be in [1, ", depth, "], got ", r.k);
  for (const auto& feature : r.features) {
    const std::string& name = feature.first;
    if (!std::binary_search(features.begin(), features.end(), name)) {
      std::string known;
      for (const std::string& f : features) known += (known.empty() ? "" : ", ") + f;
      RECKON_THROW(StatusCode::kInvalidArgument, "feature '", name, "' is read by no component (they read: ",
                   known.empty() ? "none" : known, ")");
    }
  }
  for (std::size_t i = 0; i < r.session.size(); ++i) {
    const std::int32_t item = r.session[i];
    if (item < -1 || item >= catalog_size) {
      RECKON_THROW(StatusCode::kOutOfRange, "click ", i, " of the session is item ", item, ", outside the catalogue of ", catalog_size, " (-1: unknown)");
    }
  }
}

double milliseconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Response Ensemble::recommend(const Request& request) {
  check_request(request, catalog_size_, blend_.depth, features_);
  const auto shared = std::make_shared<const Request>(request);
  const auto arrived = Clock::now();
  const auto deadline = arrived + options_.deadline;
  const std::size_t C = workers_.size();
  std::vector<std::shared_ptr<Call>> calls(C);
  Response response;
  response.components.resize(C);
  for (std::size_t i = 0; i < C; ++i) {
    Worker& w = *workers_[i];
    ComponentReport& report = response.components[i];
    report.name = w.name;
    if (!w.circuit.allow()) {
      report.outcome = Outcome::kCircuitOpen;
      report.message = "isolated: its circuit is open after repeated failures";
      continue;
    }
    auto call = std::make_shared<Call>();
    call->request = shared;
    call->deadline = deadline;
    {
      std::lock_guard lock(w.mutex);
      if (static_cast<int>(w.queue.size()) < options_.queue) {
        w.queue.push_back(call);
        calls[i] = std::move(call);
      }
    }
    if (calls[i]) {
      w.wake.notify_one();
    } else {
      report.outcome = Outcome::kBusy;
      report.message = "too many calls already waiting for it";
    }
  }
  std::vector<const TopList*> lists(C, nullptr);
  for (std::size_t i = 0; i < C; ++i) {
    ComponentReport& report = response.components[i];
    if (calls[i]) {
      Call& call = *calls[i];
      std::unique_lock lock(call.mutex);
      if (call.finished.wait_until(lock, deadline, [&] { return call.done; })) {
        report.outcome = call.outcome;
        report.message = call.message;
        report.milliseconds = call.milliseconds;
      } else {
        report.outcome = Outcome::kTimedOut;
        report.message = "no answer within the deadline";
        report.milliseconds = milliseconds_between(arrived, Clock::now());
      }
    }
    Worker& w = *workers_[i];
    if (report.outcome != Outcome::kCircuitOpen) w.circuit.record(report.outcome == Outcome::kAnswered);
    w.outcomes[static_cast<std::size_t>(report.outcome)].fetch_add(1, std::memory_order_relaxed);
    if (report.outcome == Outcome::kAnswered) {
      lists[i] = &calls[i]->top;
      ++response.answered;
    }
  }
  response.items = blend_.combine(lists, request.k);
  response.milliseconds = milliseconds_between(arrived, Clock::now());
  request_latency_.observe(response.milliseconds * 1e-3);
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (response.answered < static_cast<int>(C)) degraded_.fetch_add(1, std::memory_order_relaxed);
  return response;
}

std::vector<ComponentHealth> Ensemble::health() const {
  std::vector<ComponentHealth> out;
  for (const auto& w : workers_) {
    ComponentHealth h;
    h.name = w->name;
    h.circuit = w->circuit.state();
    h.times_opened = w->circuit.times_opened();
    for (std::size_t o = 0; o < kOutcomes; ++o) h.outcomes[o] = w->outcomes[o].load(std::memory_order_relaxed);
    h.latency = &w->latency;
    out.push_back(std::move(h));
  }
  return out;
}

namespace {

void write_histogram(std::ostringstream& out, const std::string& metric, const std::string& labels,
                     const LatencyHistogram& h) {
  const auto counts = h.counts();
  std::int64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t b = 0; b < counts.size(); ++b) {
    cumulative += counts[b];
    std::ostringstream le;
    if (b < LatencyHistogram::kBounds.size()) le << LatencyHistogram::kBounds[b]; else le << "+Inf";
    out << metric << "_bucket{" << labels << sep << "le=\"" << le.str() << "\"} " << cumulative << '\n';
  }
  out << metric << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << h.sum() << '\n';
  out << metric << "_count" << (labels.empty() ? "" : "{" + labels + "}") << ' ' << cumulative << '\n';
}

}  // namespace

std::string Ensemble::metrics_text() const {
  std::ostringstream out;
  out << "# HELP reckon_ensemble_requests_total Requests answered.\n# TYPE reckon_ensemble_requests_total counter\n"
      << "reckon_ensemble_requests_total " << requests_.load() << '\n'
      << "# HELP reckon_ensemble_degraded_requests_total Requests answered without every component.\n"
      << "# TYPE reckon_ensemble_degraded_requests_total counter\nreckon_ensemble_degraded_requests_total "
      << degraded_.load() << '\n'
      << "# HELP reckon_ensemble_request_seconds Request latency.\n# TYPE reckon_ensemble_request_seconds histogram\n";
  write_histogram(out, "reckon_ensemble_request_seconds", "", request_latency_);
  out << "# HELP reckon_component_calls_total Calls of each component by outcome.\n"
      << "# TYPE reckon_component_calls_total counter\n";
  const std::vector<ComponentHealth> health_now = health();
  for (const ComponentHealth& h : health_now) {
    for (std::size_t o = 0; o < kOutcomes; ++o) {
      out << "reckon_component_calls_total{component=\"" << h.name << "\",outcome=\""
          << to_string(static_cast<Outcome>(o)) << "\"} " << h.outcomes[o] << '\n';
    }
  }
  out << "# HELP reckon_component_circuit_open Whether the component's circuit is open (1) or half-open (0.5).\n"
      << "# TYPE reckon_component_circuit_open gauge\n";
  for (const ComponentHealth& h : health_now) {
    const double open = h.circuit == CircuitState::kOpen ? 1.0 : h.circuit == CircuitState::kHalfOpen ? 0.5 : 0.0;
    out << "reckon_component_circuit_open{component=\"" << h.name << "\"} " << open << '\n';
  }
  out << "# HELP reckon_component_seconds Time in each component's score call.\n"
      << "# TYPE reckon_component_seconds histogram\n";
  for (const ComponentHealth& h : health_now) write_histogram(out, "reckon_component_seconds", "component=\"" + h.name + "\"", *h.latency);
  return out.str();
}

}  // namespace reckon::ensemble
