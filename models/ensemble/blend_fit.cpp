// Learning the blend (blend.h) on validation queries: both methods over one precomputed table of candidates.
#include <algorithm>
#include <cmath>
#include <functional>

#include "reckon/models/ensemble/blend.h"
#include "reckon/runtime/error.h"

namespace reckon::ensemble {
namespace {

// The validation queries as rank tables over the union of their lists.
struct Candidates {
  std::size_t components = 0;
  std::vector<std::int64_t> offsets{0};  // per query, its rows
  std::vector<std::int32_t> items;       // per row
  std::vector<std::int32_t> ranks;       // [rows, components]; 0: not listed
  std::vector<std::int64_t> target_row;  // per query; -1: in no list
};

Candidates gather(const std::vector<BlendQuery>& queries, std::size_t C, int depth) {
  Candidates t;
  t.components = C;
  std::vector<std::pair<std::int32_t, std::pair<std::size_t, int>>> listed;  // item, (component, rank)
  for (const BlendQuery& q : queries) {
    RECKON_CHECK_ARG(q.lists.size() == C, "a validation query has ", q.lists.size(), " lists for ", C, " components");
    listed.clear();
    for (std::size_t c = 0; c < C; ++c) {
      const int n = std::min(depth, static_cast<int>(q.lists[c].size()));
      for (int r = 1; r <= n; ++r) listed.push_back({q.lists[c][static_cast<std::size_t>(r - 1)].item, {c, r}});
    }
    std::sort(listed.begin(), listed.end());
    std::int64_t target = -1;
    for (std::size_t i = 0; i < listed.size(); ++i) {
      if (i == 0 || listed[i].first != listed[i - 1].first) {
        if (listed[i].first == q.target) target = static_cast<std::int64_t>(t.items.size());
        t.items.push_back(listed[i].first);
        t.ranks.resize(t.ranks.size() + C, 0);
      }
      t.ranks[t.ranks.size() - C + listed[i].second.first] = listed[i].second.second;
    }
    t.target_row.push_back(target < 0 ? -1 : target);
    t.offsets.push_back(static_cast<std::int64_t>(t.items.size()));
  }
  return t;
}

// x[row · C + c] = g(c, rank), 0 where c does not list the row's item.
std::vector<double> features(const Candidates& t, const std::function<double(std::size_t, int)>& g) {
  std::vector<double> x(t.ranks.size(), 0.0);
  for (std::size_t i = 0; i < t.ranks.size(); ++i) {
    if (t.ranks[i] > 0) x[i] = g(i % t.components, t.ranks[i]);
  }
  return x;
}

double score_of(const std::vector<double>& x, const std::vector<double>& w, std::int64_t row) {
  double s = 0;
  for (std::size_t c = 0; c < w.size(); ++c) s += w[c] * x[static_cast<std::size_t>(row) * w.size() + c];
  return s;
}

// HR@k and MRR@k with weights w, ties to the lower item (as Blend::combine).
BlendMetrics table_metrics(const Candidates& t, const std::vector<double>& x, const std::vector<double>& w, int k) {
  BlendMetrics m;
  const std::size_t Q = t.target_row.size();
  for (std::size_t q = 0; q < Q; ++q) {
    const std::int64_t target = t.target_row[q];
    if (target < 0) continue;
    const double st = score_of(x, w, target);
    std::int64_t ahead = 0;
    for (std::int64_t row = t.offsets[q]; row < t.offsets[q + 1] && ahead < k; ++row) {
      const double s = score_of(x, w, row);
      ahead += s > st || (s == st && t.items[static_cast<std::size_t>(row)] < t.items[static_cast<std::size_t>(target)]);
    }
    if (ahead < k) m.hit_rate += 1, m.mrr += 1.0 / static_cast<double>(ahead + 1);
  }
  m.hit_rate /= std::max<double>(1, static_cast<double>(Q));
  m.mrr /= std::max<double>(1, static_cast<double>(Q));
  return m;
}

double objective(const BlendMetrics& m) { return m.hit_rate + m.mrr; }

// What a blend's weights are chosen for: HR@k + MRR@k with every component answering, plus its mean with each one
// knocked out in turn, since the ensemble serves on when a component fails (a blend leaning on one component alone
// falls below the rest when that one fails).
double robust_objective(const Candidates& t, const std::vector<double>& x, const std::vector<double>& w, int k) {
  double knocked = 0;
  for (std::size_t c = 0; c < w.size() && w.size() > 1; ++c) {
    std::vector<double> without = w;
    without[c] = 0;
    knocked += objective(table_metrics(t, x, without, k));
  }
  return objective(table_metrics(t, x, w, k)) + (w.size() > 1 ? knocked / static_cast<double>(w.size()) : 0.0);
}

// Rank fusion's weights: coordinate search over a grid, three passes, from equal weights.
std::vector<double> fit_fusion(const Candidates& t, const std::vector<double>& x, int k) {
  std::vector<double> w(t.components, 1.0);
  double best = robust_objective(t, x, w, k);
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t c = 0; c < w.size(); ++c) {
      for (const double v : {0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0}) {
        std::vector<double> trial = w;
        trial[c] = v;
        const double got = robust_objective(t, x, trial, k);
        if (got > best) best = got, w = trial;
      }
    }
  }
  return w;
}

// Stacking's calibration: per component, log p(rank bucket) - log p(absent), each per item.
std::vector<std::vector<double>> calibrate(const Candidates& t, int depth, std::int64_t catalog_size) {
  const std::size_t C = t.components, Q = t.target_row.size();
  const int buckets = rank_bucket(depth) + 1;
  std::vector<std::vector<double>> gain(C, std::vector<double>(static_cast<std::size_t>(buckets)));
  for (std::size_t c = 0; c < C; ++c) {
    std::vector<double> hits(static_cast<std::size_t>(buckets), 0.0);
    double absent = 0;
    for (std::size_t q = 0; q < Q; ++q) {
      const std::int64_t row = t.target_row[q];
      const int r = row < 0 ? 0 : t.ranks[static_cast<std::size_t>(row) * C + c];
      if (r > 0) hits[static_cast<std::size_t>(rank_bucket(r))] += 1;
      else absent += 1;
    }
    const double unlisted = std::max<double>(1, static_cast<double>(catalog_size - depth));
    const double p_absent = (absent + 0.5) / (static_cast<double>(Q) * unlisted);
    for (int b = 0; b < buckets; ++b) {
      int lo = 1;  // the bucket's ranks within the depth: [lo, hi]
      while (rank_bucket(lo) < b) ++lo;
      int hi = lo;
      while (hi < depth && rank_bucket(hi + 1) == b) ++hi;
      const double width = static_cast<double>(hi - lo + 1);
      gain[c][static_cast<std::size_t>(b)] = std::log((hits[static_cast<std::size_t>(b)] + 0.5) / (static_cast<double>(Q) * width)) - std::log(p_absent);
    }
  }
  return gain;
}

// Mean log-likelihood of the targets under softmax(w · x) over each query's candidates, and its gradient.
double likelihood(const Candidates& t, const std::vector<double>& x, const std::vector<double>& w, std::vector<double>& grad) {
  const std::size_t C = t.components;
  std::fill(grad.begin(), grad.end(), 0.0);
  double total = 0;
  std::int64_t used = 0;
  for (std::size_t q = 0; q < t.target_row.size(); ++q) {
    const std::int64_t target = t.target_row[q];
    if (target < 0) continue;
    double top = -INFINITY;
    for (std::int64_t row = t.offsets[q]; row < t.offsets[q + 1]; ++row) top = std::max(top, score_of(x, w, row));
    double z = 0;
    std::vector<double> expected(C, 0.0);
    for (std::int64_t row = t.offsets[q]; row < t.offsets[q + 1]; ++row) {
      const double e = std::exp(score_of(x, w, row) - top);
      z += e;
      for (std::size_t c = 0; c < C; ++c) expected[c] += e * x[static_cast<std::size_t>(row) * C + c];
    }
    total += score_of(x, w, target) - top - std::log(z);
    for (std::size_t c = 0; c < C; ++c) grad[c] += x[static_cast<std::size_t>(target) * C + c] - expected[c] / z;
    ++used;
  }
  const double n = std::max<double>(1, static_cast<double>(used));
  for (double& g : grad) g /= n;
  return total / n;
}

// Stacking's weights: projected gradient ascent (w >= 0) on the likelihood, the step grown on success, halved on
// failure.
std::vector<double> fit_stacking(const Candidates& t, const std::vector<double>& x) {
  std::vector<double> w(t.components, 1.0), grad(t.components), trial_grad(t.components);
  double current = likelihood(t, x, w, grad), step = 1.0;
  for (int iteration = 0; iteration < 100 && step > 1e-6; ++iteration) {
    std::vector<double> trial = w;
    for (std::size_t c = 0; c < w.size(); ++c) trial[c] = std::max(0.0, w[c] + step * grad[c]);
    const double got = likelihood(t, x, trial, trial_grad);
    if (got > current) {
      w = trial, grad = trial_grad, current = got, step *= 1.5;
    } else {
      step *= 0.5;
    }
  }
  return w;
}

}  // namespace

Blend fit_blend(const std::vector<BlendQuery>& queries, std::size_t components, int depth, int k,
                std::int64_t catalog_size, BlendFitReport* report) {
  RECKON_CHECK_ARG(!queries.empty() && components > 0 && depth > 0 && k > 0, "fitting a blend needs validation queries, components, depth and k");
  const Candidates table = gather(queries, components, depth);
  Blend fusion = Blend::equal(components, depth);
  const std::vector<double> fx = features(table, [](std::size_t, int r) { return 1.0 / (60.0 + r); });
  fusion.weights = fit_fusion(table, fx, k);
  Blend stacking = Blend::equal(components, depth);
  stacking.method = BlendMethod::kStacking;
  stacking.gain = calibrate(table, depth, catalog_size);
  const std::vector<double> sx = features(table, [&](std::size_t c, int r) { return stacking.gain[c][static_cast<std::size_t>(rank_bucket(r))]; });
  stacking.weights = fit_stacking(table, sx);
  const BlendMetrics f = table_metrics(table, fx, fusion.weights, k), s = table_metrics(table, sx, stacking.weights, k);
  if (report != nullptr) report->rank_fusion = f, report->stacking = s;
  return robust_objective(table, sx, stacking.weights, k) > robust_objective(table, fx, fusion.weights, k) ? stacking : fusion;
}

}  // namespace reckon::ensemble
