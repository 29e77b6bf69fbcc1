#include "reckon/models/session/conversion.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "reckon/runtime/error.h"

namespace reckon::session {

double roc_auc(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  RECKON_CHECK_ARG(scores.size() == labels.size(), "roc_auc: ", scores.size(), " scores for ", labels.size(), " labels");
  for (const float s : scores) {
    if (std::isnan(s)) RECKON_THROW(StatusCode::kNumericError, "roc_auc: a score is NaN");
  }
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney: the positives' ranks (ties share their mean rank) less the smallest possible sum.
  double positive_rank_sum = 0;
  std::int64_t positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (std::size_t k = i; k < j; ++k) {
      if (labels[order[k]] != 0) {
        positive_rank_sum += mean_rank;
        ++positives;
      }
    }
    i = j;
  }
  const auto negatives = static_cast<std::int64_t>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

ConversionResult evaluate_conversion(const ConversionModel& model, const Catalog& catalog, const ClickLog& test) {
  const std::vector<std::int64_t> last = last_conversions(test);
  if (std::none_of(last.begin(), last.end(), [](std::int64_t p) { return p >= 0; })) {
    RECKON_THROW(StatusCode::kDataError, "the test sessions have no cart or buy events: nothing to predict");
  }
  const IndexedSessions indexed = index_sessions(test, catalog);
  std::vector<std::span<const std::int32_t>> prefixes;
  std::vector<std::uint8_t> labels;
  for (std::int64_t s = 0; s < test.sessions(); ++s) {
    const std::int32_t* first = indexed.items.data() + indexed.offsets[static_cast<std::size_t>(s)];
    for (std::int64_t t = 1; t < test.length(s); ++t) {
      prefixes.emplace_back(first, static_cast<std::size_t>(t));
      labels.push_back(t <= last[static_cast<std::size_t>(s)] ? 1 : 0);
    }
  }
  std::vector<float> p(prefixes.size());
  constexpr std::size_t kBatch = 256;
  for (std::size_t at = 0; at < prefixes.size(); at += kBatch) {
    const std::size_t count = std::min(kBatch, prefixes.size() - at);
    model(std::span(prefixes).subspan(at, count), p.data() + at);
  }
  ConversionResult r;
  r.queries = static_cast<std::int64_t>(labels.size());
  for (const float q : p) {
    if (!(q >= 0 && q <= 1)) RECKON_THROW(StatusCode::kNumericError, "the add-to-cart model gave a probability outside [0, 1]: ", q);
  }
  r.auc = roc_auc(p, labels);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double q = std::clamp(static_cast<double>(p[i]), 1e-7, 1 - 1e-7);
    r.positives += labels[i];
    r.log_loss -= labels[i] != 0 ? std::log(q) : std::log1p(-q);
  }
  r.log_loss /= std::max<double>(1, static_cast<double>(r.queries));
  return r;
}

LastClickConversion::LastClickConversion(const TrainingSessions& training, double prior_weight) {
  RECKON_CHECK_ARG(prior_weight > 0, "the prior weight must be positive, got ", prior_weight);
  const auto n = static_cast<std::size_t>(training.catalog.size());
  std::vector<double> queries(n, 0), converting(n, 0);
  double total = 0, total_converting = 0;
  for (std::int64_t s = 0; s < training.size(); ++s) {
    const auto session = training.session(s);
    for (std::size_t t = 1; t < session.size(); ++t) {
      const double label = training.converts_from(s, static_cast<std::int64_t>(t)) ? 1 : 0;
      queries[static_cast<std::size_t>(session[t - 1])] += 1;
      converting[static_cast<std::size_t>(session[t - 1])] += label;
      total += 1;
      total_converting += label;
    }
  }
  overall_ = total > 0 ? total_converting / total : 0;
  rate_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    rate_[i] = queries[i] > 0 ? static_cast<float>((converting[i] + prior_weight * overall_) / (queries[i] + prior_weight))
                              : -1.0f;
  }
}

void LastClickConversion::probabilities(std::span<const std::span<const std::int32_t>> prefixes, float* out) const {
  for (std::size_t q = 0; q < prefixes.size(); ++q) {
    out[q] = static_cast<float>(overall_);
    for (auto it = prefixes[q].rbegin(); it != prefixes[q].rend(); ++it) {
      if (*it >= 0 && static_cast<std::size_t>(*it) < rate_.size() && rate_[static_cast<std::size_t>(*it)] >= 0) {
        out[q] = rate_[static_cast<std::size_t>(*it)];
        break;
      }
    }
  }
}

}  // namespace reckon::session
