#include "reckon/models/ctr/model.h"

#include <cmath>

#include <optional>

#include "reckon/models/layers/arena.h"
#include "reckon/models/layers/layers.h"
#include "reckon/runtime/error.h"

namespace reckon::ctr {

CtrModelKind parse_model_kind(const std::string& name) {
  if (name == "lr") return CtrModelKind::kLr;
  if (name == "fm") return CtrModelKind::kFm;
  if (name == "dnn") return CtrModelKind::kDnn;
  if (name == "deepfm") return CtrModelKind::kDeepFm;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown model '", name, "': expected lr, fm, dnn or deepfm");
}

std::vector<std::string> ctr_stage_names() {
  return {"embedding_fwd", "fm", "mlp_fwd", "loss", "mlp_bwd", "dense_optimizer", "embedding_bwd_update"};
}

float default_init_stddev(CtrModelKind kind) noexcept {
  switch (kind) {
    case CtrModelKind::kFm: return 0.01f;
    case CtrModelKind::kDeepFm: return 0.03f;
    case CtrModelKind::kLr:
    case CtrModelKind::kDnn: break;
  }
  return 0.05f;
}

const char* to_string(CtrModelKind kind) noexcept {
  switch (kind) {
    case CtrModelKind::kLr: return "lr";
    case CtrModelKind::kFm: return "fm";
    case CtrModelKind::kDnn: return "dnn";
    case CtrModelKind::kDeepFm: return "deepfm";
  }
  return "?";
}

namespace {

bool has_first_order(CtrModelKind k) { return k != CtrModelKind::kDnn; }
bool has_embeddings(CtrModelKind k) { return k != CtrModelKind::kLr; }
bool has_fm(CtrModelKind k) { return k == CtrModelKind::kFm || k == CtrModelKind::kDeepFm; }
bool has_dnn(CtrModelKind k) { return k == CtrModelKind::kDnn || k == CtrModelKind::kDeepFm; }

void check_rate(float value, const char* what) {
  RECKON_CHECK_ARG(value > 0.0f && std::isfinite(value), what, " must be positive and finite, got ", value);
}
void check_decay(float value, const char* what) {
  RECKON_CHECK_ARG(value >= 0.0f && std::isfinite(value), what, " must be >= 0 and finite, got ", value);
}

Optimizer group_optimizer(OptimizerKind kind, float learning_rate) {
  Optimizer o;
  o.kind = kind;
  o.learning_rate = learning_rate;
  return o;
}

}  // namespace

BatchLayout::BatchLayout(std::vector<int> field_widths) : widths(std::move(field_widths)) {
  for (int w : widths) {
    RECKON_CHECK_ARG(w >= 1, "field widths must be >= 1, got ", w);
    column_start.push_back(columns);
    bag.push_back(w > 1 ? bags++ : -1);
    columns += w;
  }
}

// The model's layers and activations:
//   first-order:  FieldEmbedding "first" (dim 1, zeros) -> FieldSum (+ bias)      LR, FM, DeepFM
//   embeddings:   FieldEmbedding "embedding" (dim K) -> FmInteraction and/or Mlp  FM, DNN, DeepFM
// The sparse group steps the tables (fused into their backward), the dense group the bias and the MLP.
struct CtrModel::Layers {
  std::optional<layers::FieldEmbedding> first, embedding;
  std::optional<layers::FieldSum> field_sum;  // its bias is a parameter of every kind (the checkpoint layout)
  std::optional<layers::Mlp> mlp;
  layers::ParameterGroup sparse, dense;
  layers::ActivationArena arena;
  struct Slots {
    int first_out, d_first, logit, fm_out, dnn_out, d_logit, prob, loss, emb, d_emb;
  } slot{};
  std::vector<EmbeddingBags> bags;
  TensorView view(int s, std::initializer_list<std::int64_t> sizes) const { return arena.view(s, sizes); }
};

CtrModel::CtrModel(Context& ctx, CtrModelConfig config, std::vector<std::int64_t> field_rows)
    : ctx_(&ctx), config_(std::move(config)), field_rows_(std::move(field_rows)), net_(std::make_unique<Layers>()) {
  RECKON_CHECK_ARG(!field_rows_.empty(), "a CTR model needs at least one field");
  validate(config_);
  if (config_.field_widths.empty()) config_.field_widths.assign(field_rows_.size(), 1);
  RECKON_CHECK_ARG(config_.field_widths.size() == field_rows_.size(), "field widths (", config_.field_widths.size(),
                   ") and fields (", field_rows_.size(), ") differ in number");
  for (const std::int64_t rows : field_rows_) RECKON_CHECK_ARG(rows >= 1, "every field needs at least one row");
  layout_ = BatchLayout(config_.field_widths);
  if (config_.init_stddev == kModelInitStddev) config_.init_stddev = default_init_stddev(config_.kind);
  build_layers(ctx);
  ctx.synchronize();
}

// The seed's streams are drawn in the order every reckon CTR model has drawn them (each field's first-order table,
// then its embedding table; the ones vector; the bias; the MLP; the clocks), so a seed gives the same model.
void CtrModel::build_layers(Context& ctx) {
  ctx.set_seed(config_.seed);
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  const CtrModelKind kind = config_.kind;
  std::vector<std::uint64_t> first_streams, embedding_streams;
  for (std::int64_t f = 0; f < F; ++f) {
    if (has_first_order(kind)) first_streams.push_back(ctx.next_rng_stream());
    if (has_embeddings(kind)) embedding_streams.push_back(ctx.next_rng_stream());
  }
  Layers& n = *net_;
  if (has_first_order(kind)) {
    n.first.emplace(ctx, "first_order", field_rows_, 1, config_.sparse_optimizer, 0.0f, first_streams);
  }
  if (has_embeddings(kind)) {
    n.embedding.emplace(ctx, "embedding", field_rows_, K, config_.sparse_optimizer, config_.init_stddev,
                        embedding_streams);
  }
  (void)ctx.next_rng_stream();  // the ones vector's, once drawn from a uniform [1, 1]
  n.field_sum.emplace(ctx, "logit", F, ctx.next_rng_stream());
  if (has_dnn(kind)) n.mlp.emplace(ctx, "mlp", F * K, config_.hidden, 1, config_.dropout, n.arena);
  n.sparse = layers::ParameterGroup(ctx, group_optimizer(config_.sparse_optimizer, config_.sparse_learning_rate));
  n.dense = layers::ParameterGroup(ctx, group_optimizer(config_.dense_optimizer, config_.dense_learning_rate),
                                   config_.hidden.size());
  auto& s = n.slot;
  s.first_out = n.arena.add(F);
  s.d_first = n.arena.add(F);
  s.logit = n.arena.add(1);
  s.fm_out = n.arena.add(1);
  s.dnn_out = n.arena.add(1);
  s.d_logit = n.arena.add(1);
  s.prob = n.arena.add(1);
  s.loss = n.arena.add(0, 1);
  s.emb = n.arena.add(F * K);
  s.d_emb = n.arena.add(F * K);
}

void validate(const CtrModelConfig& config) {
  RECKON_CHECK_ARG(config.embed_dim >= 1 && config.embed_dim <= kEmbeddingBackwardMaxDim, "embedding dimension ",
                   config.embed_dim, " outside [1, ", kEmbeddingBackwardMaxDim, "]");
  RECKON_CHECK_ARG(config.dropout >= 0.0f && config.dropout < 1.0f, "dropout must be in [0, 1), got ", config.dropout);
  RECKON_CHECK_ARG(config.dense_optimizer != OptimizerKind::kRowwiseAdagrad,
                   "the dense layers have no rows: use adagrad for them (row-wise Adagrad is for the embeddings)");
  check_rate(config.sparse_learning_rate, "the embeddings' learning rate");
  check_rate(config.dense_learning_rate, "the dense layers' learning rate");
  check_decay(config.dense_weight_decay, "dense weight decay");
  check_decay(config.embedding_l2, "embedding L2");
  if (config.init_stddev != kModelInitStddev) {
    check_decay(config.init_stddev, "the embeddings' initial standard deviation");
  }
  for (const int h : config.hidden) RECKON_CHECK_ARG(h >= 1, "hidden layer sizes must be positive, got ", h);
  for (const int w : config.field_widths) RECKON_CHECK_ARG(w >= 1, "field widths must be >= 1, got ", w);
}

void CtrModel::set_learning_rates(float sparse, float dense) {
  check_rate(sparse, "the embeddings' learning rate");
  check_rate(dense, "the dense layers' learning rate");
  config_.sparse_learning_rate = sparse;
  config_.dense_learning_rate = dense;
  net_->sparse.set_learning_rate(*ctx_, sparse);
  net_->dense.set_learning_rate(*ctx_, dense);
}

std::int64_t CtrModel::step() const { return net_->dense.clock().read(*ctx_).step; }

void CtrModel::set_step(std::int64_t step) {
  net_->sparse.clock().set_step(*ctx_, step);
  net_->dense.clock().set_step(*ctx_, step);
}

void CtrModel::set_dense_weight_decay(float decay) {
  check_decay(decay, "dense weight decay");
  config_.dense_weight_decay = decay;
}

CtrModel::~CtrModel() = default;
CtrModel::CtrModel(CtrModel&&) noexcept = default;
CtrModel& CtrModel::operator=(CtrModel&&) noexcept = default;

std::vector<layers::NamedTensor> CtrModel::named_parameters() const {
  std::vector<layers::NamedTensor> out;
  if (net_->first) net_->first->append_parameters(out);
  if (net_->embedding) net_->embedding->append_parameters(out);
  net_->field_sum->append_parameters(out);
  if (net_->mlp) net_->mlp->append_parameters(out);
  return out;
}

std::vector<layers::NamedTensor> CtrModel::named_optimizer_state() const {
  std::vector<layers::NamedTensor> out;
  if (net_->first) net_->first->append_optimizer_state(out);
  if (net_->embedding) net_->embedding->append_optimizer_state(out);
  net_->field_sum->append_optimizer_state(out);
  if (net_->mlp) net_->mlp->append_optimizer_state(out);
  return out;
}

namespace {
std::vector<TensorView> views_of(const std::vector<layers::NamedTensor>& named) {
  std::vector<TensorView> out;
  for (const layers::NamedTensor& t : named) out.push_back(t.view);
  return out;
}
}  // namespace

std::vector<TensorView> CtrModel::parameters() const { return views_of(named_parameters()); }
std::vector<TensorView> CtrModel::optimizer_state() const { return views_of(named_optimizer_state()); }

// One bag per sample and field: a single-valued field's ids and values are a contiguous column of B; a
// multi-valued field's are its block, delimited by its bag offsets.
void CtrModel::bind_bags(const CtrBatch& batch) {
  const std::int64_t B = batch.size, C = layout_.columns;
  RECKON_CHECK_ARG(batch.ids.ndim() == 2 && batch.ids.size(0) == C && batch.ids.size(1) >= B,
                   "batch ids must be [", C, ", B]");
  const std::int64_t cap = batch.ids.size(1);
  RECKON_CHECK_ARG(layout_.bags == 0 || (batch.with_values && batch.bag_offsets.ndim() == 2 &&
                                         batch.bag_offsets.size(0) == layout_.bags && batch.bag_offsets.size(1) == cap + 1),
                   "a batch with ", layout_.bags, " multi-valued fields needs values and bag offsets [", layout_.bags,
                   ", ", cap + 1, "]");
  const Device device = ctx_->device();
  auto& bags = net_->bags;
  bags.resize(field_rows_.size());
  for (std::size_t f = 0; f < bags.size(); ++f) {
    EmbeddingBags& bag = bags[f];
    const int m = layout_.bag[f];
    const std::int64_t start = layout_.column_start[f] * cap;
    const std::int64_t length = m < 0 ? B : cap * layout_.widths[f];
    bag.offsets = TensorView::contiguous(m < 0 ? batch.offsets.data<std::int32_t>()
                                               : batch.bag_offsets.data<std::int32_t>() + m * (cap + 1),
                                         DType::kI32, device, {B + 1});
    bag.indices = TensorView::contiguous(batch.ids.data<std::int32_t>() + start, DType::kI32, device, {length});
    bag.per_sample_weights = !batch.with_values ? TensorView{}
                                                : TensorView::contiguous(batch.values.data<float>() + start,
                                                                         DType::kF32, device, {length});
  }
}

void CtrModel::forward(const CtrBatch& batch, bool training) {
  Context& ctx = *ctx_;
  Layers& n = *net_;
  const std::int64_t B = batch.size;
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  bind_bags(batch);
  n.arena.reserve(ctx, B);
  const TensorView logit = n.view(n.slot.logit, {B});
  if (n.first) {
    // Logit = bias + first order (one product with the ones vector adds the F terms and the bias).
    const TensorView first = n.view(n.slot.first_out, {B, F});
    n.first->forward(ctx, n.bags, first);
    n.field_sum->forward(ctx, first, n.view(n.slot.logit, {B, 1}));
  } else {
    fill(ctx, logit, 0.0f);  // DNN alone: the bias is the output layer's
  }
  if (n.embedding) n.embedding->forward(ctx, n.bags, n.view(n.slot.emb, {B, F, K}));
  if (training) end_stage(CtrStage::kEmbeddingForward);
  if (has_fm(config_.kind)) {
    const TensorView fm_out = n.view(n.slot.fm_out, {B});
    layers::FmInteraction::forward(ctx, n.view(n.slot.emb, {B, F, K}), fm_out);
    add_inplace(ctx, logit, fm_out);
    if (training) end_stage(CtrStage::kFm);
  }
  if (n.mlp) {
    const TensorView out = n.view(n.slot.dnn_out, {B, 1});
    n.mlp->forward(ctx, n.view(n.slot.emb, {B, F * K}), out, training, n.dense.clock(), config_.mlp_math);
    add_inplace(ctx, logit, n.view(n.slot.dnn_out, {B}));
    if (training) end_stage(CtrStage::kMlpForward);
  }
}

TensorView CtrModel::train_step(const CtrBatch& batch) {
  Context& ctx = *ctx_;
  Layers& n = *net_;
  const std::int64_t B = batch.size;
  if (stage_timer_ != nullptr) stage_timer_->begin();
  // The step's clocks first: its dropout streams, learning rates and Adam corrections are the new step's.
  n.sparse.advance(ctx);
  n.dense.advance(ctx);
  forward(batch, true);
  const TensorView labels = TensorView::contiguous(batch.labels.data<float>(), DType::kF32, ctx.device(), {B});
  layers::SigmoidBce::forward_backward(ctx, n.view(n.slot.logit, {B}), labels, n.view(n.slot.loss, {1}),
                                       n.view(n.slot.d_logit, {B}), 1.0f / static_cast<float>(B),
                                       n.view(n.slot.prob, {B}));
  end_stage(CtrStage::kLoss);
  if (n.first) first_order_backward(B);
  if (n.embedding) embedding_backward(B);
  return n.view(n.slot.loss, {1});
}

// ∂/∂w_f = d_logit (times x_f, applied by the sparse backward's per-sample weights); ∂/∂bias = Σ d_logit.
void CtrModel::first_order_backward(std::int64_t B) {
  Context& ctx = *ctx_;
  Layers& n = *net_;
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const TensorView d_first = n.view(n.slot.d_first, {B, F});
  n.field_sum->backward(ctx, n.view(n.slot.d_logit, {B, 1}), d_first);
  n.field_sum->update(ctx, n.dense);
  end_stage(CtrStage::kDenseOptimizer);
  n.first->backward_update(ctx, n.bags, d_first, n.sparse, 0.0f);
  end_stage(CtrStage::kEmbeddingBackward);
}

// FM's and the MLP's gradients of the shared embeddings meet in d_emb: the MLP's first layer adds its data gradient
// to FM's inside the product (no extra pass).
void CtrModel::embedding_backward(std::int64_t B) {
  Context& ctx = *ctx_;
  Layers& n = *net_;
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  const TensorView d_emb = n.view(n.slot.d_emb, {B, F, K});
  const bool fm = has_fm(config_.kind);
  if (fm) {
    layers::FmInteraction::backward(ctx, n.view(n.slot.emb, {B, F, K}), n.view(n.slot.d_logit, {B}), d_emb);
    end_stage(CtrStage::kFm);
  }
  if (n.mlp) {
    n.mlp->backward(ctx, n.view(n.slot.emb, {B, F * K}), n.view(n.slot.d_logit, {B, 1}),
                    n.view(n.slot.d_emb, {B, F * K}), fm, n.dense.clock(), config_.mlp_math);
    end_stage(CtrStage::kMlpBackward);
    n.mlp->update(ctx, n.dense, config_.dense_weight_decay);
    end_stage(CtrStage::kDenseOptimizer);
  }
  n.embedding->backward_update(ctx, n.bags, d_emb, n.sparse, config_.embedding_l2);
  end_stage(CtrStage::kEmbeddingBackward);
}

float CtrModel::read_loss() {
  float loss = 0;
  ctx_->synchronize();
  copy_bytes(*ctx_, &loss, Device::cpu(), net_->view(net_->slot.loss, {1}).data, ctx_->device(), sizeof(float));
  ctx_->synchronize();
  return loss;
}

TensorView CtrModel::predict(const CtrBatch& batch) {
  forward(batch, false);
  Layers& n = *net_;
  const std::int64_t B = batch.size;
  // Probabilities through the same stable sigmoid (the batch's loss comes along and is kept for read_loss).
  const TensorView labels = TensorView::contiguous(batch.labels.data<float>(), DType::kF32, ctx_->device(), {B});
  layers::SigmoidBce::forward_backward(*ctx_, n.view(n.slot.logit, {B}), labels, n.view(n.slot.loss, {1}), {}, 1.0f,
                                       n.view(n.slot.prob, {B}));
  return n.view(n.slot.prob, {B});
}

}  // namespace reckon::ctr
