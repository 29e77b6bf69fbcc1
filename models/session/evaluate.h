// The next-click evaluation of the session-recommendation literature, one for every session model: each test
// session's clicks before position t query the model and the click at t is the target, every catalogue item is
// ranked (full ranking, never sampled), and ties never count in the target's favour.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reckon/models/session/clicks.h"
#include "reckon/models/session/recommender.h"

namespace reckon::session {

struct EvalOptions {
  std::vector<int> ks{1, 5, 10, 20};  // each <= 256 (the top-k kernel's limit)
  bool exclude_seen = false;          // leave the session's own items out of the ranking
  bool last_click_only = false;       // only the last click of each session is a target (SR-GNN's published figures
                                      // are every position: its preprocessing expands sessions into prefixes)
  std::int64_t rare_below = 10;       // a "rare" target has fewer training clicks (and at least one)
  int batch = 256;                    // queries scored at once
  int threads = 0;                    // 0: OpenMP's default
  bool allow_leak = false;            // accept test sessions that begin before training ends
  bool progress = false;              // a progress line on stderr
};

// HR@K (= Recall@K: one target per query), MRR@K and NDCG@K.
struct RankMetrics {
  double hit_rate = 0, mrr = 0, ndcg = 0;
};
struct MetricSet {
  std::int64_t queries = 0;
  std::vector<RankMetrics> at;           // per K of EvalOptions::ks; ties broken by popularity, then id
  std::vector<RankMetrics> pessimistic;  // every tie ranked before the target
};

struct EvalResult {
  std::vector<int> ks;
  MetricSet all;
  std::int64_t unseen_targets = 0;          // targets the catalogue lacks: counted, as misses
  MetricSet rare;                           // targets with at least one and fewer than rare_below training clicks
  MetricSet cold;                           // targets without training clicks (the catalogue lacks them, or a
                                            // content model's catalogue has them without clicks)
  std::vector<std::string> length_buckets;  // the session's length so far: 1, 2, 3, 4, 5-9, 10+
  std::vector<MetricSet> by_length;
  double coverage = 0;         // distinct items in the top-K lists (K the largest) / catalogue size
  double mean_popularity = 0;  // mean of (training clicks / the most clicked item's) over the top-K lists
  double seconds = 0, queries_per_second = 0;
};

// Rank of the target among scores (1 = first): the items scoring higher, plus the items scoring the same that come
// before it in catalogue order (more popular, then lower id) or, pessimistically, all of those. A target scoring
// -inf or NaN (excluded, or a broken model) is never ranked (returns 0).
struct Rank {
  std::int64_t rank = 0, pessimistic = 0;
};
Rank rank_of(const float* scores, std::int64_t items, std::int32_t target);

EvalResult evaluate(const SessionRecommender& model, const ClickLog& test, const EvalOptions& options);

}  // namespace reckon::session
