#include "reckon/models/ensemble/blend.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "reckon/runtime/error.h"

namespace reckon::ensemble {

const char* to_string(BlendMethod method) noexcept {
  return method == BlendMethod::kRankFusion ? "rank_fusion" : "stacking";
}

namespace {

constexpr double kFusionOffset = 60;  // reciprocal rank fusion's constant (Cormack et al., 2009)

// The first rank of bucket b.
int bucket_start(int b) {
  static constexpr int kStarts[] = {1, 2, 3, 4, 5, 7, 10, 15, 25, 50, 100};
  constexpr int n = static_cast<int>(std::size(kStarts));
  return b < n ? kStarts[b] : 100 << (b - n + 1);
}

bool better(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

}  // namespace

int rank_bucket(int rank) {
  int b = 0;
  while (bucket_start(b + 1) <= rank) ++b;
  return b;
}

Blend Blend::equal(std::size_t components, int depth) {
  Blend b;
  b.depth = depth;
  b.weights.assign(components, 1.0);
  return b;
}

std::vector<ScoredItem> Blend::combine(std::span<const TopList* const> lists, int k) const {
  RECKON_CHECK_ARG(lists.size() == weights.size(), "the blend has ", weights.size(), " components, got ", lists.size(), " lists");
  RECKON_CHECK_ARG(method == BlendMethod::kRankFusion || gain.size() == weights.size(), "a stacking blend needs each component's gains");
  double all = 0, answered = 0;
  std::vector<std::pair<std::int32_t, double>> parts;
  for (std::size_t c = 0; c < lists.size(); ++c) {
    all += weights[c];
    if (lists[c] == nullptr) continue;
    answered += weights[c];
    const int n = std::min(depth, static_cast<int>(lists[c]->size()));
    for (int r = 1; r <= n; ++r) {
      const double g = method == BlendMethod::kRankFusion
                           ? 1.0 / (kFusionOffset + r)
                           : gain[c][static_cast<std::size_t>(std::min<int>(rank_bucket(r), static_cast<int>(gain[c].size()) - 1))];
      parts.emplace_back((*lists[c])[static_cast<std::size_t>(r - 1)].item, weights[c] * g);
    }
  }
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const double scale = answered > 0 ? all / answered : 0.0;
  std::vector<ScoredItem> out;
  for (std::size_t i = 0; i < parts.size();) {
    double sum = 0;
    std::size_t j = i;
    for (; j < parts.size() && parts[j].first == parts[i].first; ++j) sum += parts[j].second;
    out.push_back({parts[i].first, static_cast<float>(sum * scale)});
    i = j;
  }
  const auto keep = std::min(out.size(), static_cast<std::size_t>(std::max(k, 0)));
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), better);
  out.resize(keep);
  return out;
}

TopList top_of(std::span<const float> scores, int depth) {
  TopList all;
  all.reserve(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (std::isfinite(scores[i]) || scores[i] == INFINITY) all.push_back({static_cast<std::int32_t>(i), scores[i]});
  }
  const auto keep = std::min(all.size(), static_cast<std::size_t>(std::max(depth, 0)));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), better);
  all.resize(keep);
  return all;
}

BlendMetrics evaluate_blend(const Blend& blend, const std::vector<BlendQuery>& queries, int k,
                            const std::vector<bool>& knocked_out) {
  BlendMetrics m;
  std::vector<const TopList*> lists;
  for (const BlendQuery& q : queries) {
    lists.clear();
    for (std::size_t c = 0; c < q.lists.size(); ++c) lists.push_back(c < knocked_out.size() && knocked_out[c] ? nullptr : &q.lists[c]);
    add_hit(blend.combine(lists, k), q.target, k, m);
  }
  return mean_over(m, queries.size());
}

void add_hit(std::span<const ScoredItem> ranked, std::int32_t target, int k, BlendMetrics& m) {
  const std::size_t n = std::min(ranked.size(), static_cast<std::size_t>(std::max(k, 0)));
  for (std::size_t r = 0; r < n; ++r) {
    if (ranked[r].item != target) continue;
    m.hit_rate += 1;
    m.mrr += 1.0 / static_cast<double>(r + 1);
    return;
  }
}

BlendMetrics mean_over(BlendMetrics sums, std::size_t queries) {
  const double n = std::max<double>(1, static_cast<double>(queries));
  return {sums.hit_rate / n, sums.mrr / n};
}

}  // namespace reckon::ensemble
