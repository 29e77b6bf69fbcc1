#include "reckon/models/session/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "reckon/kernels/topk/topk.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::session {

Rank rank_of(const float* scores, std::int64_t items, std::int32_t target) {
  const float mine = scores[target];
  if (!(mine > -std::numeric_limits<float>::infinity())) return {};
  std::int64_t higher = 0, tied_before = 0, tied_after = 0;
  for (std::int64_t i = 0; i < items; ++i) {
    higher += scores[i] > mine ? 1 : 0;
    const bool tied = scores[i] == mine;
    tied_before += tied && i < target ? 1 : 0;
    tied_after += tied && i > target ? 1 : 0;
  }
  return {higher + tied_before + 1, higher + tied_before + tied_after + 1};
}

namespace {

// One query: the test session's clicks [first, first + length) and the target at first + length.
struct Query {
  std::int64_t first, length;
  std::int32_t target;
};

std::vector<Query> queries_of(const IndexedSessions& test, bool last_click_only) {
  std::vector<Query> out;
  for (std::int64_t s = 0; s < test.size(); ++s) {
    const std::int64_t begin = test.offsets[static_cast<std::size_t>(s)], end = test.offsets[static_cast<std::size_t>(s) + 1];
    for (std::int64_t t = last_click_only ? end - 1 : begin + 1; t < end; ++t) {
      if (t > begin) out.push_back({begin, t - begin, test.items[static_cast<std::size_t>(t)]});
    }
  }
  return out;
}

std::size_t bucket_of(std::int64_t length) {
  return length <= 4 ? static_cast<std::size_t>(length - 1) : length < 10 ? 4 : 5;
}

void add(MetricSet& m, const std::vector<int>& ks, const Rank& r) {
  if (m.at.empty()) m.at.resize(ks.size()), m.pessimistic.resize(ks.size());
  ++m.queries;
  const auto credit = [](RankMetrics& x, std::int64_t rank, int k) {
    if (rank < 1 || rank > k) return;
    x.hit_rate += 1;
    x.mrr += 1.0 / static_cast<double>(rank);
    x.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 1.0);
  };
  for (std::size_t i = 0; i < ks.size(); ++i) {
    credit(m.at[i], r.rank, ks[i]);
    credit(m.pessimistic[i], r.pessimistic, ks[i]);
  }
}

void normalise(MetricSet& m) {
  const double n = m.queries == 0 ? 1.0 : static_cast<double>(m.queries);
  for (auto* list : {&m.at, &m.pessimistic}) {
    for (RankMetrics& x : *list) x.hit_rate /= n, x.mrr /= n, x.ndcg /= n;
  }
}

// Scores, ranks and top-K lists of one batch of queries.
struct BatchOutput {
  std::vector<float> scores;
  std::vector<Rank> ranks;
  std::vector<std::int32_t> top;
  std::vector<float> top_scores;
};

void run_batch(Context& ctx, const SessionRecommender& model, const IndexedSessions& test, const Query* queries,
               std::int64_t count, int k, bool exclude_seen, BatchOutput& out) {
  const std::int64_t n = model.training().catalog.size();
  out.scores.resize(static_cast<std::size_t>(count * n));
  out.ranks.assign(static_cast<std::size_t>(count), Rank{});
  std::vector<std::span<const std::int32_t>> prefixes;
  for (std::int64_t q = 0; q < count; ++q) {
    prefixes.emplace_back(test.items.data() + queries[q].first, static_cast<std::size_t>(queries[q].length));
  }
  model.score_batch(prefixes, out.scores.data(), ctx.cpu_threads());
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t q = 0; q < count; ++q) {
    float* row = out.scores.data() + q * n;
    if (exclude_seen) {
      for (const std::int32_t item : prefixes[static_cast<std::size_t>(q)]) {
        if (item >= 0) row[item] = -std::numeric_limits<float>::infinity();
      }
    }
    if (queries[q].target >= 0) out.ranks[static_cast<std::size_t>(q)] = rank_of(row, n, queries[q].target);
  }
  out.top.resize(static_cast<std::size_t>(count * k));
  out.top_scores.resize(out.top.size());
  topk_rows(ctx, TensorView::contiguous(out.scores.data(), DType::kF32, Device::cpu(), {count, n}), k,
            TensorView::contiguous(out.top.data(), DType::kI32, Device::cpu(), {count, k}),
            TensorView::contiguous(out.top_scores.data(), DType::kF32, Device::cpu(), {count, k}));
}

void check_options(const EvalOptions& o) {
  RECKON_CHECK_ARG(!o.ks.empty(), "at least one K is needed");
  for (const int k : o.ks) RECKON_CHECK_ARG(k >= 1 && k <= kTopkMaxK, "K must be in [1, ", kTopkMaxK, "], got ", k);
  RECKON_CHECK_ARG(o.batch >= 1 && o.rare_below >= 0, "the batch must be positive and rare_below >= 0");
}

}  // namespace

EvalResult evaluate(const SessionRecommender& model, const ClickLog& test, const EvalOptions& o) {
  check_options(o);
  const TrainingSessions& training = model.training();
  if (!o.allow_leak) {
    std::int64_t leaks = 0;
    for (std::int64_t s = 0; s < test.sessions(); ++s) leaks += test.start_time(s) < training.end_time ? 1 : 0;
    if (leaks > 0) {
      RECKON_THROW(StatusCode::kDataError, leaks, " of ", test.sessions(),
                   " test sessions begin before the training data ends; split by time without overlap (reckon "
                   "session prepare), or allow it explicitly (--allow-leak)");
    }
  }
  const IndexedSessions indexed = index_sessions(test, training.catalog);
  const std::vector<Query> queries = queries_of(indexed, o.last_click_only);
  EvalResult r;
  r.ks = o.ks;
  r.length_buckets = {"1", "2", "3", "4", "5-9", "10+"};
  r.by_length.resize(r.length_buckets.size());
  const int k_max = *std::max_element(o.ks.begin(), o.ks.end());
  const std::int64_t n = training.catalog.size();
  const double top_count = static_cast<double>(training.catalog.counts.front());
  std::vector<char> recommended(static_cast<std::size_t>(n), 0);
  double popularity = 0;
  std::int64_t listed = 0;
  Context ctx(Device::cpu());
  if (o.threads > 0) ctx.set_cpu_threads(o.threads);
  BatchOutput out;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t b = 0; b < queries.size(); b += static_cast<std::size_t>(o.batch)) {
    const auto count = static_cast<std::int64_t>(std::min<std::size_t>(static_cast<std::size_t>(o.batch), queries.size() - b));
    run_batch(ctx, model, indexed, queries.data() + b, count, std::min<int>(k_max, static_cast<int>(n)), o.exclude_seen, out);
    for (std::int64_t q = 0; q < count; ++q) {
      const Query& query = queries[b + static_cast<std::size_t>(q)];
      const Rank rank = out.ranks[static_cast<std::size_t>(q)];
      add(r.all, o.ks, rank);
      add(r.by_length[bucket_of(query.length)], o.ks, rank);
      if (query.target < 0) ++r.unseen_targets;
      const std::int64_t clicks = query.target < 0 ? 0 : training.catalog.counts[static_cast<std::size_t>(query.target)];
      if (clicks == 0) add(r.cold, o.ks, rank);
      if (clicks > 0 && clicks < o.rare_below) add(r.rare, o.ks, rank);
    }
    for (const std::int32_t item : out.top) {
      if (item < 0) continue;
      recommended[static_cast<std::size_t>(item)] = 1;
      popularity += static_cast<double>(training.catalog.counts[static_cast<std::size_t>(item)]) / top_count;
      ++listed;
    }
    if (o.progress) {
      const double done = static_cast<double>(b) + static_cast<double>(count);
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      print_progress_line(1, 1, done / static_cast<double>(queries.size()), done / std::max(took, 1e-9), "queries",
                          took / done * (static_cast<double>(queries.size()) - done));
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.progress) print_status_line(detail::concat("evaluated ", queries.size(), " queries in ", r.seconds, " s"));
  r.queries_per_second = r.seconds > 0 ? static_cast<double>(queries.size()) / r.seconds : 0;
  normalise(r.all);
  normalise(r.rare);
  normalise(r.cold);
  for (MetricSet& m : r.by_length) normalise(m);
  r.coverage = static_cast<double>(std::count(recommended.begin(), recommended.end(), 1)) / static_cast<double>(n);
  r.mean_popularity = listed == 0 ? 0 : popularity / static_cast<double>(listed);
  return r;
}

}  // namespace reckon::session
