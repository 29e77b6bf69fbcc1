// GRU4Rec (Hidasi et al. 2016; Hidasi & Karatzoglou 2018): a GRU over the session's clicks, trained with
// session-parallel mini-batches (each of B slots runs through one session after another; a slot's hidden state
// starts at zero with each new session) and BPR-max over sampled negatives or cross-entropy over the whole catalogue
// (item_output.h). Built from layers and the gru and softmax kernel families, on the CPU or a GPU.
//
// The input is one-hot by default (embedding 0): the item's row of W_x, a [N, 3H] table updated sparsely, as
// GRU4Rec's default; with embedding E > 0 an [N, E] table and a linear layer E -> 3H. The output layer scores every
// item from the (dropped-out) hidden state. The hidden state is carried from click to click but gradients do not
// flow back through time (as in GRU4Rec's training).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/models/session/item_output.h"
#include "reckon/models/session/neural.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/context.h"

namespace reckon::session {

struct Gru4RecOptions {
  std::int64_t hidden = 100;
  std::int64_t embedding = 0;  // 0: one-hot input
  std::int64_t batch = 32;
  // Adam, learning rate 0.01, dropout 0.5, 10 epochs: chosen on the validation splits of the YooChoose and
  // DIGINETICA samples (docs/SESSIONS.md).
  int epochs = 10;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  float learning_rate = 0.01f;
  float dropout = 0.5f;       // on the hidden state fed to the output layer
  // The loss, BPR-max by default: ahead of cross-entropy on the validation splits of both session samples
  // (docs/SESSIONS.md), and a step's cost does not grow with the catalogue.
  ItemOutputOptions output;
  std::int64_t max_prefix = 50;  // scoring: a query's state is built from its last max_prefix clicks
  std::uint64_t seed = 1;
};

class Gru4Rec final : public NeuralRecommender {
 public:
  Gru4Rec(Context& ctx, const Gru4RecOptions& options, TrainingSessions training);
  ~Gru4Rec() override;
  EpochStats train_epoch(int epoch, const EpochProgress& progress = {}) override;
  std::vector<layers::NamedTensor> state() const override;
  Context& context() const override;
  void score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int threads) const override;
  std::string name() const override { return "gru4rec"; }
  const Gru4RecOptions& gru_options() const { return gru_options_; }

  // Checkpoint kind "gru4rec": the options, the catalogue and every parameter and optimizer state.
  void save(const std::string& path) const;
  static std::unique_ptr<Gru4Rec> load(Context& ctx, const std::string& path);

 private:
  struct Impl;
  Gru4RecOptions gru_options_;
  std::unique_ptr<Impl> impl_;
};

// A saved session model of any kind: GRU4Rec's and the 3D CNN's on ctx's device, the memory-based ones on the host.
std::unique_ptr<SessionRecommender> load_any_recommender(Context& ctx, const std::string& path);

}  // namespace reckon::session
