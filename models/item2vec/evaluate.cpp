#include "reckon/models/item2vec/evaluate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include "reckon/kernels/dense/dense.h"
#include "reckon/models/session/evaluate.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::item2vec {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t t = i; t <= j; ++t) r[order[t]] = average;
    i = j + 1;
  }
  return r;
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  RECKON_CHECK_ARG(a.size() == b.size(), "spearman: sizes differ");
  if (a.size() < 2) return 0.0;
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::string describe(const NextItemOptions& o) {
  const std::string query = o.context_window == 1   ? "last item"
                            : o.context_window == 0 ? "mean of all previous items"
                                                    : "mean of the last " + std::to_string(o.context_window) + " items";
  return query + (o.exclude_seen ? "; the session's items excluded" : "; all items ranked");
}

namespace {

// Item vectors as a session model: an item's score is the cosine between its vector and the mean of the context's
// normalised vectors (the last `window` known items, 0: all). The catalogue is the vectors' rows in order, which is
// popularity order for files reckon, word2vec.c or gensim write, so ties fall to the more frequent item.
class VectorRecommender final : public session::SessionRecommender {
 public:
  VectorRecommender(const SimilarityIndex& index, session::TrainingSessions catalog, int window)
      : SessionRecommender(session::RecommenderOptions{}, std::move(catalog)), table_(index.normalized()),
        rows_(index.rows()), dim_(index.dim()), window_(window) {}

  void score(std::span<const std::int32_t> prefix, std::span<float> scores) const override {
    const std::span<const std::int32_t> one[] = {prefix};
    score_batch(one, scores.data(), 1);
  }

  void score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int threads) const override {
    const std::int64_t D = dim_, N = rows_, Q = static_cast<std::int64_t>(prefixes.size());
    std::vector<float> queries(static_cast<std::size_t>(Q * D), 0.0f);
    const std::vector<float>& table = table_;
    for (std::int64_t q = 0; q < Q; ++q) {
      const auto& prefix = prefixes[static_cast<std::size_t>(q)];
      const std::size_t first = window_ > 0 && prefix.size() > static_cast<std::size_t>(window_) ? prefix.size() - static_cast<std::size_t>(window_) : 0;
      for (std::size_t t = first; t < prefix.size(); ++t) {
        if (prefix[t] < 0) continue;
        for (std::int64_t d = 0; d < D; ++d) queries[static_cast<std::size_t>(q * D + d)] += table[static_cast<std::size_t>(prefix[t] * D + d)];
      }
    }
    Context cpu(Device::cpu());
    if (threads > 0) cpu.set_cpu_threads(threads);
    // scores[Q, N] = queries[Q, D] · tableᵀ (the mean's scale does not change a ranking).
    linear_bwd_data(cpu, TensorView::contiguous(queries.data(), DType::kF32, Device::cpu(), {Q, D}),
                    TensorView::contiguous(const_cast<float*>(table.data()), DType::kF32, Device::cpu(), {N, D}),
                    TensorView::contiguous(scores, DType::kF32, Device::cpu(), {Q, N}));
  }

  std::string name() const override { return "item2vec"; }

 private:
  std::vector<float> table_;  // [rows, dim], normalised
  std::int64_t rows_, dim_;
  int window_;
};

// The index's rows as a catalogue (counts decreasing with the row, so that row order is the tie-break).
session::TrainingSessions catalog_of(const SimilarityIndex& index, const KeyedVectors& vectors) {
  std::vector<std::string> names(vectors.tokens.begin(), vectors.tokens.begin() + index.rows());
  std::vector<std::int64_t> counts(names.size());
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<std::int64_t>(counts.size() - i);
  session::TrainingSessions t;
  t.catalog = session::Catalog::from_names(std::move(names), std::move(counts));
  t.end_time = -std::numeric_limits<double>::infinity();  // no training times: nothing to leak
  return t;
}

// Sequences as a click log, clicks one second apart.
session::ClickLog click_log_of(const Sequences& sessions) {
  session::ClickLog log;
  session::ClickLogBuilder builder(log);
  for (std::int64_t s = 0; s < sessions.size(); ++s) {
    for (std::int64_t i = sessions.offsets[static_cast<std::size_t>(s)]; i < sessions.offsets[static_cast<std::size_t>(s) + 1]; ++i) {
      builder.add(builder.item(sessions.tokens[static_cast<std::size_t>(i)]), static_cast<double>(i));
    }
    builder.end_session(std::to_string(s));
  }
  return log;
}

}  // namespace

std::unique_ptr<session::SessionRecommender> make_vector_recommender(const SimilarityIndex& index,
                                                                     const KeyedVectors& vectors, int context_window) {
  RECKON_CHECK_ARG(context_window >= 0, "context window must be >= 0 (0: all previous items)");
  return std::make_unique<VectorRecommender>(index, catalog_of(index, vectors), context_window);
}

NextItemResult evaluate_next_item(const SimilarityIndex& index, const KeyedVectors& vectors, const Sequences& sessions,
                                  const NextItemOptions& o) {
  RECKON_CHECK_ARG(o.k >= 1, "k must be >= 1");
  RECKON_CHECK_ARG(o.context_window >= 0, "context window must be >= 0 (0: all previous items)");
  const session::TrainingSessions catalog = catalog_of(index, vectors);
  const VectorRecommender model(index, catalog, o.context_window);
  session::RecommenderOptions pop_options;
  pop_options.kind = session::ModelKind::kPop;
  const auto pop = session::make_recommender(pop_options, catalog);
  session::EvalOptions e;
  e.ks = {std::min(o.k, 256)};
  e.exclude_seen = o.exclude_seen;
  const session::ClickLog log = click_log_of(sessions);
  const session::EvalResult m = session::evaluate(model, log, e), p = session::evaluate(*pop, log, e);
  NextItemResult r;
  r.k = o.k;
  r.queries = m.all.queries;
  r.skipped = m.unseen_targets;
  r.hit_rate = m.all.at[0].hit_rate;
  r.mrr = m.all.at[0].mrr;
  r.popularity_hit_rate = p.all.at[0].hit_rate;
  r.popularity_mrr = p.all.at[0].mrr;
  return r;
}

AnalogyResult evaluate_analogies(Context& ctx, const KeyedVectors& vectors, const std::string& path,
                                 std::int64_t restrict_vocab, bool case_insensitive) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  const SimilarityIndex index(ctx, vectors, restrict_vocab);
  // Lower-cased lookup over the restricted rows: the first (most frequent) row wins for words differing in case.
  std::unordered_map<std::string, std::int32_t> ids;
  for (std::int64_t i = 0; i < index.rows(); ++i) {
    const std::string& t = vectors.tokens[static_cast<std::size_t>(i)];
    ids.emplace(case_insensitive ? lower(t) : t, static_cast<std::int32_t>(i));
  }
  AnalogyResult r;
  std::vector<float> queries;
  std::vector<std::vector<std::int32_t>> exclude;
  std::vector<std::int32_t> answers;
  std::vector<std::size_t> section_of;
  std::string line;
  std::int64_t line_no = 0;
  const auto D = index.dim();
  const std::vector<float>& table = index.normalized();
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == ':') {
      std::string name = line.substr(1);
      name.erase(0, name.find_first_not_of(' '));
      r.sections.push_back({name, 0, 0});
      continue;
    }
    std::istringstream words(line);
    std::string w[4], extra;
    if (!(words >> w[0] >> w[1] >> w[2] >> w[3]) || (words >> extra)) {
      RECKON_THROW(StatusCode::kDataError, path, ":", line_no, ": expected four words 'a b c d'");
    }
    if (r.sections.empty()) r.sections.push_back({"(no section)", 0, 0});
    std::int32_t id[4];
    bool known = true;
    for (int i = 0; i < 4; ++i) {
      const auto it = ids.find(case_insensitive ? lower(w[i]) : w[i]);
      id[i] = it == ids.end() ? -1 : it->second;
      known = known && id[i] >= 0;
    }
    if (!known) {
      ++r.skipped;
      continue;
    }
    // b − a + c on normalised vectors (3CosAdd).
    for (std::int64_t d = 0; d < D; ++d) {
      queries.push_back(table[static_cast<std::size_t>(id[1] * D + d)] - table[static_cast<std::size_t>(id[0] * D + d)] +
                        table[static_cast<std::size_t>(id[2] * D + d)]);
    }
    exclude.push_back({id[0], id[1], id[2]});
    answers.push_back(id[3]);
    section_of.push_back(r.sections.size() - 1);
  }
  if (!answers.empty()) {
    const auto found = index.top_k(queries, 1, exclude);
    for (std::size_t q = 0; q < answers.size(); ++q) {
      const bool hit = !found[q].empty() && found[q][0].id == answers[q];
      r.correct += hit;
      r.sections[section_of[q]].correct += hit;
      r.sections[section_of[q]].total += 1;
    }
  }
  r.total = static_cast<std::int64_t>(answers.size());
  r.accuracy = r.total > 0 ? static_cast<double>(r.correct) / static_cast<double>(r.total) : 0.0;
  return r;
}

SimilarityResult evaluate_similarity(const KeyedVectors& vectors, const std::string& path, bool case_insensitive) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  std::unordered_map<std::string, std::int32_t> ids;
  for (std::int64_t i = 0; i < vectors.size(); ++i) {
    const std::string& t = vectors.tokens[static_cast<std::size_t>(i)];
    ids.emplace(case_insensitive ? lower(t) : t, static_cast<std::int32_t>(i));
  }
  SimilarityResult r;
  std::vector<double> gold, predicted;
  std::string line;
  std::int64_t line_no = 0;
  const std::int64_t D = vectors.dim;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    for (char& c : line) {
      if (c == '\t' || c == ',') c = ' ';
    }
    std::istringstream fields(line);
    std::string a, b, score_text;
    if (!(fields >> a >> b >> score_text)) {
      if (line.find_first_not_of(' ') == std::string::npos) continue;
      RECKON_THROW(StatusCode::kDataError, path, ":", line_no, ": expected 'word word score'");
    }
    double score = 0;
    if (!parse_field(score_text, score)) {
      if (line_no == 1) continue;  // a header
      RECKON_THROW(StatusCode::kDataError, path, ":", line_no, ": score '", score_text, "' is not a number");
    }
    ++r.pairs;
    const auto ia = ids.find(case_insensitive ? lower(a) : a), ib = ids.find(case_insensitive ? lower(b) : b);
    if (ia == ids.end() || ib == ids.end()) continue;
    const float* x = vectors.vectors.data() + ia->second * D;
    const float* y = vectors.vectors.data() + ib->second * D;
    double xy = 0, xx = 0, yy = 0;
    for (std::int64_t d = 0; d < D; ++d) {
      xy += static_cast<double>(x[d]) * y[d];
      xx += static_cast<double>(x[d]) * x[d];
      yy += static_cast<double>(y[d]) * y[d];
    }
    gold.push_back(score);
    predicted.push_back(xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : 0.0);
  }
  r.found = static_cast<std::int64_t>(gold.size());
  r.spearman = spearman(gold, predicted);
  return r;
}

}  // namespace reckon::item2vec
