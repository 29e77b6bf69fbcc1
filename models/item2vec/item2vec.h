// item2vec (Barkan & Koenigstein 2016): word2vec's skip-gram with negative sampling over item sequences. The model
// holds word2vec's two tables (input vectors: the item embeddings; output vectors: the context side) on either
// device and trains them with kernels/skipgram, batch by batch, in corpus order, with word2vec's linear learning
// rate decay to a floor of 1e-4 · the start.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reckon/kernels/skipgram/skipgram.h"
#include "reckon/models/item2vec/corpus.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"

namespace reckon::item2vec {

struct Item2VecConfig {
  int dim = 100;
  int window = 5;
  int negatives = 5;
  double sample = 1e-3;             // subsampling threshold t (0: off)
  double negative_exponent = 0.75;  // negatives ∝ count^α
  float learning_rate = 0.025f;
  int epochs = 5;
  std::uint64_t seed = 1;
  // Words per step: the learning rate is constant within one. 0: 20,000 on a CPU (word2vec.c adjusts every
  // 10,000), 4,000,000 on a GPU (enough centers to fill it).
  std::int64_t batch_words = 0;
  SgnsSchedule schedule = SgnsSchedule::kHogwild;
};

// Throws kInvalidArgument for settings out of range (the model checks its configuration; callers that read large
// corpora check before reading).
void validate(const Item2VecConfig& config);

struct EpochStats {
  int epoch = 0;
  std::int64_t raw_words = 0;        // in-vocabulary words before subsampling
  std::int64_t effective_words = 0;  // after subsampling
  std::int64_t pairs = 0;
  double loss = 0.0;  // mean SGNS loss per (center, context) pair over the sampled steps
  double seconds = 0.0;
};

struct TrainStats {
  std::vector<EpochStats> epochs;
  double seconds = 0.0;
  double raw_words_per_s = 0.0;
  double effective_words_per_s = 0.0;
};

class Item2Vec {
 public:
  Item2Vec(Context& ctx, Item2VecConfig config, ItemVocabulary vocabulary);

  // Trains config.epochs epochs over the corpus (ids from this model's vocabulary). A progress line with words/s
  // and the ETA goes to stderr when `progress` is set and stderr is a terminal. Stops with kNumericError if the
  // loss or the vectors become NaN.
  TrainStats train(const Corpus& corpus, bool progress = false);

  const Item2VecConfig& config() const { return config_; }
  // Continued training with other settings (a loaded checkpoint trained further at another learning rate, for more
  // epochs...): every field of `next` replaces this model's, except dim, which must match the tables'. The
  // negative-sampling table and the subsampling probabilities are rebuilt for the new exponent and threshold.
  void set_training_config(const Item2VecConfig& next);
  const ItemVocabulary& vocabulary() const { return vocabulary_; }
  Context& context() const { return *ctx_; }
  std::vector<float> input_vectors() const;   // host copy, [V, D]
  std::vector<float> output_vectors() const;  // host copy, [V, D]
  KeyedVectors keyed_vectors() const;         // the input vectors by item, on the host
  std::int64_t trained_words() const { return trained_words_; }

  // The checkpoint for continued training, in the shared envelope (runtime/checkpoint.h), kind "item2vec": the
  // configuration and words trained so far as its config, the vocabulary with counts as the byte section
  // "vocabulary", the tables as "input" and "output" [V, D]. Files of the format before the envelope still load.
  void save(const std::string& path) const;
  static Item2Vec load(Context& ctx, const std::string& path);
  // For `reckon inspect`: the header of a file in the format before the envelope, as JSON text {"kind":
  // "item2vec", "format": "item2vec v1", "config": {...}}; empty when the bytes are not one.
  static std::string legacy_checkpoint_header(const std::string& path, std::string_view bytes);

 private:
  Context* ctx_;
  Item2VecConfig config_;
  ItemVocabulary vocabulary_;
  Tensor input_, output_, alias_prob_, alias_index_;
  std::vector<float> keep_;
  std::int64_t trained_words_ = 0;
  std::uint64_t steps_ = 0;

  void build_sampling_tables();
  SgnsOptions step_options(double progress, std::int64_t batch) const;
  void check_loss(SgnsTotals& totals, int epoch) const;
  static TrainStats summarise(TrainStats stats, double seconds);
  static Item2Vec load_envelope(Context& ctx, const std::string& path);
  static Item2Vec load_legacy(Context& ctx, const std::string& path, const std::string& bytes);  // alias table of count^negative_exponent, subsampling keep probabilities
};

}  // namespace reckon::item2vec
