#include "reckon/models/ctr/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "reckon/runtime/error.h"

namespace reckon::ctr {

double auc(std::span<const float> scores, std::span<const float> labels) {
  RECKON_CHECK_ARG(scores.size() == labels.size(), "auc: ", scores.size(), " scores but ", labels.size(), " labels");
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0, positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i) + static_cast<double>(j) + 1.0) / 2.0;  // 1-based
    for (std::size_t k = i; k < j; ++k) {
      if (labels[order[k]] > 0.5f) {
        positive_rank_sum += average_rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double logloss(std::span<const float> probabilities, std::span<const float> labels) {
  RECKON_CHECK_ARG(probabilities.size() == labels.size(), "logloss: size mismatch");
  if (probabilities.empty()) return 0.0;
  double sum = 0;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probabilities[i]), 1e-7, 1 - 1e-7);
    sum -= labels[i] > 0.5f ? std::log(p) : std::log(1 - p);
  }
  return sum / static_cast<double>(probabilities.size());
}

}  // namespace reckon::ctr
