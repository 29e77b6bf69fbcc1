#include "reckon/models/ensemble/session_queries.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "reckon/runtime/error.h"

namespace reckon::ensemble {

session::Catalog union_catalog(std::span<const session::SessionRecommender* const> models) {
  RECKON_CHECK_ARG(!models.empty(), "a union of catalogues needs a model");
  std::vector<std::string> names;
  std::vector<std::int64_t> counts;
  std::unordered_set<std::string> seen;
  for (const session::SessionRecommender* m : models) {
    const session::Catalog& own = m->training().catalog;
    for (std::int32_t i = 0; i < own.size(); ++i) {
      if (!seen.insert(own.names[static_cast<std::size_t>(i)]).second) continue;
      names.push_back(own.names[static_cast<std::size_t>(i)]);
      counts.push_back(own.counts[static_cast<std::size_t>(i)]);
    }
  }
  return session::Catalog::from_names(std::move(names), std::move(counts));
}

namespace {

// Model m's scores of `rows` prefixes, mapped to the ensemble's catalogue and cut to their top lists.
void add_lists(const session::SessionRecommender& model, const std::vector<std::int32_t>& to_model,
               std::span<const std::span<const std::int32_t>> prefixes, int depth, int threads,
               std::vector<BlendQuery>& queries, std::size_t first_query) {
  const auto N = static_cast<std::size_t>(model.training().catalog.size());
  std::vector<std::vector<std::int32_t>> own(prefixes.size());
  std::vector<std::span<const std::int32_t>> spans;
  for (std::size_t q = 0; q < prefixes.size(); ++q) {
    for (const std::int32_t item : prefixes[q]) own[q].push_back(item < 0 ? -1 : to_model[static_cast<std::size_t>(item)]);
    spans.emplace_back(own[q]);
  }
  std::vector<float> scores(prefixes.size() * N), mapped(to_model.size());
  model.score_batch(spans, scores.data(), threads);
  for (std::size_t q = 0; q < prefixes.size(); ++q) {
    for (std::size_t i = 0; i < mapped.size(); ++i) {
      mapped[i] = to_model[i] < 0 ? -std::numeric_limits<float>::infinity() : scores[q * N + static_cast<std::size_t>(to_model[i])];
    }
    queries[first_query + q].lists.push_back(top_of(mapped, depth));
  }
}

}  // namespace

std::vector<BlendQuery> session_queries(std::span<const session::SessionRecommender* const> models,
                                        const session::Catalog& catalog, const session::ClickLog& log, int depth,
                                        int threads, std::int64_t first, std::int64_t last) {
  RECKON_CHECK_ARG(!models.empty() && depth > 0, "session queries need models and a depth");
  if (last < 0) last = log.sessions();
  RECKON_CHECK_ARG(first >= 0 && first <= last && last <= log.sessions(), "sessions [", first, ", ", last, ") of a log of ", log.sessions());
  const session::IndexedSessions sessions = session::index_sessions(log, catalog);
  std::vector<BlendQuery> queries;
  std::vector<std::span<const std::int32_t>> prefixes;
  for (std::int64_t s = first; s < last; ++s) {
    const std::int64_t begin = sessions.offsets[static_cast<std::size_t>(s)], end = sessions.offsets[static_cast<std::size_t>(s) + 1];
    for (std::int64_t t = begin + 1; t < end; ++t) {
      prefixes.emplace_back(sessions.items.data() + begin, static_cast<std::size_t>(t - begin));
      queries.push_back({{}, sessions.items[static_cast<std::size_t>(t)]});
    }
  }
  constexpr std::size_t kBatch = 256;
  for (const session::SessionRecommender* m : models) {
    const session::Catalog& own = m->training().catalog;
    std::vector<std::int32_t> to_model(static_cast<std::size_t>(catalog.size()));
    for (std::int32_t i = 0; i < catalog.size(); ++i) to_model[static_cast<std::size_t>(i)] = own.lookup(catalog.names[static_cast<std::size_t>(i)]);
    for (std::size_t at = 0; at < prefixes.size(); at += kBatch) {
      const std::size_t rows = std::min(kBatch, prefixes.size() - at);
      add_lists(*m, to_model, std::span(prefixes).subspan(at, rows), depth, threads, queries, at);
    }
  }
  return queries;
}

BlendMetrics list_metrics(const std::vector<BlendQuery>& queries, std::size_t c, int k) {
  BlendMetrics m;
  for (const BlendQuery& q : queries) {
    RECKON_CHECK_ARG(c < q.lists.size(), "component ", c, " of ", q.lists.size());
    add_hit(q.lists[c], q.target, k, m);
  }
  return mean_over(m, queries.size());
}

}  // namespace reckon::ensemble
