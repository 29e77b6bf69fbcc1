// Session models as the ensemble's components, offline: their catalogues joined into one, and every next-click query
// of a log with each model's top list, scored in batches (the fast path for fitting and evaluating blends; serving
// goes through SessionComponent one request at a time).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reckon/models/ensemble/blend.h"
#include "reckon/models/session/recommender.h"

namespace reckon::ensemble {

// The first model's catalogue (most popular first), then the items of the others it lacks, in their order.
session::Catalog union_catalog(std::span<const session::SessionRecommender* const> models);

// Sessions [first, last) of `log` (last -1: to the end): for each click t >= 1, the clicks before it (as `catalog`
// indices) and the click at t the target (-1 when the catalogue lacks it: always a miss); each model's top `depth`
// over `catalog` (an item a model lacks is never in its list), ties to the lower index.
std::vector<BlendQuery> session_queries(std::span<const session::SessionRecommender* const> models,
                                        const session::Catalog& catalog, const session::ClickLog& log, int depth,
                                        int threads, std::int64_t first = 0, std::int64_t last = -1);

// HR@k and MRR@k of component c's own list: the model alone, every item ranked (depth >= k).
BlendMetrics list_metrics(const std::vector<BlendQuery>& queries, std::size_t c, int k);

}  // namespace reckon::ensemble
