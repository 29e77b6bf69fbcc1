// What the neural session models (GRU4Rec, the 3D CNN) share: training epoch by epoch, their state (parameters and
// optimizer state) as named tensors, and fit(): the epochs with early stopping on validation sessions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "reckon/models/layers/layers.h"
#include "reckon/models/session/clicks.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/context.h"

namespace reckon::session {

struct EpochStats {
  int epoch = 0;
  double loss = 0;  // mean loss per training click
  double cart_loss = -1;  // the add-to-cart head's mean log loss; -1: no head
  double seconds = 0, clicks_per_second = 0;
};
using EpochProgress = std::function<void(double fraction, double clicks_per_second)>;

// An epoch's summary: `samples` training clicks whose losses sum to loss_sum, trained since `start`.
EpochStats epoch_stats(int epoch, double loss_sum, std::int64_t samples, std::chrono::steady_clock::time_point start);

class NeuralRecommender : public SessionRecommender {
 public:
  // One epoch over the training sessions; throws kNumericError when the loss stops being finite.
  virtual EpochStats train_epoch(int epoch, const EpochProgress& progress = {}) = 0;
  // Every parameter and optimizer state, on the context's device.
  virtual std::vector<layers::NamedTensor> state() const = 0;
  virtual Context& context() const = 0;
  // One prefix is a batch of one: the neural models score batches.
  void score(std::span<const std::int32_t> prefix, std::span<float> scores) const override;

 protected:
  using SessionRecommender::SessionRecommender;
};

struct FitOptions {
  int epochs = 10;                       // at most
  const ClickLog* validation = nullptr;  // none: every epoch is trained, nothing is kept back
  int patience = 2;                      // epochs without a better validation HR@k before stopping
  int k = 20;
};
struct FitEpoch {
  EpochStats train;
  double validation_hr = -1, validation_mrr = -1;  // -1: no validation sessions
};
struct FitResult {
  std::vector<FitEpoch> epochs;
  int best_epoch = 0;  // the epoch whose state the model keeps (the last without validation)
};

// Trains up to options.epochs epochs. With validation sessions, each epoch is scored on them (next-click HR@k and
// MRR@k, every item ranked, as evaluate()); the state of the epoch with the best HR@k (ties: the earlier) is kept
// on the host and restored at the end, and training stops after `patience` epochs without a better one.
FitResult fit(NeuralRecommender& model, const FitOptions& options, const EpochProgress& progress = {},
              const std::function<void(const FitEpoch&)>& on_epoch = {});

}  // namespace reckon::session
