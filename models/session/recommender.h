// Session recommenders: the training sessions they learn from (items indexed by a popularity-ordered catalogue),
// the interface every session model implements (score every catalogue item for a session prefix), and the
// memory-based baselines of the literature (POP, S-POP, item-kNN, SKNN, V-SKNN).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "reckon/models/session/clicks.h"
#include "reckon/runtime/checkpoint.h"

namespace reckon::session {

// The training items, most clicked first (ties by item name), so that "lower index" is the evaluator's and the top-k
// kernel's tie-break: by training popularity, then id.
struct Catalog {
  std::vector<std::string> names;
  std::vector<std::int64_t> counts;  // training clicks per item
  std::int32_t size() const { return static_cast<std::int32_t>(names.size()); }
  std::int32_t lookup(const std::string& name) const;  // -1: not a training item

  static Catalog build(const ClickLog& train);
  static Catalog from_names(std::vector<std::string> names, std::vector<std::int64_t> counts);

 private:
  std::unordered_map<std::string, std::int32_t> index_;
};

// Sessions as catalogue indices, in order of their last click (the most recent last).
struct TrainingSessions {
  Catalog catalog;
  double end_time = 0;  // the last training click (unix seconds): test sessions must begin after it
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  std::vector<EventKind> kinds;  // per click, where the log has cart or buy events; else empty (every one a click)
  std::int64_t size() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  bool has_conversions() const { return !kinds.empty(); }
  // The add-to-cart label of the query made of session s's clicks before `position`: whether the session has a cart
  // or buy event at `position` or later.
  bool converts_from(std::int64_t s, std::int64_t position) const;
  std::span<const std::int32_t> session(std::int64_t s) const {
    return {items.data() + offsets[static_cast<std::size_t>(s)],
            static_cast<std::size_t>(offsets[static_cast<std::size_t>(s) + 1] - offsets[static_cast<std::size_t>(s)])};
  }
  static TrainingSessions build(const ClickLog& train);
};

// A log's sessions as catalogue indices (-1 for items the catalogue does not have), in the log's order.
struct IndexedSessions {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  std::int64_t size() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
};
IndexedSessions index_sessions(const ClickLog& log, const Catalog& catalog);

// A cart or buy event: what the add-to-cart task predicts.
inline bool is_conversion(EventKind kind) { return kind != EventKind::kClick; }
// Per session of `log`, the position of its last cart or buy event (-1: none), so that the query of the clicks
// before position t converts when t <= last[s].
std::vector<std::int64_t> last_conversions(const ClickLog& log);

enum class ModelKind : std::uint8_t { kPop, kSPop, kItemKnn, kSknn, kVsknn };
ModelKind parse_model_kind(const std::string& name);  // pop | spop | iknn | sknn | vsknn
const char* to_string(ModelKind kind) noexcept;

struct RecommenderOptions {
  ModelKind kind = ModelKind::kVsknn;
  // item-kNN: similarity co(i, j) / (supp(i)^alpha · supp(j)^(1 - alpha) + lambda) over the binary session × item
  // matrix (alpha 0.5, lambda 0: cosine; GRU4Rec's baseline used lambda 20); an item's similarity to itself is 0
  // unless self_similarity (then 1).
  double knn_alpha = 0.5, knn_lambda = 0;
  bool self_similarity = false;
  // SKNN / V-SKNN: candidates are the `sample` most recent training sessions sharing an item with the session; the
  // `neighbors` most similar of them vote for their items.
  std::int64_t neighbors = 100, sample = 500;
};

class SessionRecommender {
 public:
  virtual ~SessionRecommender() = default;
  // scores[i] for every catalogue item i given the session's clicks so far (catalogue indices, oldest first, never
  // empty; -1 for an unknown item, which models ignore). Safe to call from several threads at once.
  virtual void score(std::span<const std::int32_t> prefix, std::span<float> scores) const = 0;
  // scores[q · N + i] for each prefix q (row-major [Q, N], on the host); by default each prefix on its own, in
  // parallel on `threads` threads. Recurrent models run the batch together.
  virtual void score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int threads) const;
  virtual std::string name() const { return to_string(options_.kind); }
  const RecommenderOptions& options() const { return options_; }
  const TrainingSessions& training() const { return training_; }

 protected:
  SessionRecommender(RecommenderOptions options, TrainingSessions training)
      : options_(options), training_(std::move(training)) {}

 private:
  RecommenderOptions options_;
  TrainingSessions training_;
};

// Fits the model on the training sessions.
std::unique_ptr<SessionRecommender> make_recommender(const RecommenderOptions& options, TrainingSessions training);
// The neighbourhood models (knn.cpp); make_recommender calls it for iknn, sknn and vsknn.
std::unique_ptr<SessionRecommender> make_knn_recommender(const RecommenderOptions& options, TrainingSessions training);

// Checkpoint (the runtime's envelope, kind "session"): the options and the training sessions, from which a
// memory-based model is rebuilt exactly. load_recommender also reads GRU4Rec's checkpoints (kind "gru4rec").
void save_recommender(const SessionRecommender& model, const std::string& path);
std::unique_ptr<SessionRecommender> load_recommender(const std::string& path);

// The catalogue of a neural model's checkpoint: catalog_vocabulary() is the envelope's vocabulary JSON (items and
// the training end time), add_catalog() the item names and counts; read_catalog() gives them back as training
// sessions without sessions (kDataError naming `path` when they are unreadable).
std::string catalog_vocabulary(const TrainingSessions& training);
void add_catalog(CheckpointWriter& writer, const TrainingSessions& training);
TrainingSessions read_catalog(const CheckpointReader& reader, const std::string& path);

}  // namespace reckon::session
