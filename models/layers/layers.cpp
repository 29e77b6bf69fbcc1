#include "reckon/models/layers/layers.h"

#include <cmath>

#include "reckon/kernels/fm/fm.h"
#include "reckon/kernels/random/random.h"
#include "reckon/models/layers/arena.h"
#include "reckon/runtime/error.h"

namespace reckon::layers {

namespace {

Tensor zeros(Context& ctx, std::initializer_list<std::int64_t> sizes) {
  Tensor t = Tensor::empty(ctx, DType::kF32, sizes);
  fill(ctx, t, 0.0f);
  return t;
}

void append_dense(std::vector<NamedTensor>& out, const DenseParameter& p) { out.push_back({p.name, p.value}); }
void append_moments(std::vector<NamedTensor>& out, const DenseParameter& p) {
  out.push_back({p.name + ".m", p.m});
  out.push_back({p.name + ".v", p.v});
}

}  // namespace

ParameterGroup::ParameterGroup(Context& ctx, const Optimizer& optimizer, std::uint64_t rng_streams_per_step)
    : optimizer_(optimizer),
      clock_(ctx, optimizer.learning_rate, optimizer.beta1, optimizer.beta2, rng_streams_per_step) {}

void ParameterGroup::set_learning_rate(Context& ctx, float rate) {
  optimizer_.learning_rate = rate;
  clock_.set_learning_rate(ctx, rate);
}

Optimizer ParameterGroup::settings(float weight_decay) const {
  Optimizer o = optimizer_;
  o.clock = &clock_;
  o.weight_decay = weight_decay;
  o.decoupled_weight_decay = optimizer_.kind == OptimizerKind::kAdam;
  return o;
}

DenseParameter::DenseParameter(Context& ctx, std::string parameter_name, std::initializer_list<std::int64_t> sizes,
                               float bound, std::uint64_t stream)
    : name(std::move(parameter_name)),
      value(Tensor::empty(ctx, DType::kF32, sizes)),
      grad(zeros(ctx, sizes)),
      m(zeros(ctx, sizes)),
      v(zeros(ctx, sizes)) {
  random_uniform(ctx, value, -bound, bound, stream);
}

void DenseParameter::update(Context& ctx, const ParameterGroup& group, float weight_decay) const {
  optimizer_update(ctx, group.settings(weight_decay), value, grad, m, v);
}

Linear::Linear(Context& ctx, const std::string& name, std::int64_t in, std::int64_t out, Activation activation,
               std::uint64_t weight_stream, std::uint64_t bias_stream)
    : in_(in),
      out_(out),
      activation_(activation),
      weight_(ctx, name + ".weight", {in, out}, std::sqrt(6.0f / static_cast<float>(in + out)), weight_stream),
      bias_(ctx, name + ".bias", {out}, 0.0f, bias_stream) {}

void Linear::forward(Context& ctx, const TensorView& x, const TensorView& y, DenseMath math) const {
  linear_fwd(ctx, x, weight_.value, bias_.value, y, activation_, math);
}

void Linear::backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx,
                      bool accumulate_dx, DenseMath math) const {
  linear_bwd_weights(ctx, x, dy, weight_.grad, bias_.grad, math);
  if (dx.data == nullptr) return;
  if (accumulate_dx) {
    linear_bwd_data_accumulate(ctx, dy, weight_.value, dx, math);
  } else {
    linear_bwd_data(ctx, dy, weight_.value, dx, math);
  }
}

void Linear::update(Context& ctx, const ParameterGroup& group, float weight_decay) const {
  weight_.update(ctx, group, weight_decay);
  bias_.update(ctx, group);
}

void Linear::append_parameters(std::vector<NamedTensor>& out) const {
  append_dense(out, weight_);
  append_dense(out, bias_);
}

void Linear::append_optimizer_state(std::vector<NamedTensor>& out) const {
  append_moments(out, weight_);
  append_moments(out, bias_);
}

void Dropout::forward(Context& ctx, const TensorView& data, const StepClock& clock) const {
  if (rate_ > 0.0f) dropout_fwd(ctx, data, rate_, clock, index_);
}

void Dropout::backward(Context& ctx, const TensorView& diff, const StepClock& clock) const {
  if (rate_ > 0.0f) dropout_bwd(ctx, diff, rate_, clock, index_);
}

Mlp::Mlp(Context& ctx, const std::string& name, std::int64_t in, const std::vector<int>& hidden, std::int64_t out,
         float dropout, ActivationArena& arena)
    : arena_(&arena) {
  std::vector<std::int64_t> sizes(hidden.begin(), hidden.end());
  sizes.push_back(out);
  for (std::size_t l = 0; l < sizes.size(); ++l) {
    const bool last = l + 1 == sizes.size();
    const std::uint64_t weight_stream = ctx.next_rng_stream();
    const std::uint64_t bias_stream = ctx.next_rng_stream();
    layers_.emplace_back(ctx, name + "." + std::to_string(l), in, sizes[l], last ? Activation::kNone : Activation::kRelu,
                         weight_stream, bias_stream);
    if (!last) {
      dropouts_.emplace_back(dropout, l);
      hidden_slots_.push_back(arena.add(sizes[l]));
      d_hidden_slots_.push_back(arena.add(sizes[l]));
    }
    in = sizes[l];
  }
}

TensorView Mlp::hidden(std::size_t l, std::int64_t batch) const {
  return arena_->view(hidden_slots_[l], {batch, layers_[l].out()});
}

TensorView Mlp::d_hidden(std::size_t l, std::int64_t batch) const {
  return arena_->view(d_hidden_slots_[l], {batch, layers_[l].out()});
}

void Mlp::forward(Context& ctx, const TensorView& x, const TensorView& y, bool training, const StepClock& clock,
                  DenseMath math) const {
  const std::int64_t B = x.size(0);
  TensorView in = x;
  for (std::size_t l = 0; l < hidden_layers(); ++l) {
    const TensorView out = hidden(l, B);
    layers_[l].forward(ctx, in, out, math);
    if (training) dropouts_[l].forward(ctx, out, clock);
    in = out;
  }
  layers_.back().forward(ctx, in, y, math);
}

void Mlp::backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx, bool accumulate_dx,
                   const StepClock& clock, DenseMath math) const {
  const std::int64_t B = x.size(0);
  TensorView d_out = dy;
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const TensorView in = l == 0 ? x : hidden(l - 1, B);
    const TensorView d_in = l == 0 ? dx : d_hidden(l - 1, B);
    layers_[l].backward(ctx, in, d_out, d_in, l == 0 && accumulate_dx, math);
    if (l > 0) {
      // Through the hidden layer's dropout, then its ReLU (its output after dropout has the same signs).
      dropouts_[l - 1].backward(ctx, d_in, clock);
      relu_bwd(ctx, in, d_in);
    }
    d_out = d_in;
  }
}

void Mlp::update(Context& ctx, const ParameterGroup& group, float weight_decay) const {
  for (const Linear& layer : layers_) layer.update(ctx, group, weight_decay);
}

void Mlp::append_parameters(std::vector<NamedTensor>& out) const {
  for (const Linear& layer : layers_) layer.append_parameters(out);
}

void Mlp::append_optimizer_state(std::vector<NamedTensor>& out) const {
  for (const Linear& layer : layers_) layer.append_optimizer_state(out);
}

FieldEmbedding::FieldEmbedding(Context& ctx, const std::string& name, const std::vector<std::int64_t>& rows,
                               std::int64_t dim, OptimizerKind optimizer, float init_stddev,
                               std::span<const std::uint64_t> streams)
    : name_(name), dim_(dim) {
  RECKON_CHECK_ARG(init_stddev == 0.0f || streams.size() == rows.size(), name, ": ", rows.size(),
                   " tables need as many initial streams, got ", streams.size());
  // State columns per row: Adagrad one per column, row-wise Adagrad one, Adam two per column (m, v), SGD none.
  std::int64_t state1 = 0, state2 = 0;
  switch (optimizer) {
    case OptimizerKind::kSgd: break;
    case OptimizerKind::kAdagrad: state1 = dim; break;
    case OptimizerKind::kRowwiseAdagrad: state1 = 1; break;
    case OptimizerKind::kAdam: state1 = state2 = dim; break;
  }
  const std::int64_t stride = embedding_interleaved_row_stride(dim, state1 + state2);
  for (std::size_t f = 0; f < rows.size(); ++f) {
    RECKON_CHECK_ARG(rows[f] >= 1, name, ": every table needs at least one row");
    blocks_.push_back(zeros(ctx, {rows[f], stride}));
    auto* base = blocks_.back().data<float>();
    tables_.push_back(TensorView::strided_rows(base, DType::kF32, ctx.device(), rows[f], dim, stride));
    if (init_stddev > 0.0f) {
      // Drawn contiguous, then placed: the same values as a plain [rows, dim] table would get.
      Tensor initial = Tensor::empty(ctx, DType::kF32, {rows[f], dim});
      random_normal(ctx, initial, 0.0f, init_stddev, streams[f]);
      copy(ctx, tables_.back(), initial);
      ctx.synchronize();
    }
    EmbeddingOptimizerState state;
    if (state1 > 0) {
      state.state1 = TensorView::strided_rows(base + dim, DType::kF32, ctx.device(), rows[f], state1, stride);
      if (optimizer == OptimizerKind::kRowwiseAdagrad) state.state1.ndim = 1;  // [rows], one value per row
    }
    if (state2 > 0) {
      state.state2 = TensorView::strided_rows(base + dim + state1, DType::kF32, ctx.device(), rows[f], state2, stride);
    }
    states_.push_back(state);
  }
}

void FieldEmbedding::forward(Context& ctx, std::span<const EmbeddingBags> bags, const TensorView& out) const {
  embedding_bag_fwd(ctx, tables_, bags, out, {PoolingMode::kSum});
}

void FieldEmbedding::backward_update(Context& ctx, std::span<const EmbeddingBags> bags, const TensorView& diff,
                                     const ParameterGroup& group, float weight_decay) const {
  Optimizer o = group.settings(weight_decay);
  o.decoupled_weight_decay = false;  // L2 on the rows a batch touches, whatever the kind
  embedding_bag_bwd_update(ctx, tables_, bags, diff, {PoolingMode::kSum}, o, states_);
}

void FieldEmbedding::append_parameters(std::vector<NamedTensor>& out) const {
  for (std::size_t f = 0; f < tables_.size(); ++f) out.push_back({name_ + "." + std::to_string(f), tables_[f]});
}

void FieldEmbedding::append_optimizer_state(std::vector<NamedTensor>& out) const {
  for (std::size_t f = 0; f < states_.size(); ++f) {
    const std::string prefix = name_ + "." + std::to_string(f);
    if (states_[f].state1.data != nullptr) out.push_back({prefix + ".state1", states_[f].state1});
    if (states_[f].state2.data != nullptr) out.push_back({prefix + ".state2", states_[f].state2});
  }
}

FieldSum::FieldSum(Context& ctx, const std::string& name, std::int64_t fields, std::uint64_t bias_stream)
    : ones_(Tensor::empty(ctx, DType::kF32, {fields, 1})), bias_(ctx, name + ".bias", {1}, 0.0f, bias_stream) {
  fill(ctx, ones_, 1.0f);
}

void FieldSum::forward(Context& ctx, const TensorView& x, const TensorView& y) const {
  linear_fwd(ctx, x, ones_, bias_.value, y);
}

void FieldSum::backward(Context& ctx, const TensorView& dy, const TensorView& dx) const {
  linear_bwd_data(ctx, dy, ones_, dx);
  column_sum(ctx, dy, bias_.grad);
}

void FieldSum::update(Context& ctx, const ParameterGroup& group) const { bias_.update(ctx, group); }

void FieldSum::append_parameters(std::vector<NamedTensor>& out) const { append_dense(out, bias_); }
void FieldSum::append_optimizer_state(std::vector<NamedTensor>& out) const { append_moments(out, bias_); }

void FmInteraction::forward(Context& ctx, const TensorView& fields, const TensorView& out) {
  fm_interaction_fwd(ctx, fields, {}, out);
}

void FmInteraction::backward(Context& ctx, const TensorView& fields, const TensorView& diff_out,
                             const TensorView& diff_fields) {
  fm_interaction_bwd(ctx, fields, {}, diff_out, diff_fields);
}

void SigmoidBce::forward_backward(Context& ctx, const TensorView& logits, const TensorView& labels,
                                  const TensorView& loss_sum, const TensorView& diff_logits, float scale,
                                  const TensorView& probabilities) {
  sigmoid_bce_with_logits(ctx, logits, labels, loss_sum, diff_logits, scale, probabilities);
}

}  // namespace reckon::layers
