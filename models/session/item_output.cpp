#include "reckon/models/session/item_output.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/softmax/softmax.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::session {

const char* to_string(ItemLoss loss) noexcept { return loss == ItemLoss::kBprMax ? "bpr-max" : "cross-entropy"; }

ItemLoss parse_item_loss(std::string_view name) {
  if (name == "cross-entropy") return ItemLoss::kCrossEntropy;
  if (name == "bpr-max") return ItemLoss::kBprMax;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown loss '", name, "' (cross-entropy | bpr-max)");
}

namespace {

TensorView as3(const Tensor& t, std::int64_t rows, std::int64_t cols) {
  return TensorView::contiguous(t.view().data, t.dtype(), t.device(), {rows, 1, cols});
}

// BPR-max's extra negatives: item ids drawn with probability ∝ count^alpha from one Philox stream, by binary search
// on the cumulative weights (a step's few thousand draws are cheap beside its products).
class PopularitySampler {
 public:
  PopularitySampler(const Catalog& catalog, float alpha, std::uint64_t seed, std::uint64_t stream)
      : seed_(seed), stream_(stream) {
    double total = 0;
    cumulative_.reserve(static_cast<std::size_t>(catalog.size()));
    for (const std::int64_t count : catalog.counts) {
      // An item without training clicks (a content item) is never drawn: nothing would push it up as a target.
      total += count > 0 ? std::pow(static_cast<double>(count), static_cast<double>(alpha)) : 0.0;
      cumulative_.push_back(total);
    }
  }
  void draw(std::span<std::int32_t> out) {
    PhiloxStream rng(seed_, stream_, drawn_);
    for (std::int32_t& id : out) {
      const double u = static_cast<double>(rng.next_uniform()) * cumulative_.back();
      const auto at = std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
      id = static_cast<std::int32_t>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(cumulative_.size()) - 1));
    }
    drawn_ += out.size();
  }

 private:
  std::uint64_t seed_, stream_, drawn_ = 0;
  std::vector<double> cumulative_;
};

}  // namespace

Tensor index_tensor(Context& ctx, std::int64_t n) {
  Tensor t = Tensor::empty(ctx, DType::kI32, {n});
  std::vector<std::int32_t> values(static_cast<std::size_t>(n));
  std::iota(values.begin(), values.end(), 0);
  copy_bytes(ctx, t.view().data, ctx.device(), values.data(), Device::cpu(), values.size() * 4);
  ctx.synchronize();
  return t;
}

EpochLosses::EpochLosses(Context& ctx, std::int64_t rows, std::string model, int epoch)
    : ctx_(ctx), rows_(rows), model_(std::move(model)), epoch_(epoch),
      device_(Tensor::empty(ctx, DType::kF32, {kChunk, rows})), host_(static_cast<std::size_t>(kChunk * rows)) {}

TensorView EpochLosses::next() {
  if (pending_ == kChunk) drain();
  return TensorView::contiguous(static_cast<float*>(device_.view().data) + pending_++ * rows_, DType::kF32,
                                ctx_.device(), {rows_});
}

double EpochLosses::sum() {
  drain();
  return sum_;
}

void EpochLosses::drain() {
  if (pending_ == 0) return;
  copy_bytes(ctx_, host_.data(), Device::cpu(), device_.view().data, ctx_.device(),
             static_cast<std::size_t>(pending_ * rows_) * sizeof(float));
  ctx_.synchronize();
  for (std::int64_t i = 0; i < pending_ * rows_; ++i) sum_ += host_[static_cast<std::size_t>(i)];
  pending_ = 0;
  if (!std::isfinite(sum_)) {
    RECKON_THROW(StatusCode::kNumericError, model_, "'s loss is not finite in epoch ", epoch_, ": lower the learning rate");
  }
}

struct ItemOutput::Impl {
  Context& ctx;
  std::int64_t N, H, B;
  std::unique_ptr<layers::Linear> linear;                            // cross-entropy's
  std::unique_ptr<layers::FieldEmbedding> items, bias;               // BPR-max's
  std::unique_ptr<PopularitySampler> sampler;
  Tensor targets, logits;                                            // cross-entropy's step
  Tensor columns, column_offsets, column_weights, column_bias, d_column_weights, d_column_bias;  // BPR-max's step
  std::vector<std::int32_t> host_columns;
  Tensor full_items, full_bias, ones;  // BPR-max's output layer gathered for scoring the whole catalogue
  bool full_stale = true;
  ItemFeatures features;                           // content features (vocabulary 0: none)
  std::size_t most_features = 0;                   // of any one item
  Tensor bag_offsets, bag_rows, bag_weights;       // a step's column bags with features
  std::vector<std::int32_t> host_offsets, host_rows;
  std::vector<float> host_weights;

  Impl(Context& c, std::int64_t items_count, std::int64_t hidden, std::int64_t batch)
      : ctx(c), N(items_count), H(hidden), B(batch) {}

  void step_cross_entropy(const layers::ParameterGroup& group, const TensorView& y, std::span<const std::int32_t> t,
                          const TensorView& losses, const TensorView& dy);
  void step_bpr_max(const layers::ParameterGroup& group, const ItemOutputOptions& o, const TensorView& y,
                    std::span<const std::int32_t> t, const TensorView& losses, const TensorView& dy);
  void gather_full();
  // The bags of items `ids` in the tables: each item's own row, with features also theirs (rows N + f, weight
  // 1 / count); on the device in `offsets`, `rows`, `weights` (grown when short).
  EmbeddingBags item_bags(std::span<const std::int32_t> ids, Tensor& offsets, Tensor& rows, Tensor& weights);
};

namespace {

void check_features(const ItemFeatures& f, std::int64_t items) {
  RECKON_CHECK_ARG(f.vocabulary >= 0 && static_cast<std::int64_t>(f.offsets.size()) == (f.vocabulary > 0 ? items + 1 : 1) &&
                       f.offsets.front() == 0 && f.offsets.back() == static_cast<std::int32_t>(f.features.size()),
                   "item features need offsets for every catalogue item");
  for (std::size_t i = 1; i < f.offsets.size(); ++i) {
    RECKON_CHECK_ARG(f.offsets[i] >= f.offsets[i - 1], "item feature offsets must not decrease");
  }
  for (const std::int32_t x : f.features) {
    RECKON_CHECK_ARG(x >= 0 && x < f.vocabulary, "item feature ", x, " outside [0, ", f.vocabulary, ")");
  }
}

// Copies `values` into t, first sized to `capacity` elements (at least the values'): a step's tensors are sized once
// for the most a step can hold, never freed while the stream may still read them.
template <typename T>
void upload(Context& ctx, Tensor& t, DType dtype, const std::vector<T>& values, std::size_t capacity) {
  if (t.view().data == nullptr || t.view().numel() < static_cast<std::int64_t>(values.size())) {
    t = Tensor::empty(ctx, dtype, {static_cast<std::int64_t>(std::max<std::size_t>({1, values.size(), capacity}))});
  }
  copy_bytes(ctx, t.view().data, ctx.device(), values.data(), Device::cpu(), values.size() * sizeof(T));
}

}  // namespace

EmbeddingBags ItemOutput::Impl::item_bags(std::span<const std::int32_t> ids, Tensor& offsets, Tensor& rows,
                                         Tensor& weights) {
  host_offsets.assign(1, 0);
  host_rows.clear();
  host_weights.clear();
  for (const std::int32_t id : ids) {
    host_rows.push_back(id);
    host_weights.push_back(1.0f);
    const auto first = static_cast<std::size_t>(features.offsets[static_cast<std::size_t>(id)]);
    const auto last = static_cast<std::size_t>(features.offsets[static_cast<std::size_t>(id) + 1]);
    for (std::size_t f = first; f < last; ++f) {
      host_rows.push_back(static_cast<std::int32_t>(N) + features.features[f]);
      host_weights.push_back(1.0f / static_cast<float>(last - first));
    }
    host_offsets.push_back(static_cast<std::int32_t>(host_rows.size()));
  }
  const std::size_t capacity = ids.size() * (1 + most_features);
  upload(ctx, offsets, DType::kI32, host_offsets, ids.size() + 1);
  upload(ctx, rows, DType::kI32, host_rows, capacity);
  upload(ctx, weights, DType::kF32, host_weights, capacity);
  const auto n = static_cast<std::int64_t>(host_rows.size());
  const auto view = [&](const Tensor& t, DType d, std::int64_t size) {
    return TensorView::contiguous(t.view().data, d, ctx.device(), {size});
  };
  return {view(offsets, DType::kI32, static_cast<std::int64_t>(ids.size()) + 1), view(rows, DType::kI32, n),
          view(weights, DType::kF32, n)};
}

ItemOutput::ItemOutput(Context& ctx, const Catalog& catalog, std::int64_t hidden, std::int64_t batch,
                       const ItemOutputOptions& options, OptimizerKind sparse, std::uint64_t seed,
                       const ItemFeatures& features)
    : options_(options), impl_(std::make_unique<Impl>(ctx, catalog.size(), hidden, batch)) {
  RECKON_CHECK_ARG(options.samples >= 0 && options.sample_alpha >= 0 && options.bpr_regularization >= 0,
                   "BPR-max needs samples >= 0, sample_alpha >= 0 and bpr_regularization >= 0");
  check_features(features, catalog.size());
  RECKON_CHECK_ARG(features.vocabulary == 0 || options.loss == ItemLoss::kBprMax,
                   "an output layer with content features needs the bpr-max loss");
  Impl& m = *impl_;
  m.features = features;
  for (std::size_t i = 1; i < features.offsets.size(); ++i) {
    m.most_features = std::max(m.most_features, static_cast<std::size_t>(features.offsets[i] - features.offsets[i - 1]));
  }
  const std::int64_t N = m.N, H = hidden, rows = N + features.vocabulary;
  if (options.loss == ItemLoss::kCrossEntropy) {
    const std::uint64_t w = ctx.next_rng_stream(), b = ctx.next_rng_stream();
    m.linear = std::make_unique<layers::Linear>(ctx, "output", H, N, Activation::kNone, w, b);
    m.targets = Tensor::empty(ctx, DType::kI32, {batch});
    m.logits = Tensor::empty(ctx, DType::kF32, {batch, N});
    return;
  }
  const std::uint64_t item_stream = ctx.next_rng_stream();
  m.items = std::make_unique<layers::FieldEmbedding>(
      ctx, "output_items", std::vector<std::int64_t>{rows}, H, sparse,
      static_cast<float>(std::sqrt(2.0 / static_cast<double>(N + H))), std::span<const std::uint64_t>(&item_stream, 1));
  m.bias = std::make_unique<layers::FieldEmbedding>(ctx, "output_bias", std::vector<std::int64_t>{rows}, 1, sparse, 0.0f,
                                                    std::span<const std::uint64_t>{});
  m.sampler = std::make_unique<PopularitySampler>(catalog, options.sample_alpha, seed, ctx.next_rng_stream());
  const std::int64_t M = batch + options.samples;
  m.host_columns.resize(static_cast<std::size_t>(M));
  m.columns = Tensor::empty(ctx, DType::kI32, {M});
  m.column_offsets = index_tensor(ctx, M + 1);
  m.column_weights = Tensor::empty(ctx, DType::kF32, {M, H});
  m.column_bias = Tensor::empty(ctx, DType::kF32, {M});
  m.d_column_weights = Tensor::empty(ctx, DType::kF32, {M, H});
  m.d_column_bias = Tensor::empty(ctx, DType::kF32, {M});
  m.targets = index_tensor(ctx, batch);  // row b's target is column b
  m.logits = Tensor::empty(ctx, DType::kF32, {batch, M});
}

ItemOutput::~ItemOutput() = default;

void ItemOutput::train_step(const layers::ParameterGroup& group, const TensorView& y,
                            std::span<const std::int32_t> targets, const TensorView& losses, const TensorView& dy) {
  RECKON_CHECK_ARG(static_cast<std::int64_t>(targets.size()) == impl_->B && y.ndim == 2 && y.size(0) == impl_->B &&
                       y.size(1) == impl_->H,
                   "the output layer's step takes ", impl_->B, " states of ", impl_->H, " and their targets");
  if (options_.loss == ItemLoss::kCrossEntropy) {
    impl_->step_cross_entropy(group, y, targets, losses, dy);
  } else {
    impl_->step_bpr_max(group, options_, y, targets, losses, dy);
  }
}

void ItemOutput::Impl::step_cross_entropy(const layers::ParameterGroup& group, const TensorView& y,
                                          std::span<const std::int32_t> t, const TensorView& losses,
                                          const TensorView& dy) {
  copy_bytes(ctx, targets.view().data, ctx.device(), t.data(), Device::cpu(), t.size() * 4);
  linear->forward(ctx, y, logits);
  softmax_cross_entropy(ctx, logits, targets, losses, logits, 1.0f / static_cast<float>(B));
  linear->backward(ctx, y, logits, dy, false);
  linear->update(ctx, group, 0.0f);
}

// The step's columns (the targets, then the sampled negatives) gathered, scored against y, the loss, then the
// gradients of y, of the columns and of their biases; the columns' rows step sparsely.
void ItemOutput::Impl::step_bpr_max(const layers::ParameterGroup& group, const ItemOutputOptions& o,
                                    const TensorView& y, std::span<const std::int32_t> t, const TensorView& losses,
                                    const TensorView& dy) {
  const std::int64_t M = B + o.samples;
  std::copy(t.begin(), t.end(), host_columns.begin());
  sampler->draw(std::span<std::int32_t>(host_columns).subspan(t.size()));
  copy_bytes(ctx, columns.view().data, ctx.device(), host_columns.data(), Device::cpu(), host_columns.size() * 4);
  const EmbeddingBags bags = features.vocabulary > 0 ? item_bags(host_columns, bag_offsets, bag_rows, bag_weights)
                                                     : EmbeddingBags{column_offsets, columns};
  items->forward(ctx, {&bags, 1}, as3(column_weights, M, H));
  bias->forward(ctx, {&bags, 1}, as3(column_bias, M, 1));
  linear_bwd_data(ctx, y, column_weights, logits);  // y · Wᵀ
  bpr_max_loss(ctx, logits, column_bias, targets, columns, losses, logits, o.bpr_regularization,
               1.0f / static_cast<float>(B));
  linear_fwd(ctx, logits, column_weights, TensorView{}, dy);
  linear_bwd_weights(ctx, logits, y, d_column_weights, TensorView{});
  column_sum(ctx, logits, d_column_bias);
  items->backward_update(ctx, {&bags, 1}, as3(d_column_weights, M, H), group, 0.0f);
  bias->backward_update(ctx, {&bags, 1}, as3(d_column_bias, M, 1), group, 0.0f);
  full_stale = true;
}

// The item table and bias as contiguous [N, H] and [N, 1], read through the layers' lookup.
void ItemOutput::Impl::gather_full() {
  if (!full_stale) return;
  if (full_items.view().data == nullptr) {
    full_items = Tensor::empty(ctx, DType::kF32, {N, H});
    full_bias = Tensor::empty(ctx, DType::kF32, {N, 1});
  }
  Tensor all = index_tensor(ctx, N), offsets = index_tensor(ctx, N + 1), weights;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(N));
  std::iota(ids.begin(), ids.end(), 0);
  const EmbeddingBags bags = features.vocabulary > 0 ? item_bags(ids, offsets, all, weights)
                                                     : EmbeddingBags{offsets.view(), all.view()};
  items->forward(ctx, {&bags, 1}, as3(full_items, N, H));
  bias->forward(ctx, {&bags, 1}, as3(full_bias, N, 1));
  full_stale = false;
}

void ItemOutput::score(const TensorView& h, const TensorView& scores) {
  Impl& m = *impl_;
  if (m.linear) {
    m.linear->forward(m.ctx, h, scores);
    return;
  }
  m.gather_full();
  const std::int64_t rows = h.size(0);
  if (m.ones.view().data == nullptr || m.ones.view().size(0) < rows) {
    m.ones = Tensor::empty(m.ctx, DType::kF32, {rows, 1});
    fill(m.ctx, m.ones, 1.0f);
  }
  linear_bwd_data(m.ctx, h, m.full_items, scores);  // h · Wᵀ
  const TensorView ones = TensorView::contiguous(m.ones.view().data, DType::kF32, m.ctx.device(), {rows, 1});
  linear_bwd_data_accumulate(m.ctx, ones, m.full_bias, scores);  // + 1 · biasᵀ
}

void ItemOutput::append_parameters(std::vector<layers::NamedTensor>& out) const {
  if (impl_->linear) return impl_->linear->append_parameters(out);
  impl_->items->append_parameters(out);
  impl_->bias->append_parameters(out);
}

void ItemOutput::append_optimizer_state(std::vector<layers::NamedTensor>& out) const {
  if (impl_->linear) return impl_->linear->append_optimizer_state(out);
  impl_->items->append_optimizer_state(out);
  impl_->bias->append_optimizer_state(out);
}

}  // namespace reckon::session
