// Built-in evaluations of item vectors: next-item prediction on held-out sessions (HR@K and MRR@K against a
// popularity baseline), word analogies (questions-words format) and word similarity (Spearman's rho against human
// scores: ws353, SimLex-999, MEN).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "reckon/models/item2vec/corpus.h"
#include "reckon/models/session/recommender.h"
#include "reckon/models/item2vec/vectors.h"

namespace reckon::item2vec {

// The next-item protocol. The default is the field's (GRU4Rec, session-rec, SR-GNN): the last item is the query and
// every item is ranked, the session's own included (repeats are a large share of next clicks).
struct NextItemOptions {
  int k = 20;
  int context_window = 1;     // previous items whose mean vector is the query (0: all of them)
  bool exclude_seen = false;  // leave the session's items before t out of the ranking (model and popularity)
};
std::string describe(const NextItemOptions& options);  // e.g. "last item; all items ranked"

struct NextItemResult {
  int k = 0;
  std::int64_t queries = 0;   // every position t >= 1 (the session evaluator's protocol)
  std::int64_t skipped = 0;   // of those, targets the vectors lack: counted as misses
  double hit_rate = 0, mrr = 0;                        // the model
  double popularity_hit_rate = 0, popularity_mrr = 0;  // the k most frequent items (row order)
};
// The session evaluator (session/evaluate.h) over the vectors as a session model: for every session and every
// position t >= 1 the items before t (the last `context_window` known ones) query the model, every row is ranked
// (ties by row order, never in the target's favour), and the item at t is looked up in the top k; a target the
// vectors lack is a miss, a context with no known item scores every row alike. Popularity is the vectors' row order,
// which is frequency order for files written by reckon, word2vec.c or gensim. k is capped at 256.
NextItemResult evaluate_next_item(const SimilarityIndex& index, const KeyedVectors& vectors, const Sequences& sessions,
                                  const NextItemOptions& options = {});

// The vectors as a session model (session/recommender.h): the catalogue is the index's rows in order (popularity
// order for frequency-ordered files), an item's score the cosine with the mean of the last `context_window` known
// items' normalised vectors (0: all). It keeps its own copy of the normalised table.
std::unique_ptr<session::SessionRecommender> make_vector_recommender(const SimilarityIndex& index,
                                                                     const KeyedVectors& vectors, int context_window);

struct AnalogySection {
  std::string name;
  std::int64_t correct = 0, total = 0;
};
struct AnalogyResult {
  std::int64_t correct = 0, total = 0, skipped = 0;  // skipped: a word outside the restricted vocabulary
  double accuracy = 0;
  std::vector<AnalogySection> sections;
};
// 3CosAdd over the `restrict_vocab` most frequent rows (30,000 as gensim's default), a, b, c excluded; words are
// lower-cased when case_insensitive. Malformed lines throw kDataError with file:line.
AnalogyResult evaluate_analogies(Context& ctx, const KeyedVectors& vectors, const std::string& path,
                                 std::int64_t restrict_vocab = 30000, bool case_insensitive = true);

struct SimilarityResult {
  std::int64_t pairs = 0, found = 0;  // pairs in the file, pairs with both words known
  double spearman = 0;
};
// "w1 w2 score" lines (tab, space or comma separated; a non-numeric header line is skipped).
SimilarityResult evaluate_similarity(const KeyedVectors& vectors, const std::string& path, bool case_insensitive = true);

// Spearman's rank correlation (average ranks for ties).
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace reckon::item2vec
