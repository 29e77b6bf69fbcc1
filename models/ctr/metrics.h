// Evaluation metrics for click prediction.
#pragma once

#include <span>

namespace reckon::ctr {

// Area under the ROC curve: the probability that a random positive scores above a random negative, ties counting
// one half (average ranks). 0.5 when either class is absent.
double auc(std::span<const float> scores, std::span<const float> labels);
// Mean binary cross-entropy of probabilities, clipped to [1e-7, 1 - 1e-7].
double logloss(std::span<const float> probabilities, std::span<const float> labels);

}  // namespace reckon::ctr
