// CTR models on one field-embedding layout: LR, FM, DNN and DeepFM (Guo et al. 2017). One class, either device.
//
//   logit = bias + Σ_f w_f[id_f] · x_f                     (first order: LR, FM, DeepFM)
//         + FM(v_1 x_1, ..., v_F x_F)                       (pairwise term: FM, DeepFM)
//         + MLP([v_1 x_1, ..., v_F x_F])                    (deep part: DNN, DeepFM; hidden ReLU layers, dropout)
//   p = sigmoid(logit);  loss = binary cross-entropy
// DeepFM's FM and DNN share the field embeddings v. Matrix factorisation is FM over a user field and an item field.
// Embeddings and first-order weights are updated sparsely (only the rows of the batch; kernels/embedding);
// dense parameters with Adam.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/optim/optimizer.h"
#include "reckon/models/layers/layers.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/timer.h"

namespace reckon::ctr {

enum class CtrModelKind : std::uint8_t { kLr, kFm, kDnn, kDeepFm };
CtrModelKind parse_model_kind(const std::string& name);  // lr, fm, dnn, deepfm
const char* to_string(CtrModelKind kind) noexcept;

// The optimizer of the dense parameters (MLP weights and biases, the global bias): Adam, Adagrad or SGD. The two
// parameter groups, the embeddings (sparse_*) and the dense layers (dense_*), have their own optimizer and learning
// rate; the CLI's --optimizer and --lr set both, --embed-* and --dense-* one group.
using DenseOptimizerKind = OptimizerKind;

// The embeddings' initial standard deviation by model, chosen by validation on several logs (docs/CTR.md): FM
// learns best from small vectors (its initial pair products are noise on the logit, 741 of them with 39 fields),
// the DNN from larger ones (its order-3 term leaves the plateau sooner), DeepFM between the two.
inline constexpr float kModelInitStddev = -1.0f;
float default_init_stddev(CtrModelKind kind) noexcept;  // FM 0.01, DeepFM 0.03, DNN 0.05 (LR has no embeddings)

struct CtrModelConfig {
  CtrModelKind kind = CtrModelKind::kDeepFm;
  int embed_dim = 16;
  std::vector<int> hidden = {400, 400, 400};
  float dropout = 0.0f;
  float embedding_l2 = 0.0f;  // weight decay on the embedding rows a batch touches
  SparseOptimizerKind sparse_optimizer = SparseOptimizerKind::kAdam;
  DenseOptimizerKind dense_optimizer = DenseOptimizerKind::kAdam;
  float sparse_learning_rate = 1e-3f;
  float dense_learning_rate = 1e-3f;
  // Weight decay on the MLP's weight matrices (not biases): decoupled (AdamW) with Adam, L2 on the gradient with
  // Adagrad and SGD. The embeddings have their own (embedding_l2, on the rows a batch touches).
  float dense_weight_decay = 0.0f;
  // The MLP's matrix products: kF32, or kAllowTf32 for TF32 tensor cores on a GPU (inputs rounded to a 10-bit
  // mantissa, accumulation in f32; the CPU path is f32 either way). A run-time choice: not saved in checkpoints.
  DenseMath mlp_math = DenseMath::kF32;
  // Embeddings ~ N(0, init_stddev²); kModelInitStddev: the model's default (default_init_stddev), resolved when the
  // model is built (config() and checkpoints hold the value used).
  float init_stddev = kModelInitStddev;
  // Per field: 1, or the bag width of a multi-valued field (its vector is the mean of its items'). Empty: all 1.
  std::vector<int> field_widths;
  std::uint64_t seed = 1;
};

// Where each field's ids sit in a dataset row and in a batch. A single-valued field has width 1; a multi-valued
// one (a bag of items, e.g. a movie's genres) has width W = the most items a row may keep. A row has `columns`
// = Σ widths entries, field f's at [column_start[f], column_start[f] + width): in a dataset row the bag's items
// then padding (id -1, never read); in a batch, field f's block starts at column_start[f] · capacity and holds
// the batch's items packed, with offsets per multi-valued field.
struct BatchLayout {
  BatchLayout() = default;
  explicit BatchLayout(std::vector<int> field_widths);  // every width >= 1
  std::vector<int> widths;
  std::vector<std::int64_t> column_start;
  std::vector<int> bag;  // per field: its index among the multi-valued fields (width > 1), or -1
  std::int64_t columns = 0;
  int bags = 0;
};

// One batch on the model's device, field-major so each field's block is contiguous.
struct CtrBatch {
  std::int64_t size = 0;
  Tensor ids;          // i32 [columns, capacity]
  Tensor values;       // f32 [columns, capacity]; read only when with_values (otherwise every value is 1)
  bool with_values = false;  // always true with multi-valued fields (their items weigh 1/length)
  Tensor labels;       // f32 [capacity]
  Tensor offsets;      // i32 [capacity + 1]: 0, 1, ..., capacity (single-valued fields)
  Tensor bag_offsets;  // i32 [bags, capacity + 1]: each multi-valued field's bag offsets into its block
};

// The stages of a training step, for profiling (CtrModel::set_stage_timer). The sparse optimizer runs fused into
// the embedding scatter, so its time is in kEmbeddingBackward.
enum class CtrStage : int {
  kEmbeddingForward,   // gathers of the first-order weights and the field embeddings
  kFm,                 // pairwise interaction, forward and backward
  kMlpForward,         // linear + bias + ReLU (+ dropout) layers
  kLoss,               // sigmoid + binary cross-entropy and its gradient
  kMlpBackward,        // data and weight gradients of the layers
  kDenseOptimizer,     // Adam on the MLP weights and the bias
  kEmbeddingBackward,  // scatter of the gradients with the fused sparse optimizer update
  kCount
};
std::vector<std::string> ctr_stage_names();  // in CtrStage order: embedding_fwd, fm, mlp_fwd, ...

// Throws kInvalidArgument for settings out of range (the constructor calls it; callers that read large files first
// check before reading). Field widths are checked against the fields by the constructor.
void validate(const CtrModelConfig& config);

class CtrModel {
 public:
  CtrModel(Context& ctx, CtrModelConfig config, std::vector<std::int64_t> field_rows);
  ~CtrModel();
  CtrModel(CtrModel&&) noexcept;
  CtrModel& operator=(CtrModel&&) noexcept;

  const CtrModelConfig& config() const { return config_; }
  // For learning-rate schedules: applies from the next training step. Rates must be positive and finite.
  void set_learning_rates(float sparse, float dense);
  // Applies from the next training step; >= 0 and finite.
  void set_dense_weight_decay(float decay);
  void set_mlp_math(DenseMath math) { config_.mlp_math = math; }
  const std::vector<std::int64_t>& field_rows() const { return field_rows_; }
  const BatchLayout& layout() const { return layout_; }
  Context& context() const { return *ctx_; }

  // Forward, backward and update on one batch; returns the batch's summed loss as a device scalar, f32 [1] (read
  // it with read_loss, which synchronises).
  TensorView train_step(const CtrBatch& batch);
  float read_loss();
  // Click probabilities for a batch, in f32 [B] on the model's device (valid until the next call).
  TensorView predict(const CtrBatch& batch);

  // Parameters in a fixed order (tables, then dense), for checkpoints and tests; named_* with the layers' names.
  std::vector<TensorView> parameters() const;
  std::vector<layers::NamedTensor> named_parameters() const;
  // The optimizers' state in a fixed order (each table's sparse state, then each dense parameter's moments), so a
  // checkpoint can resume training exactly where it stopped.
  std::vector<TensorView> optimizer_state() const;
  std::vector<layers::NamedTensor> named_optimizer_state() const;
  // Steps taken (read from where the steps run: synchronises the context).
  std::int64_t step() const;
  // Profile training steps by stage: a timer built with ctr_stage_names() on the model's context, or null (the
  // default) for none. Marks on a GPU are stream events, so profiling does not serialise the step.
  void set_stage_timer(StageTimer* timer) { stage_timer_ = timer; }
  void set_step(std::int64_t step);

 private:
  struct Layers;
  void build_layers(Context& ctx);
  void bind_bags(const CtrBatch& batch);
  void forward(const CtrBatch& batch, bool training);
  void first_order_backward(std::int64_t batch);
  void embedding_backward(std::int64_t batch);
  void end_stage(CtrStage stage) {
    if (stage_timer_ != nullptr) stage_timer_->end_stage(static_cast<int>(stage));
  }

  Context* ctx_;
  CtrModelConfig config_;
  std::vector<std::int64_t> field_rows_;
  BatchLayout layout_;
  std::unique_ptr<Layers> net_;
  StageTimer* stage_timer_ = nullptr;
};

}  // namespace reckon::ctr
