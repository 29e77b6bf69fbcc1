#include "reckon/models/item2vec/evaluate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

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

// One batch of next-item queries: contexts, what each leaves out of the ranking, and the item that came next.
struct NextItemBatch {
  std::vector<std::vector<std::int32_t>> contexts, excluded;
  std::vector<std::int32_t> targets;
};

void score_batch(const SimilarityIndex& index, const NextItemBatch& b, int k, NextItemResult& r) {
  const auto found = index.recommend(b.contexts, k, b.excluded);
  for (std::size_t q = 0; q < b.contexts.size(); ++q) {
    for (std::size_t j = 0; j < found[q].size(); ++j) {
      if (found[q][j].id == b.targets[q]) {
        r.hit_rate += 1;
        r.mrr += 1.0 / static_cast<double>(j + 1);
        break;
      }
    }
    // Popularity: the first k rows not left out.
    const auto& left_out = b.excluded[q];
    int rank = 0;
    for (std::int64_t id = 0; id < index.rows() && rank < k; ++id) {
      if (std::find(left_out.begin(), left_out.end(), static_cast<std::int32_t>(id)) != left_out.end()) continue;
      ++rank;
      if (id == b.targets[q]) {
        r.popularity_hit_rate += 1;
        r.popularity_mrr += 1.0 / rank;
        break;
      }
    }
  }
  r.queries += static_cast<std::int64_t>(b.contexts.size());
}

// The known items of ids[from, t) (unknown ones are -1).
std::vector<std::int32_t> known_items(const std::vector<std::int32_t>& ids, std::size_t from, std::size_t t) {
  std::vector<std::int32_t> out;
  for (std::size_t j = from; j < t; ++j) {
    if (ids[j] >= 0) out.push_back(ids[j]);
  }
  return out;
}

}  // namespace

NextItemResult evaluate_next_item(const SimilarityIndex& index, const KeyedVectors& vectors, const Sequences& sessions,
                                  const NextItemOptions& o) {
  RECKON_CHECK_ARG(o.k >= 1, "k must be >= 1");
  RECKON_CHECK_ARG(o.context_window >= 0, "context window must be >= 0 (0: all previous items)");
  NextItemResult r;
  r.k = o.k;
  NextItemBatch batch;
  std::vector<std::int32_t> ids;
  for (std::int64_t s = 0; s < sessions.size(); ++s) {
    ids.clear();
    for (std::int64_t i = sessions.offsets[static_cast<std::size_t>(s)]; i < sessions.offsets[static_cast<std::size_t>(s) + 1]; ++i) {
      const std::int32_t id = vectors.lookup(sessions.tokens[static_cast<std::size_t>(i)]);
      ids.push_back(id < index.rows() ? id : -1);
    }
    const auto window = static_cast<std::size_t>(o.context_window);
    for (std::size_t t = 1; t < ids.size(); ++t) {
      std::vector<std::int32_t> context = known_items(ids, window > 0 && t > window ? t - window : 0, t);
      if (ids[t] < 0 || context.empty()) {
        ++r.skipped;
        continue;
      }
      batch.excluded.push_back(o.exclude_seen ? known_items(ids, 0, t) : std::vector<std::int32_t>{});
      batch.contexts.push_back(std::move(context));
      batch.targets.push_back(ids[t]);
      if (batch.contexts.size() == 1024) {
        score_batch(index, batch, o.k, r);
        batch = {};
      }
    }
  }
  if (!batch.contexts.empty()) score_batch(index, batch, o.k, r);
  if (r.queries > 0) {
    const auto n = static_cast<double>(r.queries);
    r.hit_rate /= n;
    r.mrr /= n;
    r.popularity_hit_rate /= n;
    r.popularity_mrr /= n;
  }
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
