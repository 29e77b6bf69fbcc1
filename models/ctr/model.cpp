#include "reckon/models/ctr/model.h"

#include <cmath>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/fm/fm.h"
#include "reckon/kernels/random/random.h"
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

const char* to_string(DenseOptimizerKind kind) noexcept {
  switch (kind) {
    case DenseOptimizerKind::kAdam: return "adam";
    case DenseOptimizerKind::kAdagrad: return "adagrad";
    case DenseOptimizerKind::kSgd: return "sgd";
  }
  return "?";
}

namespace {

bool has_first_order(CtrModelKind k) { return k != CtrModelKind::kDnn; }
bool has_embeddings(CtrModelKind k) { return k != CtrModelKind::kLr; }
bool has_fm(CtrModelKind k) { return k == CtrModelKind::kFm || k == CtrModelKind::kDeepFm; }
bool has_dnn(CtrModelKind k) { return k == CtrModelKind::kDnn || k == CtrModelKind::kDeepFm; }

// A contiguous view of the first elements of t (workspace tensors are sized for the largest batch seen).
TensorView reshape(const TensorView& t, std::initializer_list<std::int64_t> sizes) {
  TensorView v = TensorView::contiguous(t.data, t.dtype, t.device, sizes);
  RECKON_CHECK_ARG(v.numel() <= t.numel(), "view of ", v.numel(), " elements into ", t.shape_str());
  return v;
}

Tensor zeros(Context& ctx, std::initializer_list<std::int64_t> sizes) {
  Tensor t = Tensor::empty(ctx, DType::kF32, sizes);
  fill(ctx, t, 0.0f);
  return t;
}

// A table and the state its sparse optimizer keeps, interleaved row by row in one block ([row | m | v] for Adam):
// the sparse update of a row then touches one contiguous run of memory instead of three scattered ones (for the
// first-order weights, D = 1, one cache line instead of three).
struct SparseTable {
  Tensor block;                              // [rows, stride]
  TensorView weights;                        // [rows, dim], row stride `stride`
  EmbeddingOptimizerState states;
  EmbeddingOptimizerState state() const { return states; }
};

SparseTable make_table(Context& ctx, std::int64_t rows, std::int64_t dim, SparseOptimizerKind kind, float stddev) {
  // State columns per row: Adagrad one per column, row-wise Adagrad one, Adam two per column (m, v), SGD none.
  std::int64_t state1 = 0, state2 = 0;
  switch (kind) {
    case SparseOptimizerKind::kSgd: break;
    case SparseOptimizerKind::kAdagrad: state1 = dim; break;
    case SparseOptimizerKind::kRowwiseAdagrad: state1 = 1; break;
    case SparseOptimizerKind::kAdam: state1 = state2 = dim; break;
  }
  const std::int64_t stride = embedding_interleaved_row_stride(dim, state1 + state2);
  SparseTable t;
  t.block = zeros(ctx, {rows, stride});
  auto* base = t.block.data<float>();
  t.weights = TensorView::strided_rows(base, DType::kF32, ctx.device(), rows, dim, stride);
  if (stddev > 0) {
    // Drawn contiguous, then placed: the same values as a plain [rows, dim] table would get.
    Tensor initial = Tensor::empty(ctx, DType::kF32, {rows, dim});
    random_normal(ctx, initial, 0.0f, stddev);
    copy(ctx, t.weights, initial);
    ctx.synchronize();
  } else {
    // Zero tables draw a stream too, so a seed initialises every table as it always has.
    (void)ctx.next_rng_stream();
  }
  if (state1 > 0) {
    t.states.state1 = TensorView::strided_rows(base + dim, DType::kF32, ctx.device(), rows, state1, stride);
    if (kind == SparseOptimizerKind::kRowwiseAdagrad) t.states.state1.ndim = 1;  // [rows], one value per row
  }
  if (state2 > 0) {
    t.states.state2 = TensorView::strided_rows(base + dim + state1, DType::kF32, ctx.device(), rows, state2, stride);
  }
  return t;
}

// A dense parameter with its Adam moments and gradient.
struct DenseParam {
  Tensor value, grad, m, v;
};

// One optimizer step on a dense parameter, its learning rate and step read from the clock where the step runs;
// Adagrad keeps its sum of squares in m. weight_decay: AdamW's decoupled decay with Adam, L2 on the gradient
// otherwise.
void update_dense(Context& ctx, const CtrModelConfig& config, const StepClock& clock, DenseParam& p,
                  float weight_decay = 0.0f) {
  switch (config.dense_optimizer) {
    case DenseOptimizerKind::kAdam: {
      AdamOptions adam;
      adam.weight_decay = weight_decay;
      adam.decoupled_weight_decay = true;
      adam_update(ctx, p.value, p.grad, p.m, p.v, adam, clock);
      break;
    }
    case DenseOptimizerKind::kAdagrad: adagrad_update(ctx, p.value, p.grad, p.m, clock, 1e-10f, weight_decay); break;
    case DenseOptimizerKind::kSgd: sgd_update(ctx, p.value, p.grad, clock, weight_decay); break;
  }
}

void check_rate(float value, const char* what) {
  RECKON_CHECK_ARG(value > 0.0f && std::isfinite(value), what, " must be positive and finite, got ", value);
}
void check_decay(float value, const char* what) {
  RECKON_CHECK_ARG(value >= 0.0f && std::isfinite(value), what, " must be >= 0 and finite, got ", value);
}

DenseParam make_dense(Context& ctx, std::initializer_list<std::int64_t> sizes, float bound) {
  DenseParam p{Tensor::empty(ctx, DType::kF32, sizes), zeros(ctx, sizes), zeros(ctx, sizes), zeros(ctx, sizes)};
  random_uniform(ctx, p.value, -bound, bound);
  return p;
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

struct CtrModel::Workspace {
  std::vector<SparseTable> first, embeddings;
  std::vector<TensorView> first_views, embedding_views;
  std::vector<EmbeddingOptimizerState> first_states, embedding_states;
  Tensor ones;        // [F, 1]: sums the first-order terms through the linear kernel
  DenseParam bias;    // [1]
  std::vector<DenseParam> weights, biases;  // MLP layers
  // Per-batch activations and gradients, sized for `capacity` samples.
  std::int64_t capacity = 0;
  Tensor first_out, logit, fm_out, emb, dnn_out, d_logit, d_first, d_emb, loss, prob;
  std::vector<Tensor> hidden, d_hidden;
  std::vector<EmbeddingBags> bags;
  // The per-step scalars, where the step runs: each group's learning rate, the step count and Adam's corrections,
  // and (dense) one dropout stream per hidden layer. A step captured in a CUDA graph advances them at every replay.
  StepClock sparse_clock, dense_clock;
};

CtrModel::CtrModel(Context& ctx, CtrModelConfig config, std::vector<std::int64_t> field_rows)
    : ctx_(&ctx), config_(std::move(config)), field_rows_(std::move(field_rows)), ws_(std::make_unique<Workspace>()) {
  RECKON_CHECK_ARG(!field_rows_.empty(), "a CTR model needs at least one field");
  validate(config_);
  if (config_.field_widths.empty()) config_.field_widths.assign(field_rows_.size(), 1);
  RECKON_CHECK_ARG(config_.field_widths.size() == field_rows_.size(), "field widths (", config_.field_widths.size(),
                   ") and fields (", field_rows_.size(), ") differ in number");
  layout_ = BatchLayout(config_.field_widths);
  if (config_.init_stddev == kModelInitStddev) config_.init_stddev = default_init_stddev(config_.kind);
  ctx.set_seed(config_.seed);
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  Workspace& w = *ws_;
  for (std::int64_t rows : field_rows_) {
    RECKON_CHECK_ARG(rows >= 1, "every field needs at least one row");
    if (has_first_order(config_.kind)) w.first.push_back(make_table(ctx, rows, 1, config_.sparse_optimizer, 0.0f));
    if (has_embeddings(config_.kind)) {
      w.embeddings.push_back(make_table(ctx, rows, K, config_.sparse_optimizer, config_.init_stddev));
    }
  }
  for (const SparseTable& t : w.first) {
    w.first_views.push_back(t.weights);
    w.first_states.push_back(t.state());
  }
  for (const SparseTable& t : w.embeddings) {
    w.embedding_views.push_back(t.weights);
    w.embedding_states.push_back(t.state());
  }
  w.ones = Tensor::empty(ctx, DType::kF32, {F, 1});
  random_uniform(ctx, w.ones, 1.0f, 1.0f);
  w.bias = make_dense(ctx, {1}, 0.0f);
  if (has_dnn(config_.kind)) {
    std::int64_t in = F * K;
    std::vector<int> sizes = config_.hidden;
    sizes.push_back(1);
    for (int out : sizes) {
      // Glorot-uniform weights, zero biases.
      w.weights.push_back(make_dense(ctx, {in, out}, std::sqrt(6.0f / static_cast<float>(in + out))));
      w.biases.push_back(make_dense(ctx, {out}, 0.0f));
      in = out;
    }
  }
  const SparseOptimizer sparse_defaults;
  w.sparse_clock = StepClock(ctx, config_.sparse_learning_rate, sparse_defaults.beta1, sparse_defaults.beta2);
  const AdamOptions dense_defaults;
  w.dense_clock = StepClock(ctx, config_.dense_learning_rate, dense_defaults.beta1, dense_defaults.beta2,
                            config_.hidden.size());
  ctx.synchronize();
}

void validate(const CtrModelConfig& config) {
  RECKON_CHECK_ARG(config.embed_dim >= 1 && config.embed_dim <= kEmbeddingBackwardMaxDim, "embedding dimension ",
                   config.embed_dim, " outside [1, ", kEmbeddingBackwardMaxDim, "]");
  RECKON_CHECK_ARG(config.dropout >= 0.0f && config.dropout < 1.0f, "dropout must be in [0, 1), got ", config.dropout);
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
  ws_->sparse_clock.set_learning_rate(*ctx_, sparse);
  ws_->dense_clock.set_learning_rate(*ctx_, dense);
}

std::int64_t CtrModel::step() const { return ws_->dense_clock.read(*ctx_).step; }

void CtrModel::set_step(std::int64_t step) {
  ws_->sparse_clock.set_step(*ctx_, step);
  ws_->dense_clock.set_step(*ctx_, step);
}

void CtrModel::set_dense_weight_decay(float decay) {
  check_decay(decay, "dense weight decay");
  config_.dense_weight_decay = decay;
}

CtrModel::~CtrModel() = default;
CtrModel::CtrModel(CtrModel&&) noexcept = default;
CtrModel& CtrModel::operator=(CtrModel&&) noexcept = default;

std::vector<TensorView> CtrModel::parameters() const {
  std::vector<TensorView> out;
  for (const SparseTable& t : ws_->first) out.push_back(t.weights);
  for (const SparseTable& t : ws_->embeddings) out.push_back(t.weights);
  out.push_back(ws_->bias.value);
  for (std::size_t l = 0; l < ws_->weights.size(); ++l) {
    out.push_back(ws_->weights[l].value);
    out.push_back(ws_->biases[l].value);
  }
  return out;
}

std::vector<TensorView> CtrModel::optimizer_state() const {
  std::vector<TensorView> out;
  for (const auto* tables : {&ws_->first, &ws_->embeddings}) {
    for (const SparseTable& t : *tables) {
      if (t.states.state1.data != nullptr) out.push_back(t.states.state1);
      if (t.states.state2.data != nullptr) out.push_back(t.states.state2);
    }
  }
  const auto moments = [&out](const DenseParam& p) {
    out.push_back(p.m);
    out.push_back(p.v);
  };
  moments(ws_->bias);
  for (std::size_t l = 0; l < ws_->weights.size(); ++l) {
    moments(ws_->weights[l]);
    moments(ws_->biases[l]);
  }
  return out;
}

void CtrModel::ensure_workspace(std::int64_t batch) {
  Workspace& w = *ws_;
  if (batch <= w.capacity) return;
  Context& ctx = *ctx_;
  if (ctx.capturing()) {
    RECKON_THROW(StatusCode::kUnsupported, "the model's activations would grow from ", w.capacity, " to ", batch,
                 " samples inside a CUDA graph capture; take one step at this batch size before capturing");
  }
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim, B = batch;
  w.capacity = B;
  // The old blocks are retired, not freed: a CUDA graph captured at the smaller size still points into them.
  const auto grow = [&ctx](Tensor& t, std::initializer_list<std::int64_t> sizes) {
    ctx.retire(std::move(t));
    t = Tensor::empty(ctx, DType::kF32, sizes);
  };
  grow(w.first_out, {B, F});
  grow(w.d_first, {B, F});
  grow(w.logit, {B});
  grow(w.fm_out, {B});
  grow(w.dnn_out, {B, 1});
  grow(w.d_logit, {B});
  grow(w.prob, {B});
  grow(w.loss, {1});
  grow(w.emb, {B, F, K});
  grow(w.d_emb, {B, F, K});
  w.hidden.resize(config_.hidden.size());
  w.d_hidden.resize(config_.hidden.size());
  for (std::size_t l = 0; l < config_.hidden.size(); ++l) {
    grow(w.hidden[l], {B, config_.hidden[l]});
    grow(w.d_hidden[l], {B, config_.hidden[l]});
  }
}

void CtrModel::forward(const CtrBatch& batch, bool training) {
  Context& ctx = *ctx_;
  Workspace& w = *ws_;
  const std::int64_t B = batch.size;
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  const std::int64_t C = layout_.columns;
  RECKON_CHECK_ARG(batch.ids.ndim() == 2 && batch.ids.size(0) == C && batch.ids.size(1) >= B,
                   "batch ids must be [", C, ", B]");
  const std::int64_t cap = batch.ids.size(1);
  RECKON_CHECK_ARG(layout_.bags == 0 || (batch.with_values && batch.bag_offsets.ndim() == 2 &&
                                         batch.bag_offsets.size(0) == layout_.bags && batch.bag_offsets.size(1) == cap + 1),
                   "a batch with ", layout_.bags, " multi-valued fields needs values and bag offsets [", layout_.bags,
                   ", ", cap + 1, "]");
  ensure_workspace(B);
  // One bag per sample and field: a single-valued field's ids and values are a contiguous column of B; a
  // multi-valued field's are its block, delimited by its bag offsets.
  w.bags.resize(static_cast<std::size_t>(F));
  for (std::int64_t f = 0; f < F; ++f) {
    EmbeddingBags& bag = w.bags[static_cast<std::size_t>(f)];
    const int m = layout_.bag[static_cast<std::size_t>(f)];
    const std::int64_t start = layout_.column_start[static_cast<std::size_t>(f)] * cap;
    const std::int64_t length = m < 0 ? B : cap * layout_.widths[static_cast<std::size_t>(f)];
    bag.offsets = TensorView::contiguous(m < 0 ? batch.offsets.data<std::int32_t>()
                                               : batch.bag_offsets.data<std::int32_t>() + m * (cap + 1),
                                         DType::kI32, ctx.device(), {B + 1});
    bag.indices = TensorView::contiguous(batch.ids.data<std::int32_t>() + start, DType::kI32, ctx.device(), {length});
    bag.per_sample_weights = !batch.with_values ? TensorView{}
                                                : TensorView::contiguous(batch.values.data<float>() + start,
                                                                         DType::kF32, ctx.device(), {length});
  }
  const TensorView logit = reshape(w.logit, {B});
  // Logit = bias + first order (one linear through the ones vector adds the F terms and the bias).
  if (has_first_order(config_.kind)) {
    const TensorView first = reshape(w.first_out, {B, F});
    embedding_bag_fwd(ctx, w.first_views, w.bags, first, {PoolingMode::kSum});
    linear_fwd(ctx, first, w.ones, w.bias.value, reshape(w.logit, {B, 1}));
  } else {
    // DNN alone: the bias is the output layer's.
    fill(ctx, logit, 0.0f);
  }
  if (has_embeddings(config_.kind)) {
    embedding_bag_fwd(ctx, w.embedding_views, w.bags, reshape(w.emb, {B, F, K}), {PoolingMode::kSum});
  }
  if (training) end_stage(CtrStage::kEmbeddingForward);
  if (has_fm(config_.kind)) {
    fm_interaction_fwd(ctx, reshape(w.emb, {B, F, K}), {}, reshape(w.fm_out, {B}));
    add_inplace(ctx, logit, reshape(w.fm_out, {B}));
    if (training) end_stage(CtrStage::kFm);
  }
  if (has_dnn(config_.kind)) {
    TensorView in = reshape(w.emb, {B, F * K});
    for (std::size_t l = 0; l < config_.hidden.size(); ++l) {
      const TensorView out = reshape(w.hidden[l], {B, config_.hidden[l]});
      linear_fwd(ctx, in, w.weights[l].value, w.biases[l].value, out, Activation::kRelu, config_.mlp_math);
      if (training && config_.dropout > 0.0f) dropout_fwd(ctx, out, config_.dropout, w.dense_clock, l);
      in = out;
    }
    const TensorView out = reshape(w.dnn_out, {B, 1});
    linear_fwd(ctx, in, w.weights.back().value, w.biases.back().value, out, Activation::kNone, config_.mlp_math);
    add_inplace(ctx, logit, reshape(w.dnn_out, {B}));
    if (training) end_stage(CtrStage::kMlpForward);
  }
}

const Tensor& CtrModel::train_step(const CtrBatch& batch) {
  Context& ctx = *ctx_;
  Workspace& w = *ws_;
  const std::int64_t B = batch.size;
  const auto F = static_cast<std::int64_t>(field_rows_.size());
  const std::int64_t K = config_.embed_dim;
  if (stage_timer_ != nullptr) stage_timer_->begin();
  // The step's clocks first: its dropout streams, learning rates and Adam corrections are the new step's.
  w.sparse_clock.advance(ctx);
  w.dense_clock.advance(ctx);
  forward(batch, true);
  const TensorView d_logit = reshape(w.d_logit, {B});
  const TensorView labels = TensorView::contiguous(batch.labels.data<float>(), DType::kF32, ctx.device(), {B});
  sigmoid_bce_with_logits(ctx, reshape(w.logit, {B}), labels, w.loss, d_logit,
                          1.0f / static_cast<float>(B), reshape(w.prob, {B}));
  end_stage(CtrStage::kLoss);
  SparseOptimizer sparse{config_.sparse_optimizer, config_.sparse_learning_rate};
  sparse.clock = &w.sparse_clock;
  sparse.eps = config_.sparse_optimizer == SparseOptimizerKind::kAdam ? 1e-8f : 1e-10f;

  if (has_first_order(config_.kind)) {
    // ∂/∂w_f = d_logit (times x_f, applied by the sparse backward's per-sample weights); ∂/∂bias = Σ d_logit.
    linear_bwd_data(ctx, reshape(w.d_logit, {B, 1}), w.ones, reshape(w.d_first, {B, F}));
    column_sum(ctx, reshape(w.d_logit, {B, 1}), w.bias.grad);
    update_dense(ctx, config_, w.dense_clock, w.bias);
    end_stage(CtrStage::kDenseOptimizer);
    embedding_bag_bwd_update(ctx, w.first_views, w.bags, reshape(w.d_first, {B, F}), {PoolingMode::kSum}, sparse,
                             w.first_states);
    end_stage(CtrStage::kEmbeddingBackward);
  }
  if (!has_embeddings(config_.kind)) return w.loss;
  const TensorView d_emb = reshape(w.d_emb, {B, F, K});
  if (has_fm(config_.kind)) {
    fm_interaction_bwd(ctx, reshape(w.emb, {B, F, K}), {}, d_logit, d_emb);
    end_stage(CtrStage::kFm);
  }
  if (has_dnn(config_.kind)) {
    TensorView d_out = reshape(w.d_logit, {B, 1});
    const std::size_t layers = w.weights.size();
    for (std::size_t l = layers; l-- > 0;) {
      const TensorView in = l == 0 ? reshape(w.emb, {B, F * K})
                                   : reshape(w.hidden[l - 1], {B, config_.hidden[l - 1]});
      // Layer 0's data gradient is the embeddings': with FM it is added to FM's inside the GEMM (no extra pass).
      const TensorView d_in = l == 0 ? reshape(w.d_emb, {B, F * K})
                                     : reshape(w.d_hidden[l - 1], {B, config_.hidden[l - 1]});
      linear_bwd_weights(ctx, in, d_out, w.weights[l].grad, w.biases[l].grad, config_.mlp_math);
      if (l == 0 && has_fm(config_.kind)) {
        linear_bwd_data_accumulate(ctx, d_out, w.weights[l].value, d_in, config_.mlp_math);
      } else {
        linear_bwd_data(ctx, d_out, w.weights[l].value, d_in, config_.mlp_math);
      }
      if (l > 0) {
        if (config_.dropout > 0.0f) dropout_bwd(ctx, d_in, config_.dropout, w.dense_clock, l - 1);
        relu_bwd(ctx, in, d_in);
      }
      d_out = d_in;
    }
    end_stage(CtrStage::kMlpBackward);
    for (std::size_t l = 0; l < layers; ++l) {
      update_dense(ctx, config_, w.dense_clock, w.weights[l], config_.dense_weight_decay);
      update_dense(ctx, config_, w.dense_clock, w.biases[l]);
    }
    end_stage(CtrStage::kDenseOptimizer);
  }
  sparse.weight_decay = config_.embedding_l2;
  embedding_bag_bwd_update(ctx, w.embedding_views, w.bags, d_emb, {PoolingMode::kSum}, sparse, w.embedding_states);
  end_stage(CtrStage::kEmbeddingBackward);
  return w.loss;
}

float CtrModel::read_loss() {
  float loss = 0;
  ctx_->synchronize();
  copy_bytes(*ctx_, &loss, Device::cpu(), ws_->loss.data<float>(), ctx_->device(), sizeof(float));
  ctx_->synchronize();
  return loss;
}

const Tensor& CtrModel::predict(const CtrBatch& batch) {
  forward(batch, false);
  const std::int64_t B = batch.size;
  // Probabilities through the same stable sigmoid (the batch's loss comes along and is kept for read_loss).
  const TensorView labels = TensorView::contiguous(batch.labels.data<float>(), DType::kF32, ctx_->device(), {B});
  sigmoid_bce_with_logits(*ctx_, reshape(ws_->logit, {B}), labels, ws_->loss, {}, 1.0f, reshape(ws_->prob, {B}));
  return ws_->prob;
}

}  // namespace reckon::ctr
