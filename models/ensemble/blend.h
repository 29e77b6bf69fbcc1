// Blending the components' top lists into one ranking, and learning how on validation queries.
//
// Each component that answered gives its top `depth` items. The blend ranks the union of those lists by
//   score(i) = sum over the components c that list i of  w_c · g_c(rank of i in c's list)
// with one of two g's, both learned on a validation split and the better kept: the one with the higher HR@K + MRR@K
// with every component, plus the mean of that with each component knocked out in turn (the ensemble must serve on
// when one fails, so a blend that leans on one component alone is not what it wants):
//   rank fusion  g(r) = 1 / (60 + r) (reciprocal rank fusion), the weights by coordinate search on the metric;
//   stacking     g_c(r) = log p_c(r) - log p_c(absent): each component calibrated, p_c(r) the validation targets'
//                share at rank r of c's lists (in log-spaced rank buckets, smoothed) per item, p_c(absent) that of
//                an item c does not list; the weights by multinomial logistic regression, the target against the
//                union of the lists.
// Ties go to the lower catalogue index (the catalogues are most-popular first). When components did not answer the
// sum runs over those that did, scaled by (sum of all weights) / (sum of the answering ones), so scores stay on one
// scale.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reckon/models/ensemble/component.h"

namespace reckon::ensemble {

using TopList = std::vector<ScoredItem>;  // best first

enum class BlendMethod : std::uint8_t { kRankFusion, kStacking };
const char* to_string(BlendMethod method) noexcept;

struct Blend {
  BlendMethod method = BlendMethod::kRankFusion;
  int depth = 100;              // items taken from each component
  std::vector<double> weights;  // per component
  // Stacking: per component, g_c at each rank bucket (rank_bucket()).
  std::vector<std::vector<double>> gain;

  // The top k of the union of the lists given (nullptr: that component did not answer), the blend's scores.
  std::vector<ScoredItem> combine(std::span<const TopList* const> lists, int k) const;
  // Equal weights, rank fusion: the blend before any validation.
  static Blend equal(std::size_t components, int depth);
};

// Rank r (1-based) to its bucket: 1, 2, 3, 4, 5-6, 7-9, 10-14, 15-24, 25-49, 50-99, 100-199, ...
int rank_bucket(int rank);

// The top `depth` of full-catalogue scores (ties: the lower index), -inf and NaN left out.
TopList top_of(std::span<const float> scores, int depth);

// A validation query: each component's list and the clicked item.
struct BlendQuery {
  std::vector<TopList> lists;
  std::int32_t target = -1;
};

struct BlendMetrics {
  double hit_rate = 0, mrr = 0;  // at k
};
// Counts the target's hit and reciprocal rank if it is within the first k of `ranked` (add_hit), then the means
// over `queries` (mean_over).
void add_hit(std::span<const ScoredItem> ranked, std::int32_t target, int k, BlendMetrics& m);
BlendMetrics mean_over(BlendMetrics sums, std::size_t queries);

// HR@k and MRR@k of the blend over the queries, with the components in `knocked_out` not answering.
BlendMetrics evaluate_blend(const Blend& blend, const std::vector<BlendQuery>& queries, int k,
                            const std::vector<bool>& knocked_out = {});

struct BlendFitReport {
  BlendMetrics rank_fusion, stacking;  // on the validation queries
};
// Both blends fitted on the queries (items of a catalogue of `catalog_size`); the better (HR@k + MRR@k) returned.
Blend fit_blend(const std::vector<BlendQuery>& queries, std::size_t components, int depth, int k,
                std::int64_t catalog_size, BlendFitReport* report = nullptr);

}  // namespace reckon::ensemble
