// The neighbourhood baselines: item-kNN (Hidasi et al.'s baseline: items similar to the last click by co-occurrence
// in training sessions) and SKNN / V-SKNN (Ludewig & Jannach 2018: training sessions similar to the current one vote
// for their items), following the papers' definitions.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "reckon/models/session/recommender.h"
#include "reckon/runtime/error.h"

namespace reckon::session {

namespace {

// A session's distinct items, sorted.
std::vector<std::int32_t> distinct(std::span<const std::int32_t> items) {
  std::vector<std::int32_t> out;
  for (const std::int32_t i : items) {
    if (i >= 0) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct Neighbor {
  std::int32_t item;
  float similarity;
};

class ItemKnn final : public SessionRecommender {
 public:
  ItemKnn(const RecommenderOptions& o, TrainingSessions t) : SessionRecommender(o, std::move(t)) { build(); }

  void score(std::span<const std::int32_t> prefix, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    const std::int32_t last = prefix.back();
    if (last < 0) return;  // an unknown item has no neighbours
    for (const Neighbor& n : similar_[static_cast<std::size_t>(last)]) scores[static_cast<std::size_t>(n.item)] = n.similarity;
    if (options().self_similarity) scores[static_cast<std::size_t>(last)] = 1.0f;
  }

 private:
  // sim(a, b) = co(a, b) / (supp(a)^alpha · supp(b)^(1 - alpha) + lambda), co and supp counted in sessions.
  void build() {
    const TrainingSessions& t = training();
    const auto n = static_cast<std::size_t>(t.catalog.size());
    std::vector<std::unordered_map<std::int32_t, std::int32_t>> co(n);
    std::vector<double> support(n, 0.0);
    for (std::int64_t s = 0; s < t.size(); ++s) {
      const std::vector<std::int32_t> items = distinct(t.session(s));
      for (const std::int32_t a : items) {
        support[static_cast<std::size_t>(a)] += 1.0;
        for (const std::int32_t b : items) {
          if (a != b) ++co[static_cast<std::size_t>(a)][b];
        }
      }
    }
    const double alpha = options().knn_alpha, lambda = options().knn_lambda;
    similar_.resize(n);
    for (std::size_t a = 0; a < n; ++a) {
      for (const auto& [b, count] : co[a]) {
        const double denominator = std::pow(support[a], alpha) * std::pow(support[static_cast<std::size_t>(b)], 1.0 - alpha) + lambda;
        similar_[a].push_back({b, static_cast<float>(count / denominator)});
      }
      std::sort(similar_[a].begin(), similar_[a].end(), [](const Neighbor& x, const Neighbor& y) { return x.item < y.item; });
    }
  }

  std::vector<std::vector<Neighbor>> similar_;
};

// SKNN and V-SKNN. The current session is a vector over items: 1 for each item in it (SKNN), or the linear decay
// p / n of its latest position p of n (V-SKNN, so the last click weighs 1); a training session is a binary vector.
// Their similarity is the cosine; the `neighbors` most similar of the `sample` most recent training sessions that
// share an item score each item by the sum of the similarities of the neighbours holding it.
class SessionKnn final : public SessionRecommender {
 public:
  SessionKnn(const RecommenderOptions& o, TrainingSessions t) : SessionRecommender(o, std::move(t)) { build(); }

  void score(std::span<const std::int32_t> prefix, std::span<float> scores) const override {
    std::fill(scores.begin(), scores.end(), 0.0f);
    const std::vector<std::pair<std::int32_t, double>> weights = weigh(prefix);
    if (weights.empty()) return;
    double norm = 0;
    for (const auto& w : weights) norm += w.second * w.second;
    norm = std::sqrt(norm);
    std::vector<std::pair<double, std::int64_t>> neighbors;  // (similarity, session)
    for (const std::int64_t s : candidates(weights)) {
      const auto& items = sets_[static_cast<std::size_t>(s)];
      double overlap = 0;
      for (const auto& [item, w] : weights) overlap += std::binary_search(items.begin(), items.end(), item) ? w : 0.0;
      neighbors.emplace_back(overlap / (norm * std::sqrt(static_cast<double>(items.size()))), s);
    }
    const auto keep = std::min<std::size_t>(neighbors.size(), static_cast<std::size_t>(options().neighbors));
    // The most similar first; equal similarities, the more recent session first.
    std::partial_sort(neighbors.begin(), neighbors.begin() + static_cast<std::ptrdiff_t>(keep), neighbors.end(),
                      [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second > b.second; });
    for (std::size_t k = 0; k < keep; ++k) {
      for (const std::int32_t item : sets_[static_cast<std::size_t>(neighbors[k].second)]) {
        scores[static_cast<std::size_t>(item)] += static_cast<float>(neighbors[k].first);
      }
    }
  }

 private:
  void build() {
    const TrainingSessions& t = training();
    sets_.resize(static_cast<std::size_t>(t.size()));
    sessions_of_.resize(static_cast<std::size_t>(t.catalog.size()));
    // Sessions are in order of their last click: walking them backwards lists each item's most recent first.
    for (std::int64_t s = t.size() - 1; s >= 0; --s) {
      sets_[static_cast<std::size_t>(s)] = distinct(t.session(s));
      for (const std::int32_t item : sets_[static_cast<std::size_t>(s)]) sessions_of_[static_cast<std::size_t>(item)].push_back(s);
    }
  }

  // The session's distinct known items and their weights (V-SKNN: the latest position's decay).
  std::vector<std::pair<std::int32_t, double>> weigh(std::span<const std::int32_t> prefix) const {
    std::unordered_map<std::int32_t, double> weight;
    const double n = static_cast<double>(prefix.size());
    for (std::size_t p = 0; p < prefix.size(); ++p) {
      if (prefix[p] >= 0) weight[prefix[p]] = options().kind == ModelKind::kVsknn ? static_cast<double>(p + 1) / n : 1.0;
    }
    std::vector<std::pair<std::int32_t, double>> out(weight.begin(), weight.end());
    std::sort(out.begin(), out.end());
    return out;
  }

  // The `sample` most recent training sessions holding any of the items. Each is among the `sample` most recent
  // of one of its items' lists, so those lists' heads are enough.
  std::vector<std::int64_t> candidates(const std::vector<std::pair<std::int32_t, double>>& weights) const {
    const auto sample = static_cast<std::size_t>(options().sample);
    std::vector<std::int64_t> out;
    for (const auto& w : weights) {
      const auto& list = sessions_of_[static_cast<std::size_t>(w.first)];
      out.insert(out.end(), list.begin(), list.begin() + static_cast<std::ptrdiff_t>(std::min(sample, list.size())));
    }
    std::sort(out.begin(), out.end(), std::greater<>());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.size() > sample) out.resize(sample);
    return out;
  }

  std::vector<std::vector<std::int32_t>> sets_;          // per training session, its distinct items
  std::vector<std::vector<std::int64_t>> sessions_of_;  // per item, the sessions holding it, most recent first
};

}  // namespace

std::unique_ptr<SessionRecommender> make_knn_recommender(const RecommenderOptions& options, TrainingSessions training) {
  if (options.kind == ModelKind::kItemKnn) return std::make_unique<ItemKnn>(options, std::move(training));
  return std::make_unique<SessionKnn>(options, std::move(training));
}

}  // namespace reckon::session
