// The 3D-CNN session recommender (Tuan & Phuong, RecSys 2017): the clicks of a session and the content of the
// clicked items, every feature character-encoded, form a volume that a 3D CNN reads. No public implementation
// exists; the layer sizes below are ours (docs/SESSIONS.md says which choices are).
//
// Encoding: each catalogue item's features - its id (the item name), its category and its text - are cut or padded
// to id_chars (the id's last characters), category_chars and text_chars characters (bytes); each character is a
// symbol of an alphabet built from the catalogue's features (a byte it never saw is the "unknown" symbol) and
// becomes a learned embedding of char_embedding (E) values; with id_token, a click's first position is the item's
// own learned embedding. L positions per click in all; padding characters are zero vectors.
// Volume: a query's last `clicks` (S) known clicks, oldest first, × L characters × E, channels last: [B, D, L, 1, E]
// with D the batch's longest prefix (batches are cut from length-sorted runs, so padding stays small); a shorter
// prefix's missing clicks are zero. The paper's one-channel volume with a first filter spanning the whole embedding
// is the same as E channels and a filter one wide; channels last, the products run over E.
// Network: Conv3d E -> F over 2 clicks × 3 characters (padding 1 click, 1 character; no bias, so that padding stays
// zero and a query scores the same in any batch) + ReLU; max pooling over 4
// characters; Conv3d F -> 2F over 2 clicks × 3 characters (padding as before) + ReLU; max pooling over every
// position that sees a real click (masked: a prefix of n clicks has n + 2 of them); Linear 2F -> hidden, plus the
// last click's own learned vector (last_click); dropout;
// the item output layer (item_output.h: BPR-max or cross-entropy over the catalogue).
// Add-to-cart head, where the training sessions have cart or buy events: Linear hidden -> 1 on the same state and a
// sigmoid, trained with binary cross-entropy (weight cart_weight beside the item loss) on each sample's label: does
// the session have a cart or buy event at the target's position or later (TrainingSessions::converts_from).
// Training: every position t >= 1 of every training session is a sample (its last S clicks before t, the click at
// t the target), shuffled each epoch; Adam.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/models/session/content.h"
#include "reckon/models/session/item_output.h"
#include "reckon/models/session/neural.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/context.h"

namespace reckon::session {

struct Cnn3dOptions {
  std::int64_t clicks = 10;  // S
  std::int64_t id_chars = 8, category_chars = 16, text_chars = 24;
  std::int64_t char_embedding = 16;  // E
  std::int64_t filters = 64;         // the first layer's; the second has twice as many
  std::int64_t hidden = 100;
  // Batch 128, Adam at 0.002, 10 epochs, dropout 0.3: from the YooChoose and DIGINETICA validation splits
  // (docs/SESSIONS.md); rates from 0.005 up stalled training on DIGINETICA's sample.
  std::int64_t batch = 128;
  int epochs = 10;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  float learning_rate = 0.002f;
  float dropout = 0.3f;
  ItemOutputOptions output;
  std::uint64_t seed = 1;
  // One learned embedding per item as the first position of its click (the item's own vector beside its content's
  // characters, as GRU4Rec's input has); off, the model reads content alone.
  bool id_token = true;
  // The last click's own learned vector added to the state: the pooled volume reads the session as a bag, and the
  // last click is the strongest sign of the next (our addition to the paper's design; off: the CNN alone).
  bool last_click = true;
  // The output layer scores items by their own vectors plus their content's (item_output.h), so that rare items and
  // items without training clicks are recommendable; the content features are the words of each item's category and
  // text that at least two catalogue items share (our choice: words, where the input reads characters). BPR-max
  // only: with cross-entropy the option does nothing.
  bool content_output = true;
  // Ablations. masked_pooling off: the global pooling also reads the padding of prefixes shorter than the batch's
  // longest (a query's scores then depend on its batch). one_hot_chars: each character a fixed one-hot vector
  // (char_embedding becomes the alphabet's size; id tokens still learn) instead of a learned embedding.
  bool masked_pooling = true;
  bool one_hot_chars = false;
  // The add-to-cart head's loss weight; 0: no head. The model has the head when the weight is positive and the
  // training sessions have cart or buy events (cart_head, set by the model). 0.05: on the demo's shop data (two
  // seeds) weights 0.05, 0.2 and 1 gave AUC 0.83 / 0.81 / 0.77 and the larger ones a worse log loss and next-click
  // HR (docs/SESSIONS.md); Adam scales the head's own steps, so a small weight only limits its pull on the network.
  float cart_weight = 0.05f;
  bool cart_head = false;
  std::int64_t positions() const { return (id_token ? 1 : 0) + id_chars + category_chars + text_chars; }
};

// Each catalogue item's category and text from `extra` where it has them, else from the log (else empty).
struct CatalogContent {
  std::vector<std::string> categories, texts;
};
CatalogContent catalog_content(const ClickLog& log, const Catalog& catalog, const ItemContent* extra = nullptr);

// Items of `content` that the catalogue lacks join it after every clicked item (no training clicks, in name order),
// so that a content output layer can recommend them; returns how many joined.
std::int64_t add_content_items(TrainingSessions& training, const ItemContent& content);

// The output layer's content features: the lower-cased words (runs of letters, digits and non-ASCII bytes) of each
// item's category and of its text, as separate vocabularies, that at least `min_items` items have.
ItemFeatures content_features(const CatalogContent& content, std::int64_t min_items = 2);

class Cnn3dRecommender final : public NeuralRecommender {
 public:
  Cnn3dRecommender(Context& ctx, const Cnn3dOptions& options, TrainingSessions training, const CatalogContent& content);
  ~Cnn3dRecommender() override;
  EpochStats train_epoch(int epoch, const EpochProgress& progress = {}) override;
  std::vector<layers::NamedTensor> state() const override;
  Context& context() const override;
  void score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int threads) const override;
  std::string name() const override { return "cnn3d"; }
  const Cnn3dOptions& cnn_options() const { return cnn_options_; }
  std::int32_t alphabet_size() const;
  bool has_cart_head() const { return cnn_options_.cart_head; }
  // The add-to-cart head's probability per prefix (as score_batch reads prefixes); kInvalidArgument without the head.
  void cart_probabilities(std::span<const std::span<const std::int32_t>> prefixes, float* probabilities) const;

  // Checkpoint kind "cnn3d": the options, the catalogue, the items' encoded characters and content features, every
  // parameter and optimizer state.
  void save(const std::string& path) const;
  static std::unique_ptr<Cnn3dRecommender> load(Context& ctx, const std::string& path);

 private:
  struct Impl;
  Cnn3dRecommender(Context& ctx, const Cnn3dOptions& options, TrainingSessions training, std::vector<std::int32_t> codes,
                   std::int32_t alphabet, ItemFeatures features);
  // The prefixes in chunks through the network: `use(rows, first)` reads the state of prefixes [first, first + rows).
  void run_chunks(std::span<const std::span<const std::int32_t>> prefixes,
                  const std::function<void(std::int64_t rows, std::size_t first)>& use) const;
  Cnn3dOptions cnn_options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reckon::session
