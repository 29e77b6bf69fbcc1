#include "reckon/models/item2vec/item2vec.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::item2vec {
namespace {

// The format before the shared envelope (runtime/checkpoint.h): still read.
constexpr const char* kMagic = "reckon-item2vec";
constexpr std::uint32_t kVersion = 1;
// The vocabulary is sorted by count, so the first rows are the most frequent items: on the CPU with several threads
// each trains its own copy of these output rows and merges it (SgnsOptions::private_output_rows).
constexpr std::int64_t kPrivateOutputRows = 256;

Tensor upload(Context& ctx, const void* data, DType dtype, std::int64_t n) {
  Tensor t = Tensor::empty(ctx, dtype, {n});
  copy_bytes(ctx, t.view().data, ctx.device(), data, Device::cpu(), static_cast<std::size_t>(n) * dtype_size(dtype));
  return t;
}

std::vector<float> download(Context& ctx, const Tensor& t) {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  ctx.synchronize();
  copy_bytes(ctx, out.data(), Device::cpu(), t.view().data, ctx.device(), out.size() * sizeof(float));
  ctx.synchronize();
  return out;
}

}  // namespace

void validate(const Item2VecConfig& c) {
  RECKON_CHECK_ARG(c.dim >= 1 && c.dim <= kSgnsMaxDim, "dimension ", c.dim, " outside [1, ", kSgnsMaxDim, "]");
  RECKON_CHECK_ARG(c.window >= 1 && c.window <= kSgnsMaxWindow, "window ", c.window, " outside [1, ", kSgnsMaxWindow,
                   "]");
  RECKON_CHECK_ARG(c.negatives >= 0 && c.negatives <= kSgnsMaxNegatives, "negatives ", c.negatives, " outside [0, ",
                   kSgnsMaxNegatives, "]");
  RECKON_CHECK_ARG(c.epochs >= 1, "epochs must be >= 1, got ", c.epochs);
  RECKON_CHECK_ARG(c.learning_rate > 0 && std::isfinite(c.learning_rate), "learning rate must be positive, got ",
                   c.learning_rate);
  RECKON_CHECK_ARG(c.sample >= 0 && std::isfinite(c.sample), "subsampling threshold must be >= 0 (0: off), got ",
                   c.sample);
  RECKON_CHECK_ARG(std::isfinite(c.negative_exponent), "negative-sampling exponent must be finite, got ",
                   c.negative_exponent);
  RECKON_CHECK_ARG(c.batch_words >= 0, "words per step must be >= 0 (0: the device's default), got ", c.batch_words);
}

Item2Vec::Item2Vec(Context& ctx, Item2VecConfig config, ItemVocabulary vocabulary)
    : ctx_(&ctx), config_(config), vocabulary_(std::move(vocabulary)) {
  const std::int64_t V = vocabulary_.size(), D = config_.dim;
  RECKON_CHECK_ARG(V >= 1, "item2vec needs a non-empty vocabulary");
  validate(config_);
  input_ = Tensor::empty(ctx, DType::kF32, {V, D});
  output_ = Tensor::empty(ctx, DType::kF32, {V, D});
  // word2vec.c's initialisation: input uniform in ±0.5/D, output zero.
  random_uniform(ctx, input_, -0.5f / static_cast<float>(D), 0.5f / static_cast<float>(D), config_.seed);
  fill(ctx, output_, 0.0f);
  build_sampling_tables();
}

void Item2Vec::set_training_config(const Item2VecConfig& next) {
  RECKON_CHECK_ARG(next.dim == config_.dim, "dimension ", next.dim, " differs from the model's ", config_.dim,
                   " (the tables' width cannot change)");
  validate(next);
  config_ = next;
  build_sampling_tables();
}

void Item2Vec::build_sampling_tables() {
  const std::int64_t V = vocabulary_.size();
  const AliasTable alias = build_alias_table(vocabulary_.counts, config_.negative_exponent);
  alias_prob_ = upload(*ctx_, alias.prob.data(), DType::kF32, V);
  alias_index_ = upload(*ctx_, alias.alias.data(), DType::kI32, V);
  keep_ = subsample_keep_probability(vocabulary_.counts, config_.sample);
  ctx_->synchronize();
}

namespace {

// The sentences [s, end) of a step: whole sentences, at least one, up to about `batch_words` words.
std::int64_t batch_end(const Corpus& corpus, std::int64_t s, std::int64_t batch_words) {
  const auto S = static_cast<std::int64_t>(corpus.offsets.size()) - 1;
  std::int64_t end = s + 1;
  const auto at = [&corpus](std::int64_t i) { return corpus.offsets[static_cast<std::size_t>(i)]; };
  while (end < S && at(end) - at(s) < batch_words) ++end;
  return end;
}

// A step's kept tokens and sentence offsets where the step runs: the host vectors themselves on a CPU, copies in
// device buffers (grown as needed) on a GPU.
struct BatchStaging {
  Tensor tokens, offsets;
  std::pair<TensorView, TensorView> stage(Context& ctx, const std::vector<std::int32_t>& kept,
                                          const std::vector<std::int64_t>& kept_offsets) {
    const auto n = static_cast<std::int64_t>(kept.size()), m = static_cast<std::int64_t>(kept_offsets.size());
    if (!ctx.is_cuda()) {
      return {TensorView::contiguous(const_cast<std::int32_t*>(kept.data()), DType::kI32, ctx.device(), {n}),
              TensorView::contiguous(const_cast<std::int64_t*>(kept_offsets.data()), DType::kI64, ctx.device(), {m})};
    }
    if (tokens.numel() < n || tokens.ndim() == 0) tokens = Tensor::empty(ctx, DType::kI32, {std::max<std::int64_t>(n, 1) * 2});
    if (offsets.numel() < m || offsets.ndim() == 0) offsets = Tensor::empty(ctx, DType::kI64, {m * 2});
    copy_bytes(ctx, tokens.view().data, ctx.device(), kept.data(), Device::cpu(), static_cast<std::size_t>(n) * 4);
    copy_bytes(ctx, offsets.view().data, ctx.device(), kept_offsets.data(), Device::cpu(), static_cast<std::size_t>(m) * 8);
    return {TensorView::contiguous(tokens.view().data, DType::kI32, ctx.device(), {n}),
            TensorView::contiguous(offsets.view().data, DType::kI64, ctx.device(), {m})};
  }
};

void print_epoch(const EpochStats& e, int epochs) {
  char line[160];
  std::snprintf(line, sizeof line, "  epoch %d/%d: %lld words in %.1f s, loss %.4f", e.epoch, epochs,
                static_cast<long long>(e.raw_words), e.seconds, e.loss);
  print_status_line(line);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

SgnsOptions Item2Vec::step_options(double progress, std::int64_t batch) const {
  SgnsOptions o;
  o.window = config_.window;
  o.negatives = config_.negatives;
  o.learning_rate = static_cast<float>(config_.learning_rate * std::max(1e-4, 1.0 - progress));
  o.seed = config_.seed;
  o.stream = steps_;
  o.schedule = config_.schedule;
  // Sampled (a logarithm per target costs), counted within the epoch so that every epoch reports a loss and has its
  // NaN check however few batches it holds.
  o.compute_loss = batch % 10 == 0;
  o.private_output_rows = kPrivateOutputRows;
  return o;
}

TrainStats Item2Vec::train(const Corpus& corpus, bool progress) {
  Context& ctx = *ctx_;
  RECKON_CHECK_ARG(corpus.words() > 0, "the corpus is empty");
  RECKON_CHECK_ARG(corpus.offsets.size() >= 2 && corpus.offsets.back() == corpus.words(), "corpus offsets malformed");
  const std::int64_t batch_words = config_.batch_words > 0 ? config_.batch_words : ctx.is_cuda() ? 4'000'000 : 20'000;
  const auto S = static_cast<std::int64_t>(corpus.offsets.size()) - 1;
  const double total = static_cast<double>(config_.epochs) * static_cast<double>(corpus.words());
  const bool show = progress && isatty(STDERR_FILENO);
  std::vector<std::int32_t> kept;
  std::vector<std::int64_t> kept_offsets, batch_offsets;
  BatchStaging staging;
  TrainStats stats;
  const auto start = std::chrono::steady_clock::now();
  double done = 0;
  for (int epoch = 1; epoch <= config_.epochs; ++epoch) {
    EpochStats e;
    e.epoch = epoch;
    SgnsTotals totals(ctx);  // the epoch's pairs and loss, summed on the device
    const auto epoch_start = std::chrono::steady_clock::now();
    for (std::int64_t s = 0, batch = 0; s < S; ++batch) {
      const std::int64_t end = batch_end(corpus, s, batch_words);
      const std::int64_t first = corpus.offsets[static_cast<std::size_t>(s)];
      const std::int64_t words = corpus.offsets[static_cast<std::size_t>(end)] - first;
      batch_offsets.clear();
      for (std::int64_t i = s; i <= end; ++i) batch_offsets.push_back(corpus.offsets[static_cast<std::size_t>(i)] - first);
      subsample_sentences(std::span<const std::int32_t>(corpus.ids.data() + first, static_cast<std::size_t>(words)),
                          batch_offsets, keep_, config_.seed, steps_, kept, kept_offsets, ctx.cpu_threads());
      const SgnsOptions o = step_options(done / total, batch);
      const auto [tokens, offsets] = staging.stage(ctx, kept, kept_offsets);
      sgns_step(ctx, input_.view(), output_.view(), tokens, offsets, alias_prob_.view(), alias_index_.view(), o,
                &totals);
      if (o.compute_loss) check_loss(totals, epoch);
      e.raw_words += words;
      e.effective_words += static_cast<std::int64_t>(kept.size());
      done += static_cast<double>(words);
      trained_words_ += words;
      ++steps_;
      s = end;
      if (show) {
        const double seconds = seconds_since(start);
        const double rate = seconds > 0 ? done / seconds : 0.0;
        print_progress_line(epoch, config_.epochs, done / total, rate, "words", rate > 0 ? (total - done) / rate : 0.0);
      }
    }
    ctx.synchronize();
    e.seconds = seconds_since(epoch_start);
    const SgnsStats sums = totals.read();
    e.pairs = sums.pairs;
    e.loss = sums.loss_pairs > 0 ? sums.loss / static_cast<double>(sums.loss_pairs) : 0.0;
    stats.epochs.push_back(e);
    if (progress) print_epoch(e, config_.epochs);
  }
  return summarise(std::move(stats), seconds_since(start));
}

// A host read (it waits for the device), on the batches that compute the loss only.
void Item2Vec::check_loss(SgnsTotals& totals, int epoch) const {
  const SgnsStats sums = totals.read();
  if (!std::isfinite(sums.loss)) {
    RECKON_THROW(StatusCode::kNumericError, "item2vec: the training loss became ", sums.loss, " at epoch ", epoch,
                 ", step ", steps_, " (lower the learning rate)");
  }
}

TrainStats Item2Vec::summarise(TrainStats stats, double seconds) {
  stats.seconds = seconds;
  std::int64_t raw = 0, effective = 0;
  for (const EpochStats& e : stats.epochs) {
    raw += e.raw_words;
    effective += e.effective_words;
  }
  stats.raw_words_per_s = seconds > 0 ? static_cast<double>(raw) / seconds : 0.0;
  stats.effective_words_per_s = seconds > 0 ? static_cast<double>(effective) / seconds : 0.0;
  return stats;
}

std::vector<float> Item2Vec::input_vectors() const {
  return download(*ctx_, input_);
}
KeyedVectors Item2Vec::keyed_vectors() const {
  KeyedVectors kv;
  kv.tokens = vocabulary_.tokens;
  kv.dim = config_.dim;
  kv.vectors = input_vectors();
  kv.build_index();
  return kv;
}

std::vector<float> Item2Vec::output_vectors() const {
  return download(*ctx_, output_);
}

namespace {

nlohmann::json header_json(const Item2VecConfig& c, std::int64_t trained_words, std::uint64_t steps, std::int64_t V) {
  return {{"dim", c.dim},
          {"window", c.window},
          {"negatives", c.negatives},
          {"sample", c.sample},
          {"negative_exponent", c.negative_exponent},
          {"learning_rate", c.learning_rate},
          {"epochs", c.epochs},
          {"seed", c.seed},
          {"batch_words", c.batch_words},
          {"trained_words", trained_words},
          {"steps", steps},
          {"vocab", V}};
}

struct Header {
  Item2VecConfig config;
  std::int64_t vocab = 0, trained_words = 0;
  std::uint64_t steps = 0;
};

Header parse_header(const std::string& text, const std::string& path) {
  Header h;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    Item2VecConfig& c = h.config;
    c.dim = j.at("dim").get<int>();
    c.window = j.at("window").get<int>();
    c.negatives = j.at("negatives").get<int>();
    c.sample = j.at("sample").get<double>();
    c.negative_exponent = j.at("negative_exponent").get<double>();
    c.learning_rate = j.at("learning_rate").get<float>();
    c.epochs = j.at("epochs").get<int>();
    c.seed = j.at("seed").get<std::uint64_t>();
    c.batch_words = j.at("batch_words").get<std::int64_t>();
    h.trained_words = j.at("trained_words").get<std::int64_t>();
    h.steps = j.at("steps").get<std::uint64_t>();
    h.vocab = j.at("vocab").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": incomplete header: ", e.what());
  }
  return h;
}

// Each item as a 4-byte length, its token and an 8-byte count; V is checked against what the bytes hold (each
// item takes at least 12, plus `per_item` more elsewhere) before anything is sized by it.
ItemVocabulary read_vocabulary(ByteReader& r, const Header& h, std::uint64_t per_item, std::size_t bytes,
                               const std::string& path) {
  const std::int64_t V = h.vocab;
  if (V < 1 || h.config.dim < 1 || h.config.dim > kSgnsMaxDim ||
      static_cast<std::uint64_t>(V) > r.remaining() / (12 + per_item)) {
    RECKON_THROW(StatusCode::kDataError, path, ": bad vocabulary size ", V, " or dimension ", h.config.dim, " for a ",
                 bytes, "-byte checkpoint");
  }
  std::vector<std::string> tokens(static_cast<std::size_t>(V));
  std::vector<std::int64_t> counts(static_cast<std::size_t>(V));
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = r.bytes(r.get<std::uint32_t>());
    counts[i] = r.get<std::int64_t>();
  }
  return ItemVocabulary::from_tokens(std::move(tokens), std::move(counts));
}

}  // namespace

void Item2Vec::save(const std::string& path) const {
  Context& ctx = *ctx_;
  CheckpointWriter file("item2vec", header_json(config_, trained_words_, steps_, vocabulary_.size()).dump(),
                        nlohmann::json{{"items", vocabulary_.size()}}.dump());
  std::string vocabulary;
  for (std::int64_t i = 0; i < vocabulary_.size(); ++i) {
    const std::string& t = vocabulary_.tokens[static_cast<std::size_t>(i)];
    append_bytes(vocabulary, static_cast<std::uint32_t>(t.size()));
    vocabulary += t;
    append_bytes(vocabulary, vocabulary_.counts[static_cast<std::size_t>(i)]);
  }
  file.add_bytes("vocabulary", vocabulary);
  file.add(ctx, "input", input_);
  file.add(ctx, "output", output_);
  file.write(path);
}

std::string Item2Vec::legacy_checkpoint_header(const std::string& path, std::string_view bytes) {
  const std::string magic = std::string(kMagic) + "\n";
  if (bytes.substr(0, magic.size()) != magic) return {};
  ByteReader r(bytes, path, "item2vec checkpoint");
  (void)r.bytes(magic.size());
  const auto version = r.get<std::uint32_t>();
  const nlohmann::json config = nlohmann::json::parse(r.bytes(r.get<std::uint64_t>()), nullptr, false);
  if (config.is_discarded()) RECKON_THROW(StatusCode::kDataError, path, ": unreadable header");
  return nlohmann::json{{"kind", "item2vec"}, {"format", "item2vec v" + std::to_string(version)}, {"config", config}}
      .dump();
}

Item2Vec Item2Vec::load(Context& ctx, const std::string& path) {
  const std::string bytes = read_file(path);
  if (CheckpointReader::recognises(bytes)) return load_envelope(ctx, path);
  return load_legacy(ctx, path, bytes);
}

Item2Vec Item2Vec::load_envelope(Context& ctx, const std::string& path) {
  const CheckpointReader file(path);
  file.expect_kind("item2vec");
  const Header h = parse_header(file.config_json(), path);
  ByteReader r(file.bytes("vocabulary"), path, "item2vec vocabulary");
  Item2Vec model(ctx, h.config, read_vocabulary(r, h, 0, r.remaining(), path));
  file.read(ctx, "input", model.input_);
  file.read(ctx, "output", model.output_);
  model.trained_words_ = h.trained_words;
  model.steps_ = h.steps;
  return model;
}

// The format before the shared envelope: magic line, version 1, header, vocabulary, both tables, checksum.
Item2Vec Item2Vec::load_legacy(Context& ctx, const std::string& path, const std::string& bytes) {
  const std::string magic = std::string(kMagic) + "\n";
  if (bytes.compare(0, magic.size(), magic) != 0)
    RECKON_THROW(StatusCode::kDataError, path, ": not a reckon item2vec checkpoint");
  if (bytes.size() < magic.size() + 4 + 8)
    RECKON_THROW(StatusCode::kDataError, path, ": truncated item2vec checkpoint");
  const std::string_view body(bytes.data(), bytes.size() - 8);
  ByteReader r(body, path, "item2vec checkpoint");
  (void)r.bytes(magic.size());
  const auto version = r.get<std::uint32_t>();
  if (version != kVersion) {
    RECKON_THROW(StatusCode::kDataError, path, ": item2vec checkpoint version ", version, ", this build reads ",
                 kVersion, " and the shared format");
  }
  (void)checksummed_body(bytes, path);
  const Header h = parse_header(r.bytes(r.get<std::uint64_t>()), path);
  Item2Vec model(ctx, h.config, read_vocabulary(r, h, 8 * static_cast<std::uint64_t>(h.config.dim), bytes.size(), path));
  const auto n = static_cast<std::size_t>(h.vocab * h.config.dim);
  std::vector<float> table(n);
  for (Tensor* t : {&model.input_, &model.output_}) {
    r.take(table.data(), n * sizeof(float));
    copy_bytes(ctx, t->view().data, ctx.device(), table.data(), Device::cpu(), n * sizeof(float));
    ctx.synchronize();
  }
  model.trained_words_ = h.trained_words;
  model.steps_ = h.steps;
  return model;
}

}  // namespace reckon::item2vec
