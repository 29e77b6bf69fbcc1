// The add-to-cart task: each test query (a session's clicks before position t, t >= 1, the next-click evaluator's
// queries) is labelled by whether the session has a cart or buy event at t or later; a model gives each query a
// probability, scored by the area under the ROC curve and the log loss. The baseline a user would otherwise pick:
// the last click's item's training rate.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "reckon/models/session/clicks.h"
#include "reckon/models/session/recommender.h"

namespace reckon::session {

// Probabilities for a batch of prefixes (catalogue indices, -1 unknown), as the models' score_batch reads them.
using ConversionModel = std::function<void(std::span<const std::span<const std::int32_t>> prefixes, float* out)>;

struct ConversionResult {
  std::int64_t queries = 0, positives = 0;
  double auc = 0.5;      // ties count half
  double log_loss = 0;   // mean, probabilities clipped to [1e-7, 1 - 1e-7]
};

// Area under the ROC curve of `scores` for binary `labels` (ties count half); 0.5 when one class is absent.
double roc_auc(std::span<const float> scores, std::span<const std::uint8_t> labels);

// Every query of the test log (its items looked up in `catalog`) through the model, 256 at a time. kDataError when
// the test log has no cart or buy events.
ConversionResult evaluate_conversion(const ConversionModel& model, const Catalog& catalog, const ClickLog& test);

// The baseline: a query's probability is the training rate of converting queries among those whose last known
// click was the same item, shrunk towards the overall rate with `prior_weight` pseudo-queries. Clicks on items that
// never ended a training query are passed over for the click before; a query with none left gets the overall rate.
class LastClickConversion {
 public:
  explicit LastClickConversion(const TrainingSessions& training, double prior_weight = 10);
  void probabilities(std::span<const std::span<const std::int32_t>> prefixes, float* out) const;
  double overall_rate() const { return overall_; }

 private:
  std::vector<float> rate_;
  double overall_ = 0;
};

}  // namespace reckon::session
