// The output layer of a neural session model (GRU4Rec, the 3D CNN): every catalogue item's score from a state
// h [B, H], trained with one of two losses:
// - cross-entropy over the whole catalogue: [H, N] weights and a bias (a Linear layer), the softmax kernel;
// - BPR-max (Hidasi & Karatzoglou 2018) over sampled columns: an [N, H] item table and an [N] bias, of which a step
//   reads and updates only its columns, the batch's targets (each row's negatives include the other rows' targets)
//   and `samples` items drawn with probability ∝ count^sample_alpha; the loss is the softmax family's bpr_max_loss.
// With content features (BPR-max only), an item's column is its own vector plus the mean of its features' vectors
// (and its bias its own plus their mean), so items that share features share what they learn: a rarely clicked item
// scores by what its features learned from the others, and an item without training clicks (never a target, never
// sampled) by its features alone.
// Scoring always ranks every item.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reckon/kernels/optim/optimizer.h"
#include "reckon/models/layers/layers.h"
#include "reckon/models/session/recommender.h"

namespace reckon::session {

// i32 [n] holding 0, 1, ..., n - 1 on ctx's device: the offsets of one-item bags, the columns of a step.
Tensor index_tensor(Context& ctx, std::int64_t n);

// The per-row losses of a training epoch's steps, kept on the device and read back 64 steps at a time (so the host
// seldom waits), summed in step order; throws kNumericError naming `model` and the epoch when the sum stops being
// finite.
class EpochLosses {
 public:
  EpochLosses(Context& ctx, std::int64_t rows, std::string model, int epoch);
  TensorView next();  // the next step's [rows] losses
  double sum();       // everything so far, read back
 private:
  static constexpr std::int64_t kChunk = 64;
  void drain();
  Context& ctx_;
  std::int64_t rows_, pending_ = 0;
  std::string model_;
  int epoch_;
  Tensor device_;
  std::vector<float> host_;
  double sum_ = 0;
};

enum class ItemLoss : std::uint8_t { kCrossEntropy, kBprMax };
const char* to_string(ItemLoss loss) noexcept;
ItemLoss parse_item_loss(std::string_view name);  // "cross-entropy" | "bpr-max"

struct ItemOutputOptions {
  ItemLoss loss = ItemLoss::kBprMax;
  std::int64_t samples = 2048;      // BPR-max: negatives drawn per step beside the batch's targets
  float sample_alpha = 0.5f;        // BPR-max: negatives drawn with probability ∝ count^alpha
  float bpr_regularization = 1.0f;  // BPR-max: λ of the score regulariser
};

// Content features of the catalogue items: item i's are ids features[offsets[i], offsets[i + 1]) in
// [0, vocabulary). Empty (vocabulary 0): none.
struct ItemFeatures {
  std::int64_t vocabulary = 0;
  std::vector<std::int32_t> offsets{0}, features;
};

class ItemOutput {
 public:
  // Draws its initial values' streams from ctx (the Linear's weight and bias; or the item table's, then the
  // sampler's); `sparse` is the optimizer of BPR-max's sparse rows; batch: the rows of a training step.
  ItemOutput(Context& ctx, const Catalog& catalog, std::int64_t hidden, std::int64_t batch,
             const ItemOutputOptions& options, OptimizerKind sparse, std::uint64_t seed,
             const ItemFeatures& features = {});
  ~ItemOutput();
  ItemOutput(const ItemOutput&) = delete;
  ItemOutput& operator=(const ItemOutput&) = delete;

  // One step: the losses [B] of y [B, H] (the batch's states) against `targets` (B catalogue ids, host), scaled by
  // 1/B into dy [B, H]; the output parameters step in `group`. Enqueued on ctx's stream.
  void train_step(const layers::ParameterGroup& group, const TensorView& y, std::span<const std::int32_t> targets,
                  const TensorView& losses, const TensorView& dy);
  // scores [rows, N] for h [rows, H].
  void score(const TensorView& h, const TensorView& scores);

  const ItemOutputOptions& options() const { return options_; }
  void append_parameters(std::vector<layers::NamedTensor>& out) const;
  void append_optimizer_state(std::vector<layers::NamedTensor>& out) const;

 private:
  struct Impl;
  ItemOutputOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reckon::session
