#include "reckon/models/session/gru4rec.h"

#include "reckon/models/session/cnn3d.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru.h"
#include "reckon/models/layers/layers.h"
#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"

namespace reckon::session {

namespace {

// The first `rows` rows of a [capacity, cols] tensor.
TensorView rows_of(const Tensor& t, std::int64_t rows, std::int64_t cols) {
  return TensorView::contiguous(t.view().data, t.dtype(), t.device(), {rows, cols});
}
TensorView first(const Tensor& t, std::int64_t n) {
  return TensorView::contiguous(t.view().data, t.dtype(), t.device(), {n});
}

std::uint64_t next_stream(Context& ctx) { return ctx.next_rng_stream(); }

// The activations of a batch of up to `capacity` rows (logits: scoring's, [capacity, N]; training's are the output
// layer's).
struct Buffers {
  std::int64_t capacity = 0;
  Tensor ids, offsets, h, h_next, y, dy, saved, gx, gh, dgx, dgh, emb, demb, logits;

  Buffers(Context& ctx, std::int64_t B, std::int64_t H, std::int64_t E, std::int64_t N, bool training) : capacity(B) {
    ids = Tensor::empty(ctx, DType::kI32, {B});
    offsets = index_tensor(ctx, B + 1);
    h = Tensor::empty(ctx, DType::kF32, {B, H});
    h_next = Tensor::empty(ctx, DType::kF32, {B, H});
    saved = Tensor::empty(ctx, DType::kF32, {B, 4 * H});
    gx = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
    gh = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
    if (E > 0) emb = Tensor::empty(ctx, DType::kF32, {B, E});
    fill(ctx, h, 0.0f);
    if (!training) {
      logits = Tensor::empty(ctx, DType::kF32, {B, N});
      return;
    }
    y = Tensor::empty(ctx, DType::kF32, {B, H});
    dy = Tensor::empty(ctx, DType::kF32, {B, H});
    dgx = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
    dgh = Tensor::empty(ctx, DType::kF32, {B, 3 * H});
    if (E > 0) demb = Tensor::empty(ctx, DType::kF32, {B, E});
  }
};

}  // namespace

struct Gru4Rec::Impl {
  Context& ctx;
  Gru4RecOptions o;
  std::int64_t N, H, E, W;  // items, hidden units, embedding width (0: one-hot), the input table's width
  layers::ParameterGroup group;
  std::unique_ptr<layers::FieldEmbedding> input;
  std::unique_ptr<layers::Linear> input_linear, hidden_linear;
  std::unique_ptr<ItemOutput> output;
  layers::Dropout dropout;
  std::unique_ptr<Buffers> train, eval;
  std::mutex eval_mutex;

  Impl(Context& c, const Gru4RecOptions& options, const Catalog& catalog)
      : ctx(c), o(options), N(catalog.size()), H(options.hidden), E(options.embedding), W(E > 0 ? E : 3 * H),
        dropout(options.dropout, 0) {
    Optimizer opt;
    opt.kind = o.optimizer;
    opt.learning_rate = o.learning_rate;
    group = layers::ParameterGroup(ctx, opt, 1);
    const std::uint64_t input_stream = next_stream(ctx);
    const OptimizerKind sparse = o.optimizer == OptimizerKind::kAdagrad ? OptimizerKind::kRowwiseAdagrad : o.optimizer;
    input = std::make_unique<layers::FieldEmbedding>(ctx, "input", std::vector<std::int64_t>{N}, W, sparse,
                                                     static_cast<float>(std::sqrt(2.0 / static_cast<double>(N + W))),
                                                     std::span<const std::uint64_t>(&input_stream, 1));
    if (E > 0) input_linear = make_linear("input_linear", E, 3 * H);
    hidden_linear = make_linear("hidden", H, 3 * H);
    output = std::make_unique<ItemOutput>(ctx, catalog, H, o.batch, o.output, sparse, o.seed);
  }

  std::unique_ptr<layers::Linear> make_linear(const std::string& name, std::int64_t in, std::int64_t out) {
    const std::uint64_t w = next_stream(ctx), b = next_stream(ctx);
    return std::make_unique<layers::Linear>(ctx, name, in, out, Activation::kNone, w, b);
  }

  std::vector<layers::NamedTensor> tensors(bool with_state) const {
    std::vector<layers::NamedTensor> out;
    const auto append = [&](bool state) {
      state ? input->append_optimizer_state(out) : input->append_parameters(out);
      for (const auto* l : {input_linear.get(), hidden_linear.get()}) {
        if (l != nullptr) state ? l->append_optimizer_state(out) : l->append_parameters(out);
      }
      state ? output->append_optimizer_state(out) : output->append_parameters(out);
    };
    append(false);
    if (with_state) append(true);
    return out;
  }

  // gates_x for the first `rows` rows of b (their ids already in b.ids).
  void input_gates(Buffers& b, std::int64_t rows) const {
    const EmbeddingBags bags{first(b.offsets, rows + 1), first(b.ids, rows)};
    if (E == 0) {
      input->forward(ctx, {&bags, 1}, TensorView::contiguous(b.gx.view().data, DType::kF32, ctx.device(), {rows, 1, W}));
      return;
    }
    input->forward(ctx, {&bags, 1}, TensorView::contiguous(b.emb.view().data, DType::kF32, ctx.device(), {rows, 1, W}));
    input_linear->forward(ctx, rows_of(b.emb, rows, E), rows_of(b.gx, rows, 3 * H));
  }

  // One GRU step for the first `rows` rows: h_next = GRU(gates of ids, h).
  void recur(Buffers& b, std::int64_t rows) const {
    input_gates(b, rows);
    hidden_linear->forward(ctx, rows_of(b.h, rows, H), rows_of(b.gh, rows, 3 * H));
    gru_cell_fwd(ctx, rows_of(b.gx, rows, 3 * H), rows_of(b.gh, rows, 3 * H), rows_of(b.h, rows, H),
                 rows_of(b.h_next, rows, H), rows_of(b.saved, rows, 4 * H));
  }

  void train_step(Buffers& b, std::span<const std::int32_t> targets, const TensorView& losses);
};

// Forward, loss, backward and update of one session-parallel step over all B rows.
void Gru4Rec::Impl::train_step(Buffers& b, std::span<const std::int32_t> targets, const TensorView& losses) {
  const std::int64_t B = b.capacity;
  group.advance(ctx);
  recur(b, B);
  copy_bytes(ctx, b.y.view().data, ctx.device(), b.h_next.view().data, ctx.device(), b.y.nbytes());
  if (o.dropout > 0) dropout.forward(ctx, b.y, group.clock());
  output->train_step(group, b.y, targets, losses, b.dy);
  if (o.dropout > 0) dropout.backward(ctx, b.dy, group.clock());
  gru_cell_bwd(ctx, b.h, b.saved, b.dy, b.dgx, b.dgh, TensorView{});
  hidden_linear->backward(ctx, b.h, b.dgh, TensorView{}, false);
  const EmbeddingBags bags{b.offsets, b.ids};
  if (E == 0) {
    input->backward_update(ctx, {&bags, 1}, TensorView::contiguous(b.dgx.view().data, DType::kF32, ctx.device(), {B, 1, W}),
                           group, 0.0f);
  } else {
    input_linear->backward(ctx, b.emb, b.dgx, b.demb, false);
    input->backward_update(ctx, {&bags, 1}, TensorView::contiguous(b.demb.view().data, DType::kF32, ctx.device(), {B, 1, W}),
                           group, 0.0f);
    input_linear->update(ctx, group, 0.0f);
  }
  hidden_linear->update(ctx, group, 0.0f);
  std::swap(b.h, b.h_next);
}

Gru4Rec::Gru4Rec(Context& ctx, const Gru4RecOptions& options, TrainingSessions training)
    : NeuralRecommender(RecommenderOptions{}, std::move(training)), gru_options_(options) {
  RECKON_CHECK_ARG(options.hidden >= 1 && options.embedding >= 0 && options.batch >= 1 && options.epochs >= 0 &&
                       options.max_prefix >= 1,
                   "GRU4Rec needs hidden >= 1, embedding >= 0, batch >= 1, epochs >= 0 and max_prefix >= 1");
  RECKON_CHECK_ARG(options.dropout >= 0 && options.dropout < 1, "dropout must be in [0, 1), got ", options.dropout);
  RECKON_CHECK_ARG(options.learning_rate > 0, "the learning rate must be positive, got ", options.learning_rate);
  ctx.set_seed(options.seed);
  impl_ = std::make_unique<Impl>(ctx, options, this->training().catalog);
}

Gru4Rec::~Gru4Rec() = default;


namespace {

// The B slots of session-parallel training: each walks one session after another, in the training order.
struct Slots {
  const TrainingSessions& t;
  std::vector<std::int64_t> session, position;
  std::int64_t next = 0;

  Slots(const TrainingSessions& sessions, std::int64_t B) : t(sessions), session(static_cast<std::size_t>(B)), position(static_cast<std::size_t>(B), 0) {
    for (auto& s : session) s = take();
  }
  // The next session with at least two clicks, or -1.
  std::int64_t take() {
    while (next < t.size() && t.session(next).size() < 2) ++next;
    return next < t.size() ? next++ : -1;
  }
  bool full() const { return std::all_of(session.begin(), session.end(), [](std::int64_t s) { return s >= 0; }); }
  std::int32_t item(std::size_t b, std::int64_t offset) const {
    return t.session(session[b])[static_cast<std::size_t>(position[b] + offset)];
  }
  // Moves every slot one click on; the slots that start a new session are listed in `reset`.
  void advance(std::vector<std::int64_t>& reset) {
    reset.clear();
    for (std::size_t b = 0; b < session.size(); ++b) {
      if (++position[b] + 1 < static_cast<std::int64_t>(t.session(session[b]).size())) continue;
      session[b] = take();
      position[b] = 0;
      reset.push_back(static_cast<std::int64_t>(b));
    }
  }
};

}  // namespace

std::vector<layers::NamedTensor> Gru4Rec::state() const { return impl_->tensors(true); }

Context& Gru4Rec::context() const { return impl_->ctx; }

EpochStats Gru4Rec::train_epoch(int epoch, const EpochProgress& progress) {
  Impl& m = *impl_;
  Context& ctx = m.ctx;
  const std::int64_t B = gru_options_.batch;
  if (!m.train) m.train = std::make_unique<Buffers>(ctx, B, m.H, m.E, m.N, true);
  Buffers& b = *m.train;
  fill(ctx, b.h, 0.0f);
  Slots slots(training(), B);
  EpochLosses losses(ctx, B, "GRU4Rec", epoch);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(B)), targets(ids.size());
  std::vector<std::int64_t> reset;
  std::int64_t steps = 0;
  const std::int64_t total_clicks = static_cast<std::int64_t>(training().items.size());
  const auto start = std::chrono::steady_clock::now();
  while (slots.full()) {
    for (std::size_t s = 0; s < ids.size(); ++s) ids[s] = slots.item(s, 0), targets[s] = slots.item(s, 1);
    copy_bytes(ctx, b.ids.view().data, ctx.device(), ids.data(), Device::cpu(), ids.size() * 4);
    m.train_step(b, targets, losses.next());
    ++steps;
    slots.advance(reset);
    for (const std::int64_t row : reset) {
      fill(ctx, TensorView::contiguous(static_cast<float*>(b.h.view().data) + row * m.H, DType::kF32, ctx.device(), {m.H}), 0.0f);
    }
    if (progress && steps % 256 == 0) {
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double done = static_cast<double>(steps * B);
      progress(std::min(1.0, done / static_cast<double>(total_clicks)), done / std::max(took, 1e-9));
    }
  }
  const double loss_sum = losses.sum();
  return epoch_stats(epoch, loss_sum, steps * B, start);
}

// The prefixes run together: sorted by length (longest first), step k advances the queries longer than k, which
// are the first rows; then every row's state is scored at once and the rows put back in the callers' order.
void Gru4Rec::score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.eval_mutex);
  const auto Q = static_cast<std::int64_t>(prefixes.size());
  if (Q == 0) return;
  std::vector<std::vector<std::int32_t>> known(prefixes.size());
  for (std::size_t q = 0; q < prefixes.size(); ++q) {
    for (const std::int32_t item : prefixes[q]) {
      if (item >= 0) known[q].push_back(item);  // an unknown item has no input row: skipped
    }
    if (static_cast<std::int64_t>(known[q].size()) > gru_options_.max_prefix) {
      known[q].erase(known[q].begin(), known[q].end() - gru_options_.max_prefix);
    }
  }
  std::vector<std::int64_t> order(prefixes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return known[static_cast<std::size_t>(a)].size() > known[static_cast<std::size_t>(b)].size();
  });
  if (!m.eval || m.eval->capacity < Q) m.eval = std::make_unique<Buffers>(m.ctx, std::max<std::int64_t>(Q, 256), m.H, m.E, m.N, false);
  Buffers& b = *m.eval;
  fill(m.ctx, rows_of(b.h, Q, m.H), 0.0f);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(Q));
  for (std::size_t k = 0; !known[static_cast<std::size_t>(order[0])].empty() && k < known[static_cast<std::size_t>(order[0])].size(); ++k) {
    std::int64_t rows = 0;
    while (rows < Q && known[static_cast<std::size_t>(order[static_cast<std::size_t>(rows)])].size() > k) {
      ids[static_cast<std::size_t>(rows)] = known[static_cast<std::size_t>(order[static_cast<std::size_t>(rows)])][k];
      ++rows;
    }
    copy_bytes(m.ctx, b.ids.view().data, m.ctx.device(), ids.data(), Device::cpu(), static_cast<std::size_t>(rows) * 4);
    m.recur(b, rows);
    copy_bytes(m.ctx, b.h.view().data, m.ctx.device(), b.h_next.view().data, m.ctx.device(), static_cast<std::size_t>(rows * m.H) * 4);
  }
  m.output->score(rows_of(b.h, Q, m.H), rows_of(b.logits, Q, m.N));
  std::vector<float> sorted(static_cast<std::size_t>(Q * m.N));
  copy_bytes(m.ctx, sorted.data(), Device::cpu(), b.logits.view().data, m.ctx.device(), sorted.size() * 4);
  m.ctx.synchronize();
  for (std::int64_t r = 0; r < Q; ++r) {
    std::copy_n(sorted.data() + r * m.N, m.N, scores + order[static_cast<std::size_t>(r)] * m.N);
  }
}

namespace {

nlohmann::json options_json(const Gru4RecOptions& o) {
  return {{"model", "gru4rec"}, {"hidden", o.hidden}, {"embedding", o.embedding}, {"batch", o.batch},
          {"epochs", o.epochs}, {"optimizer", to_string(o.optimizer)}, {"learning_rate", o.learning_rate},
          {"dropout", o.dropout}, {"max_prefix", o.max_prefix}, {"seed", o.seed}, {"loss", to_string(o.output.loss)},
          {"samples", o.output.samples}, {"sample_alpha", o.output.sample_alpha},
          {"bpr_regularization", o.output.bpr_regularization}};
}

Gru4RecOptions options_from(const nlohmann::json& j) {
  Gru4RecOptions o;
  o.hidden = j.at("hidden").get<std::int64_t>();
  o.embedding = j.at("embedding").get<std::int64_t>();
  o.batch = j.at("batch").get<std::int64_t>();
  o.epochs = j.at("epochs").get<int>();
  o.optimizer = parse_optimizer_kind(j.at("optimizer").get<std::string>());
  o.learning_rate = j.at("learning_rate").get<float>();
  o.dropout = j.at("dropout").get<float>();
  o.max_prefix = j.at("max_prefix").get<std::int64_t>();
  o.seed = j.at("seed").get<std::uint64_t>();
  o.output.loss = parse_item_loss(j.value("loss", std::string("cross-entropy")));  // absent before BPR-max existed
  o.output.samples = j.value("samples", o.output.samples);
  o.output.sample_alpha = j.value("sample_alpha", o.output.sample_alpha);
  o.output.bpr_regularization = j.value("bpr_regularization", o.output.bpr_regularization);
  return o;
}

}  // namespace

void Gru4Rec::save(const std::string& path) const {
  CheckpointWriter writer("gru4rec", options_json(gru_options_).dump(), catalog_vocabulary(training()));
  add_catalog(writer, training());
  for (const layers::NamedTensor& t : impl_->tensors(true)) writer.add(impl_->ctx, t.name, t.view);
  writer.write(path);
}

std::unique_ptr<Gru4Rec> Gru4Rec::load(Context& ctx, const std::string& path) {
  const CheckpointReader reader(path);
  reader.expect_kind("gru4rec");
  Gru4RecOptions o;
  try {
    o = options_from(nlohmann::json::parse(reader.config_json()));
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": a GRU4Rec checkpoint's settings are unreadable: ", e.what());
  }
  auto model = std::make_unique<Gru4Rec>(ctx, o, read_catalog(reader, path));
  for (const layers::NamedTensor& tensor : model->impl_->tensors(true)) reader.read(ctx, tensor.name, tensor.view);
  return model;
}

std::unique_ptr<SessionRecommender> load_any_recommender(Context& ctx, const std::string& path) {
  char magic[8] = {};
  std::ifstream(path, std::ios::binary).read(magic, sizeof(magic));
  if (CheckpointReader::recognises(std::string_view(magic, sizeof(magic)))) {
    const CheckpointReader reader(path);
    if (reader.kind() == "gru4rec") return Gru4Rec::load(ctx, path);
    if (reader.kind() == "cnn3d") return Cnn3dRecommender::load(ctx, path);
  }
  return load_recommender(path);
}

}  // namespace reckon::session
