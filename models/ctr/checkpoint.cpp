#include "reckon/models/ctr/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/memory.h"

namespace reckon::ctr {
namespace {

constexpr char kMagic[8] = {'R', 'E', 'C', 'K', 'O', 'N', 'C', 'K'};

// The dense optimizer's code in version 1 and 2 files (its own enumeration before the optimizers were one module).
constexpr OptimizerKind kDenseOptimizerCodes[] = {OptimizerKind::kAdam, OptimizerKind::kAdagrad, OptimizerKind::kSgd};
int dense_optimizer_code(OptimizerKind kind) {
  for (int i = 0; i < 3; ++i) {
    if (kDenseOptimizerCodes[i] == kind) return i;
  }
  RECKON_THROW(StatusCode::kInvalidArgument, "the dense layers cannot use ", to_string(kind));
}

nlohmann::json config_json(const CtrModel& model) {
  const CtrModelConfig& c = model.config();
  return {{"kind", to_string(c.kind)},
          {"embed_dim", c.embed_dim},
          {"hidden", c.hidden},
          {"dropout", c.dropout},
          {"embedding_l2", c.embedding_l2},
          {"sparse_optimizer", static_cast<int>(c.sparse_optimizer)},
          {"dense_optimizer", dense_optimizer_code(c.dense_optimizer)},
          {"sparse_learning_rate", c.sparse_learning_rate},
          {"dense_learning_rate", c.dense_learning_rate},
          {"dense_weight_decay", c.dense_weight_decay},
          {"init_stddev", c.init_stddev},
          {"seed", c.seed},
          {"field_rows", model.field_rows()},
          {"field_widths", c.field_widths},
          {"step", model.step()}};
}

// A count, then each tensor as its element count and its values, packed whatever its row stride in memory
// (tables and their optimizer state sit interleaved in one block).
void append_tensors(Context& ctx, std::string& body, const std::vector<TensorView>& tensors) {
  append_bytes<std::uint64_t>(body, tensors.size());
  for (const TensorView& t : tensors) {
    append_bytes<std::uint64_t>(body, static_cast<std::uint64_t>(t.numel()));
    const std::size_t at = body.size();
    body.resize(at + t.nbytes());
    copy(ctx, TensorView::contiguous(body.data() + at, t.dtype, Device::cpu(), t.sizes.data(), t.ndim), t);
  }
}

// Reads what append_tensors wrote into tensors of the expected shapes; `what` names them in errors.
void read_tensors(Context& ctx, ByteReader& r, const std::vector<TensorView>& tensors, const std::string& path,
                  const char* what) {
  if (r.get<std::uint64_t>() != tensors.size()) RECKON_THROW(StatusCode::kDataError, path, ": ", what, " count does not match");
  std::vector<char> staging;
  for (const TensorView& t : tensors) {
    const std::uint64_t n = r.get<std::uint64_t>();
    if (n != static_cast<std::uint64_t>(t.numel())) {
      RECKON_THROW(StatusCode::kDataError, path, ": ", what, " of ", n, " elements where ", t.numel(), " expected");
    }
    staging.resize(t.nbytes());
    r.take(staging.data(), staging.size());
    copy(ctx, t, TensorView::contiguous(staging.data(), t.dtype, Device::cpu(), t.sizes.data(), t.ndim));
    ctx.synchronize();  // staging is reused
  }
}

}  // namespace

namespace {

// The model's settings from a header (either format). Enumerations are range-checked: a damaged or foreign header
// must not become an invalid enum value.
CtrModelConfig config_from_json(const nlohmann::json& c, const std::string& path) {
  CtrModelConfig config;
  config.kind = parse_model_kind(c.at("kind").get<std::string>());
  config.embed_dim = c.at("embed_dim").get<int>();
  config.hidden = c.at("hidden").get<std::vector<int>>();
  config.dropout = c.at("dropout").get<float>();
  config.embedding_l2 = c.at("embedding_l2").get<float>();
  const int sparse_optimizer = c.at("sparse_optimizer").get<int>();
  const int dense_optimizer = c.value("dense_optimizer", 0);  // absent in checkpoints before dense optimizer choice
  if (sparse_optimizer < 0 || sparse_optimizer > static_cast<int>(SparseOptimizerKind::kAdam) || dense_optimizer < 0 ||
      dense_optimizer > 2) {
    RECKON_THROW(StatusCode::kDataError, path, ": unknown optimizer in the checkpoint header");
  }
  config.sparse_optimizer = static_cast<SparseOptimizerKind>(sparse_optimizer);
  config.dense_optimizer = kDenseOptimizerCodes[dense_optimizer];
  config.sparse_learning_rate = c.at("sparse_learning_rate").get<float>();
  config.dense_learning_rate = c.at("dense_learning_rate").get<float>();
  config.dense_weight_decay = c.value("dense_weight_decay", 0.0f);  // absent in checkpoints before it existed
  config.init_stddev = c.value("init_stddev", 0.05f);  // absent in checkpoints before it was an option: 0.05 then
  config.seed = c.at("seed").get<std::uint64_t>();
  config.field_widths = c.value("field_widths", std::vector<int>{});
  return config;
}

// The parameters are in the file, 4 bytes each: sizes it cannot hold are refused before the model is built (a
// damaged header must not become a huge allocation). A lower bound (every model has a row per id and field; DNN and
// DeepFM their MLP), counted in double since the header's numbers may overflow.
void check_fits(const CtrModelConfig& config, const std::vector<std::int64_t>& field_rows, std::size_t bytes,
                const std::string& path) {
  double parameters = 0;
  for (const std::int64_t rows : field_rows) parameters += static_cast<double>(rows);
  if (config.kind == CtrModelKind::kDnn || config.kind == CtrModelKind::kDeepFm) {
    double width = static_cast<double>(config.embed_dim) * static_cast<double>(field_rows.size());
    for (const int h : config.hidden) {
      parameters += (width + 1.0) * h;
      width = h;
    }
  }
  if (!(parameters * 4 <= static_cast<double>(bytes))) {
    RECKON_THROW(StatusCode::kDataError, path, ": the model configuration needs more parameters than the ",
                 bytes, "-byte checkpoint holds");
  }
}

// The model a header describes, checked against the file's size and its vocabulary, at the header's step.
std::unique_ptr<CtrModel> build_model(Context& ctx, const std::string& config_text, const Vocabulary& vocabulary,
                                      std::size_t bytes, const std::string& path) {
  try {
    const nlohmann::json c = nlohmann::json::parse(config_text);
    const CtrModelConfig config = config_from_json(c, path);
    const auto field_rows = c.at("field_rows").get<std::vector<std::int64_t>>();
    check_fits(config, field_rows, bytes, path);
    // The vocabulary maps tokens to the rows of these tables: a checkpoint whose two disagree would score wrong rows.
    const std::vector<int> widths =
        config.field_widths.empty() ? std::vector<int>(field_rows.size(), 1) : config.field_widths;  // older files
    if (field_rows != vocabulary.field_rows() || widths != vocabulary.field_widths()) {
      RECKON_THROW(StatusCode::kDataError, path, ": the vocabulary and the model disagree on fields or table rows");
    }
    auto model = std::make_unique<CtrModel>(ctx, config, field_rows);
    model->set_step(c.at("step").get<std::int64_t>());
    return model;
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": incomplete model configuration: ", e.what());
  }
}

// Versions 1 and 2: magic, version, configuration, vocabulary, parameters (and from 2 the optimizers' state), each
// a length or count then its bytes, and an FNV-1a checksum.
LoadedModel load_legacy(const std::string& path, const std::string& bytes, Context& ctx) {
  if (bytes.size() < sizeof(kMagic) + 16) RECKON_THROW(StatusCode::kDataError, path, ": truncated checkpoint");
  ByteReader r(checksummed_body(bytes, path), path, "checkpoint");
  (void)r.bytes(sizeof(kMagic));
  const std::uint64_t version = r.get<std::uint64_t>();
  if (version < 1 || version > kLegacyCheckpointVersion) {
    RECKON_THROW(StatusCode::kDataError, path, ": checkpoint version ", version, ", this build reads 1 to ",
                 kLegacyCheckpointVersion, " and the shared format");
  }
  const std::string config = r.bytes(r.get<std::uint64_t>());
  std::istringstream vocab(r.bytes(r.get<std::uint64_t>()));
  LoadedModel out;
  out.vocabulary = Vocabulary::load(vocab);
  out.model = build_model(ctx, config, out.vocabulary, r.remaining(), path);
  read_training_state(r, *out.model, path, version >= 2);
  return out;
}

std::string vocabulary_summary(const Vocabulary& vocabulary) {
  return nlohmann::json{{"fields", vocabulary.field_count()},
                        {"field_names", vocabulary.field_names},
                        {"rows", vocabulary.field_rows()},
                        {"widths", vocabulary.field_widths()}}
      .dump();
}

LoadedModel load_envelope(const std::string& path, Context& ctx) {
  const CheckpointReader file(path);
  file.expect_kind("ctr");
  std::istringstream vocab{std::string(file.bytes("vocabulary"))};
  LoadedModel out;
  out.vocabulary = Vocabulary::load(vocab);
  std::size_t bytes = 0;
  for (const CheckpointEntry& e : file.entries()) bytes += e.bytes;
  out.model = build_model(ctx, file.config_json(), out.vocabulary, bytes, path);
  for (const layers::NamedTensor& t : out.model->named_parameters()) file.read(ctx, t.name, t.view);
  // Files saved for serving only may leave the optimizers' state out: training then resumes from fresh state.
  for (const layers::NamedTensor& t : out.model->named_optimizer_state()) {
    if (file.has(t.name)) file.read(ctx, t.name, t.view);
  }
  return out;
}

}  // namespace

std::string legacy_checkpoint_header(const std::string& path, std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return {};
  ByteReader r(bytes, path, "checkpoint");
  (void)r.bytes(sizeof(kMagic));
  const std::uint64_t version = r.get<std::uint64_t>();
  const nlohmann::json config = nlohmann::json::parse(r.bytes(r.get<std::uint64_t>()), nullptr, false);
  if (config.is_discarded()) RECKON_THROW(StatusCode::kDataError, path, ": unreadable model configuration");
  return nlohmann::json{{"kind", "ctr"}, {"format", "ctr v" + std::to_string(version)}, {"config", config}}.dump();
}

void save_checkpoint(const std::string& path, CtrModel& model, const Vocabulary& vocabulary) {
  Context& ctx = model.context();
  CheckpointWriter file("ctr", config_json(model).dump(), vocabulary_summary(vocabulary));
  std::ostringstream vocab;
  vocabulary.save(vocab);
  file.add_bytes("vocabulary", vocab.str());
  for (const layers::NamedTensor& t : model.named_parameters()) file.add(ctx, t.name, t.view);
  for (const layers::NamedTensor& t : model.named_optimizer_state()) file.add(ctx, t.name, t.view);
  file.write(path);
}

LoadedModel load_checkpoint(const std::string& path, Context& ctx) {
  const std::string bytes = read_file(path);
  if (CheckpointReader::recognises(bytes)) return load_envelope(path, ctx);
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    RECKON_THROW(StatusCode::kDataError, path, ": not a reckon checkpoint");
  }
  return load_legacy(path, bytes, ctx);
}

void append_training_state(std::string& bytes, CtrModel& model) {
  Context& ctx = model.context();
  append_tensors(ctx, bytes, model.parameters());
  append_tensors(ctx, bytes, model.optimizer_state());
  ctx.synchronize();
}

void read_training_state(ByteReader& reader, CtrModel& model, const std::string& source, bool with_optimizer_state) {
  Context& ctx = model.context();
  read_tensors(ctx, reader, model.parameters(), source, "parameter");
  if (with_optimizer_state) read_tensors(ctx, reader, model.optimizer_state(), source, "optimizer state");
}

}  // namespace reckon::ctr
