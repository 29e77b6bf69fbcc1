#include "reckon/models/ensemble/component.h"

#include <cmath>
#include <limits>

#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::ensemble {

SessionComponent::SessionComponent(std::string name, std::shared_ptr<const session::SessionRecommender> model,
                                   const session::Catalog& catalog)
    : name_(std::move(name)), model_(std::move(model)) {
  RECKON_CHECK_ARG(model_ != nullptr, "a session component needs a model");
  const session::Catalog& own = model_->training().catalog;
  to_model_.resize(static_cast<std::size_t>(catalog.size()));
  for (std::int32_t i = 0; i < catalog.size(); ++i) to_model_[static_cast<std::size_t>(i)] = own.lookup(catalog.names[static_cast<std::size_t>(i)]);
}

void SessionComponent::score(const Query& query, std::span<float> scores) {
  const std::span<const std::int32_t> session = query.session;
  RECKON_CHECK_ARG(scores.size() == to_model_.size(), name_, ": ", scores.size(), " scores for a catalogue of ", to_model_.size());
  RECKON_CHECK_ARG(!session.empty(), name_, ": an empty session");
  std::vector<std::int32_t> prefix;
  for (const std::int32_t item : session) {
    const bool known = item >= 0 && static_cast<std::size_t>(item) < to_model_.size();
    prefix.push_back(known ? to_model_[static_cast<std::size_t>(item)] : -1);
  }
  std::vector<float> own(static_cast<std::size_t>(model_->training().catalog.size()));
  model_->score(prefix, own);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const std::int32_t m = to_model_[i];
    scores[i] = m < 0 ? -std::numeric_limits<float>::infinity() : own[static_cast<std::size_t>(m)];
  }
}

const char* to_string(FaultKind kind) noexcept {
  switch (kind) {
    case FaultKind::kThrow: return "throw";
    case FaultKind::kHang: return "hang";
    case FaultKind::kNan: return "nan";
    case FaultKind::kOom: return "oom";
  }
  return "?";
}

FaultSpec parse_fault(const std::string& text) {
  const std::size_t a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
  RECKON_CHECK_ARG(b != std::string::npos && a > 0, "a fault is component:kind:rate, got '", text, "'");
  FaultSpec f;
  f.component = text.substr(0, a);
  const std::string kind = text.substr(a + 1, b - a - 1), rate = text.substr(b + 1);
  bool known = false;
  for (const FaultKind k : {FaultKind::kThrow, FaultKind::kHang, FaultKind::kNan, FaultKind::kOom}) {
    if (kind == to_string(k)) f.kind = k, known = true;
  }
  RECKON_CHECK_ARG(known, "fault '", text, "': the kind is one of throw, hang, nan, oom");
  std::size_t used = 0;
  try {
    f.rate = std::stod(rate, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  RECKON_CHECK_ARG(used == rate.size() && used > 0 && f.rate >= 0 && f.rate <= 1, "fault '", text, "': the rate is a number in [0, 1]");
  return f;
}

void HangRelease::wait(std::chrono::milliseconds for_at_most) {
  std::unique_lock lock(mutex_);
  released_.wait_for(lock, for_at_most, [this] { return done_; });
}

void HangRelease::release() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  released_.notify_all();
}

FaultyComponent::FaultyComponent(std::unique_ptr<Component> inner, std::vector<FaultSpec> faults, std::uint64_t seed,
                                 std::shared_ptr<HangRelease> release, std::chrono::milliseconds hang_for)
    : inner_(std::move(inner)), faults_(std::move(faults)), seed_(seed), release_(std::move(release)), hang_for_(hang_for) {
  RECKON_CHECK_ARG(inner_ != nullptr && release_ != nullptr, "a faulty component needs a component and a hang release");
}

void FaultyComponent::score(const Query& query, std::span<float> scores) {
  // One uniform per call and fault, from the call's own counter: the same calls fail whatever the threads do.
  const std::uint64_t call = calls_.fetch_add(1);
  PhiloxStream draws(seed_, call);
  for (const FaultSpec& f : faults_) {
    if (draws.next_uniform() >= f.rate) continue;
    switch (f.kind) {
      case FaultKind::kThrow:
        RECKON_THROW(StatusCode::kUnavailable, name(), ": injected failure (call ", call, ")");
      case FaultKind::kHang:
        release_->wait(hang_for_);
        break;
      case FaultKind::kOom:  // as a device allocation reports it
        RECKON_THROW(StatusCode::kOutOfMemory, name(), ": injected out-of-memory (call ", call, ")");
      case FaultKind::kNan:
        inner_->score(query, scores);
        scores[scores.size() / 2] = std::nanf("");
        return;
    }
  }
  inner_->score(query, scores);
}

}  // namespace reckon::ensemble
