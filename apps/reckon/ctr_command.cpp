// `reckon ctr ...`: the synthetic click log, training and evaluation of LR / FM / DNN / DeepFM.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/metrics.h"
#include "reckon/models/ctr/model.h"
#include "reckon/models/ctr/movielens.h"
#include "reckon/models/ctr/synthetic.h"
#include "reckon/models/ctr/trainer.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/timer.h"

namespace reckon::cli {
namespace {

struct SynthArgs {
  CommonOptions common;
  std::int64_t rows = 1'000'000, test = 100'000;
  std::string out = "ctr_synth", structure = "app-store";
};

struct TrainArgs {
  CommonOptions common;
  std::string model = "deepfm", train, valid, format = "criteo", hidden = "400,400,400", optimizer = "adam",
              embed_optimizer, dense_optimizer, bad_rows = "skip", save, resume;
  int epochs = 1, embed_dim = 16, patience = 0;
  float lr_decay = 1.0f;
  std::int64_t batch = 4096, min_count = 1, hash_buckets = 0;
  float lr = 1e-3f, embed_lr = 0.0f, dense_lr = 0.0f, dropout = 0.0f, l2 = 0.0f, weight_decay = 0.0f;
  float init_std = ctr::CtrModelConfig{}.init_stddev;
  bool progress = true, stream = false, profile = false, keep_last = false, tf32 = false;
  std::int64_t shuffle_buffer = 1 << 18;
  std::set<std::string> given;  // options named on the command line (--resume checks them against the checkpoint)
};

// "400,400,400": positive layer sizes, comma separated; an empty text is no hidden layer.
std::vector<int> parse_hidden(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    int size = 0;
    if (!parse_field(item, size) || size < 1) {
      RECKON_THROW(StatusCode::kInvalidArgument, "--hidden '", text, "': '", item,
                   "' is not a positive layer size (expected sizes separated by commas, e.g. 400,400,400)");
    }
    out.push_back(size);
  }
  return out;
}

SparseOptimizerKind parse_sparse_optimizer(const std::string& name) {
  if (name == "adam") return SparseOptimizerKind::kAdam;
  // The embeddings' Adagrad is row-wise (one state per row): "adagrad" has always meant it here.
  if (name == "rowwise-adagrad" || name == "adagrad") return SparseOptimizerKind::kRowwiseAdagrad;
  if (name == "sgd") return SparseOptimizerKind::kSgd;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown optimizer '", name,
               "': expected adam, rowwise-adagrad (or adagrad) or sgd");
}

ctr::DenseOptimizerKind parse_dense_optimizer(const std::string& name) {
  if (name == "adam") return ctr::DenseOptimizerKind::kAdam;
  // Dense parameters have no rows to share a state: rowwise-adagrad (given to --optimizer for both groups) is Adagrad.
  if (name == "adagrad" || name == "rowwise-adagrad") return ctr::DenseOptimizerKind::kAdagrad;
  if (name == "sgd") return ctr::DenseOptimizerKind::kSgd;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown optimizer '", name, "': expected adam, adagrad or sgd");
}

// The two parameter groups: the embeddings (--embed-*) and the dense layers (--dense-*) default to --lr and
// --optimizer.
float group_learning_rate(const TrainArgs& a, const char* option, float value) {
  return a.given.count(option) != 0 ? value : a.lr;
}
const std::string& group_optimizer(const TrainArgs& a, const std::string& value) {
  return value.empty() ? a.optimizer : value;
}

// What the MLP's matrix products ran in: TF32 only when asked for and on a GPU.
const char* mlp_math_name(const Context& ctx, const ctr::CtrModel& model) {
  return ctx.is_cuda() && model.config().mlp_math == DenseMath::kAllowTf32 ? "tf32" : "f32";
}

// --resume continues the checkpoint's model: an option that would change its architecture, optimizer or vocabulary
// is refused when named with a different value (silently training something else than asked is worse), and --lr,
// when named, sets the learning rates of the continued run (fine-tuning at a lower rate, say).
void check_resume_options(const TrainArgs& a, const ctr::CtrModelConfig& asked, ctr::CtrModel& model) {
  const ctr::CtrModelConfig& has = model.config();
  const auto refuse_if = [&](const char* option, bool differs, const std::string& checkpoint_value) {
    if (a.given.count(option) != 0 && differs) {
      RECKON_THROW(StatusCode::kInvalidArgument, option, " differs from the checkpoint's (", checkpoint_value, ") in ",
                   a.resume, ": --resume continues the checkpoint's model; leave ", option, " out");
    }
  };
  std::string hidden;
  for (const int h : has.hidden) hidden += (hidden.empty() ? "" : ",") + std::to_string(h);
  refuse_if("--model", asked.kind != has.kind, ctr::to_string(has.kind));
  refuse_if("--embed-dim", asked.embed_dim != has.embed_dim, std::to_string(has.embed_dim));
  refuse_if("--hidden", asked.hidden != has.hidden, hidden);
  refuse_if("--dropout", asked.dropout != has.dropout, fmt::format("{}", has.dropout));
  refuse_if("--l2", asked.embedding_l2 != has.embedding_l2, fmt::format("{}", has.embedding_l2));
  refuse_if("--init-std", asked.init_stddev != has.init_stddev && asked.init_stddev != ctr::kModelInitStddev,
            fmt::format("{}", has.init_stddev));
  refuse_if("--optimizer",
            asked.sparse_optimizer != has.sparse_optimizer || asked.dense_optimizer != has.dense_optimizer,
            "another optimizer");
  refuse_if("--embed-optimizer", asked.sparse_optimizer != has.sparse_optimizer, "another optimizer");
  refuse_if("--dense-optimizer", asked.dense_optimizer != has.dense_optimizer, "another optimizer");
  refuse_vocabulary_options(a.given, {"--min-count", "--hash-buckets"}, a.resume);
  // A group's rate is the one asked for when --lr or the group's own option was named, else the checkpoint's.
  const auto named = [&a](const char* option) { return a.given.count(option) != 0; };
  model.set_learning_rates(named("--lr") || named("--embed-lr") ? asked.sparse_learning_rate : has.sparse_learning_rate,
                           named("--lr") || named("--dense-lr") ? asked.dense_learning_rate : has.dense_learning_rate);
  if (named("--weight-decay")) model.set_dense_weight_decay(asked.dense_weight_decay);
}

// Every option is checked before the (possibly large) files are read.
ctr::CtrModelConfig model_config(const TrainArgs& a) {
  ctr::CtrModelConfig config;
  config.kind = ctr::parse_model_kind(a.model);
  config.embed_dim = a.embed_dim;
  config.hidden = parse_hidden(a.hidden);
  config.dropout = a.dropout;
  config.embedding_l2 = a.l2;
  config.sparse_optimizer = parse_sparse_optimizer(group_optimizer(a, a.embed_optimizer));
  config.dense_optimizer = parse_dense_optimizer(group_optimizer(a, a.dense_optimizer));
  config.sparse_learning_rate = group_learning_rate(a, "--embed-lr", a.embed_lr);
  config.dense_learning_rate = group_learning_rate(a, "--dense-lr", a.dense_lr);
  config.dense_weight_decay = a.weight_decay;
  config.init_stddev = a.init_std;
  config.seed = a.common.seed;
  config.mlp_math = a.tf32 ? DenseMath::kAllowTf32 : DenseMath::kF32;
  ctr::validate(config);
  return config;
}

ctr::TrainOptions train_options(const TrainArgs& a) {
  ctr::TrainOptions options;
  options.epochs = a.epochs;
  options.batch_size = a.batch;
  options.progress = a.progress && !a.common.json;
  options.seed = a.common.seed;
  options.early_stopping_patience = a.patience;
  options.restore_best = !a.keep_last;
  options.learning_rate_decay = a.lr_decay;
  ctr::validate(options);
  RECKON_CHECK_ARG(a.common.threads >= 0, "--threads must be >= 0 (0: all), got ", a.common.threads);
  RECKON_CHECK_ARG(a.shuffle_buffer >= 1, "--shuffle-buffer must be >= 1, got ", a.shuffle_buffer);
  RECKON_CHECK_ARG(a.hash_buckets >= 0, "--hash-buckets must be >= 0 (0: off), got ", a.hash_buckets);
  RECKON_CHECK_ARG(a.min_count >= 1, "--min-count must be >= 1, got ", a.min_count);
  return options;
}

nlohmann::json epochs_json(const ctr::TrainResult& r, bool validated) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const ctr::EpochResult& e : r.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"auc", metric_or_null(validated, e.valid_auc)},
                      {"logloss", metric_or_null(validated, e.valid_logloss)},
                      {"seconds", e.seconds},
                      {"samples_per_s", e.samples_per_s}});
  }
  return epochs;
}

// --profile: each stage's milliseconds per step, null without a timer.
nlohmann::json profile_json(StageTimer* stages) {
  if (stages == nullptr) return nullptr;
  const auto& totals = stages->totals_ms();
  const auto steps = static_cast<double>(std::max<std::int64_t>(stages->passes(), 1));
  nlohmann::json profile{{"steps", stages->passes()}};
  for (std::size_t i = 0; i < totals.size(); ++i) profile[stages->stage_names()[i] + "_ms_per_step"] = totals[i] / steps;
  return profile;
}

// What a training run read, trained and reached: the result object of `ctr train`.
struct TrainRun {
  ctr::CtrModelConfig started;  // learning rates before any --lr-decay
  std::int64_t start_step = 0;
  ctr::TrainResult result;
  std::int64_t valid_rows = 0, skipped_rows = 0, fields = 0;
  nlohmann::json profile;
};

nlohmann::json train_json(const TrainArgs& a, const Context& ctx, const ctr::CtrModel& model, const TrainRun& run) {
  const ctr::TrainResult& r = run.result;
  const bool validated = run.valid_rows > 0;
  return {{"model", ctr::to_string(model.config().kind)},
          {"resumed_from", a.resume.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.resume)},
          {"start_step", run.start_step},
          {"sparse_learning_rate", run.started.sparse_learning_rate},  // at the start of this run
          {"dense_learning_rate", run.started.dense_learning_rate},
          {"sparse_optimizer", reckon::to_string(run.started.sparse_optimizer)},
          {"dense_optimizer", reckon::to_string(run.started.dense_optimizer)},
          {"dense_weight_decay", run.started.dense_weight_decay},
          {"init_stddev", run.started.init_stddev},
          {"mlp_math", mlp_math_name(ctx, model)},
          {"steps", model.step()},
          {"device", ctx.device().str()},
          {"stage_profile", run.profile},
          {"train_rows", r.epochs.empty() ? std::int64_t{0} : r.epochs.back().samples},
          {"streamed", a.stream},
          {"valid_rows", run.valid_rows},
          {"skipped_rows", run.skipped_rows},
          {"fields", run.fields},
          {"auc", metric_or_null(validated, r.auc)},
          {"logloss", metric_or_null(validated, r.logloss)},
          {"best_epoch", r.best_epoch},
          {"epochs", r.epochs.size()},
          {"epoch_results", epochs_json(r, validated)},
          {"train_samples_per_s", r.train_samples_per_s},
          {"stopped_early", r.stopped_early},
          {"restored_best_epoch", r.restored_best},
          {"saved", a.save}};
}

nlohmann::json run_train(const TrainArgs& a) {
  ctr::CtrModelConfig config = model_config(a);
  const ctr::TrainOptions options = train_options(a);
  Context ctx = make_context(a.common);
  ctr::ReadOptions read =
      ctr::read_options(a.format, a.bad_rows == "fail" ? ctr::BadRowPolicy::kFail : ctr::BadRowPolicy::kSkip);
  read.threads = a.common.threads;  // the files are parsed on the same threads as training runs
  // --resume: the checkpoint's model (configuration, parameters, optimizer state, step) and vocabulary.
  ctr::LoadedModel resumed;
  if (!a.resume.empty()) resumed = ctr::load_checkpoint(a.resume, ctx);
  const ctr::Vocabulary vocab =
      a.resume.empty() ? ctr::build_vocabulary(a.train, read, a.min_count, a.hash_buckets) : resumed.vocabulary;
  // Streaming keeps only the shuffle buffer and a few batches in memory; otherwise the file is read whole.
  const ctr::CtrDataset train = a.stream ? ctr::CtrDataset{} : ctr::read_dataset(a.train, vocab, read);
  const ctr::CtrDataset valid = a.valid.empty() ? ctr::CtrDataset{} : ctr::read_dataset(a.valid, vocab, read);
  if (!a.stream) ctr::require_rows(train, a.train, "trained on", false);
  if (!a.valid.empty()) ctr::require_rows(valid, a.valid, "used for validation", false);
  config.field_widths = vocab.field_widths();
  std::unique_ptr<ctr::CtrModel> created =
      a.resume.empty() ? std::make_unique<ctr::CtrModel>(ctx, config, vocab.field_rows()) : std::move(resumed.model);
  ctr::CtrModel& model = *created;
  if (!a.resume.empty()) check_resume_options(a, config, model);
  model.set_mlp_math(config.mlp_math);  // a run-time choice, also for a resumed model
  TrainRun run{model.config(), model.step(), {}, valid.size(), 0, vocab.field_count(), nullptr};
  ctr::CtrDataset stream_report;
  // --profile: time each stage of every training step (stream events on a GPU, so the steps are not serialised).
  std::unique_ptr<StageTimer> stages;
  if (a.profile) {
    stages = std::make_unique<StageTimer>(ctx, ctr::ctr_stage_names());
    model.set_stage_timer(stages.get());
  }
  run.result = a.stream ? ctr::train_stream(model, a.train, vocab, read, valid, options, a.shuffle_buffer, &stream_report)
                        : ctr::train(model, train, valid, options);
  model.set_stage_timer(nullptr);
  if (!a.save.empty()) ctr::save_checkpoint(a.save, model, vocab);
  run.skipped_rows = train.skipped_rows + stream_report.skipped_rows + valid.skipped_rows;
  run.profile = profile_json(stages.get());
  return train_json(a, ctx, model, run);
}

struct PredictArgs {
  CommonOptions common;
  std::string model, data, out, bad_rows = "skip", labels = "auto";
  std::int64_t batch = 4096;
  bool tf32 = false;
};

nlohmann::json run_predict(const PredictArgs& a) {
  RECKON_CHECK_ARG(a.batch >= 1, "--batch must be >= 1, got ", a.batch);
  Context ctx(parse_device(a.common.device));
  ctr::LoadedModel loaded = ctr::load_checkpoint(a.model, ctx);
  loaded.model->set_mlp_math(a.tf32 ? DenseMath::kAllowTf32 : DenseMath::kF32);
  ctr::ReadOptions read{loaded.vocabulary.format,
                        a.bad_rows == "fail" ? ctr::BadRowPolicy::kFail : ctr::BadRowPolicy::kSkip, -1,
                        loaded.vocabulary.schema};
  read.labels = a.labels == "present"  ? ctr::LabelColumn::kPresent
                : a.labels == "absent" ? ctr::LabelColumn::kAbsent
                                       : ctr::LabelColumn::kDetect;
  // The file is scored a batch at a time as it is read; only the probabilities and labels are kept, for the AUC.
  // --out is written to a temporary file renamed at the end, so a failure leaves no partial output.
  std::vector<float> p, labels;
  ctr::ScoredFile scored;
  const auto score = [&](std::ostream* out) {
    scored = ctr::predict_file(*loaded.model, a.data, loaded.vocabulary, read, a.batch,
                               [&](const std::vector<float>& batch_p, const std::vector<float>& batch_labels) {
                                 if (out != nullptr) {
                                   for (float x : batch_p) *out << x << '\n';
                                 }
                                 p.insert(p.end(), batch_p.begin(), batch_p.end());
                                 labels.insert(labels.end(), batch_labels.begin(), batch_labels.end());
                               });
    // An empty request file gives an empty answer; a file with no usable row is an error.
    ctr::require_rows(scored.rows, scored.skipped_rows, scored.first_errors, a.data, "scored", true);
  };
  if (a.out.empty()) {
    score(nullptr);
  } else {
    write_file_atomically(a.out, [&](std::ostream& out) { score(&out); });
  }
  return {{"rows", scored.rows},
          {"labeled", scored.labeled},
          {"skipped_rows", scored.skipped_rows},
          {"first_errors", scored.first_errors},
          {"auc", metric_or_null(scored.labeled, ctr::auc(p, labels))},
          {"logloss", metric_or_null(scored.labeled, ctr::logloss(p, labels))},
          {"device", ctx.device().str()},
          {"mlp_math", mlp_math_name(ctx, *loaded.model)},
          {"out", a.out}};
}

struct DemoArgs {
  CommonOptions common;
  std::int64_t rows = 300'000, test = 50'000;
  int epochs = 2;
  std::string out = "build/ctr_demo";
};

// The seed's claim on the synthetic log: LR < FM (order 2) < DeepFM (order 3), DeepFM near the Bayes AUC.
nlohmann::json run_demo(const DemoArgs& d) {
  const ctr::SyntheticResult s = ctr::write_synthetic_click_log(d.out, {d.rows, d.test, 1});
  nlohmann::json models = nlohmann::json::array();
  for (const char* model : {"lr", "fm", "dnn", "deepfm"}) {
    TrainArgs a;
    a.model = model;
    a.train = s.train_path;
    a.valid = s.test_path;
    a.epochs = d.epochs;
    a.batch = 512;
    a.hidden = "200,200";  // wide enough to learn the parity-like order-3 term in two epochs
    a.lr = 0.003f;
    a.common.device = d.common.device;
    a.progress = !d.common.json;
    a.common.json = d.common.json;
    if (!d.common.json) {
      fmt::print("training {} ...\n", model);
      std::fflush(stdout);  // before the epochs' lines on stderr, when both go to one pipe
    }
    models.push_back(run_train(a));
  }
  return {{"rows", d.rows},
          {"test_rows", d.test},
          {"bayes_auc", s.bayes_auc},
          {"bayes_logloss", s.bayes_logloss},
          {"models", models}};
}

nlohmann::json run_synth(const SynthArgs& a) {
  const ctr::SyntheticResult r = ctr::write_synthetic_click_log(
      a.out, {a.rows, a.test, a.common.seed, ctr::parse_synthetic_structure(a.structure)});
  return {{"train", r.train_path},         {"test", r.test_path},
          {"bayes", r.bayes_path},         {"bayes_auc", r.bayes_auc},
          {"bayes_logloss", r.bayes_logloss}, {"click_rate", r.click_rate}};
}

void add_synth(CLI::App* ctr) {
  auto synth = std::make_shared<SynthArgs>();
  auto* s = ctr->add_subcommand("synth", "Write a synthetic click log with planted structure (Criteo layout) and "
                                          "bayes.json");
  s->add_option("--rows", synth->rows, "training rows")->capture_default_str();
  s->add_option("--test", synth->test, "test rows")->capture_default_str();
  s->add_option("--structure", synth->structure,
                "app-store (the demo's: 10 fields, order-2 and order-3 terms) or ads (all 39 columns, counts, "
                "rank-4 order-2 term among 8 fields, order-3 parity term)")
      ->check(CLI::IsMember({"app-store", "ads"}))
      ->capture_default_str();
  s->add_option("--out", synth->out, "output directory")->capture_default_str();
  add_common_options(s, synth->common, kSeed | kJson);
  set_run(s, &synth->common, [synth] { return run_synth(*synth); }, [](const nlohmann::json& j) {
    fmt::print("wrote {} and {}\nBayes-optimal test AUC {:.4f}, logloss {:.4f}, click rate {:.3f}\n",
               j["train"].get<std::string>(), j["test"].get<std::string>(), j["bayes_auc"].get<double>(),
               j["bayes_logloss"].get<double>(), j["click_rate"].get<double>());
  });
}

void print_demo(const nlohmann::json& r) {
  fmt::print("\nCTR demo: synthetic app-store click log, {} training rows, {} test rows\n",
             r["rows"].get<std::int64_t>(), r["test_rows"].get<std::int64_t>());
  fmt::print("{:<8} {:>8} {:>9} {:>10} {:>16}\n", "model", "AUC", "logloss", "AUC gap", "train samples/s");
  const double bayes = r["bayes_auc"].get<double>();
  for (const auto& m : r["models"]) {
    fmt::print("{:<8} {:>8.4f} {:>9.4f} {:>10.4f} {:>16.0f}\n", m["model"].get<std::string>(), m["auc"].get<double>(),
               m["logloss"].get<double>(), bayes - m["auc"].get<double>(), m["train_samples_per_s"].get<double>());
  }
  fmt::print("{:<8} {:>8.4f} {:>9.4f}   (true click probabilities)\n", "bayes", bayes, r["bayes_logloss"].get<double>());
}

void add_demo(CLI::App* ctr) {
  auto demo = std::make_shared<DemoArgs>();
  auto* dm = ctr->add_subcommand("demo", "Synthetic click log: train LR, FM, DNN and DeepFM and compare with Bayes");
  dm->add_option("--rows", demo->rows, "training rows")->capture_default_str();
  dm->add_option("--test", demo->test, "test rows")->capture_default_str();
  dm->add_option("--epochs", demo->epochs)->capture_default_str();
  dm->add_option("--out", demo->out, "directory for the generated files")->capture_default_str();
  add_common_options(dm, demo->common, kDevice | kJson);
  set_run(dm, &demo->common, [demo] { return run_demo(*demo); }, print_demo);
}

struct MovielensArgs {
  CommonOptions common;
  std::string ratings, movies, out = "movielens_ctr";
  double test_fraction = 0.2;
};

void add_movielens(CLI::App* ctr) {
  auto ml = std::make_shared<MovielensArgs>();
  auto* mc = ctr->add_subcommand("movielens", "MovieLens ratings as a click log (rating >= 4 is a click)");
  mc->add_option("--ratings", ml->ratings, "ratings.csv")->required();
  mc->add_option("--movies", ml->movies, "movies.csv")->required();
  mc->add_option("--out", ml->out, "output directory")->capture_default_str();
  mc->add_option("--test-fraction", ml->test_fraction)->capture_default_str();
  add_common_options(mc, ml->common, kSeed | kJson);
  set_run(mc, &ml->common, [ml]() -> nlohmann::json {
    const ctr::MovielensClickLog l =
        ctr::write_movielens_click_log(ml->ratings, ml->movies, ml->out, ml->test_fraction, ml->common.seed);
    return {{"train", l.train_path},      {"test", l.test_path},
            {"schema", l.schema_path},    {"format", "schema:" + l.schema_path},
            {"train_rows", l.train_rows}, {"test_rows", l.test_rows},
            {"click_rate", l.click_rate}};
  }, [](const nlohmann::json& j) {
    fmt::print("wrote {} ({} rows) and {} ({} rows), click rate {:.3f}\ntrain with --format {}\n",
               j["train"].get<std::string>(), j["train_rows"].get<std::int64_t>(), j["test"].get<std::string>(),
               j["test_rows"].get<std::int64_t>(), j["click_rate"].get<double>(), j["format"].get<std::string>());
  });
}

void print_predict(const nlohmann::json& r) {
  const std::string metrics =
      r["labeled"].get<bool>()
          ? fmt::format(": AUC {:.4f}, logloss {:.4f}", r["auc"].get<double>(), r["logloss"].get<double>())
          : std::string(" (no labels)");
  const std::string out = r["out"].get<std::string>();
  fmt::print("{} rows scored on {}{}{}\n", r["rows"].get<std::int64_t>(), r["device"].get<std::string>(), metrics,
             out.empty() ? std::string() : ", probabilities in " + out);
  if (r["skipped_rows"].get<std::int64_t>() > 0) {
    fmt::print("skipped {} malformed rows (not in the output), the first: {}\n", r["skipped_rows"].get<std::int64_t>(),
               r["first_errors"][0].get<std::string>());
  }
}

void add_predict(CLI::App* ctr) {
  auto pred = std::make_shared<PredictArgs>();
  auto* pr = ctr->add_subcommand("predict", "Click probabilities from a saved model, one per line");
  pr->add_option("--model", pred->model, "checkpoint written by ctr train --save")->required();
  pr->add_option("--data", pred->data, "rows in the model's format")->required();
  pr->add_option("--out", pred->out, "output file (one probability per line)");
  pr->add_option("--batch", pred->batch)->capture_default_str();
  pr->add_flag("--tf32", pred->tf32, "on a GPU, the MLP's matrix products in TF32 (tensor cores)");
  pr->add_option("--bad-rows", pred->bad_rows, "skip | fail (skipped rows have no line in --out)")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  pr->add_option("--labels", pred->labels,
                 "auto | present | absent: whether rows carry a label (auto: decided from the first row, e.g. "
                 "Criteo with 39 columns has none)")
      ->check(CLI::IsMember({"auto", "present", "absent"}))
      ->capture_default_str();
  add_common_options(pr, pred->common, kDevice | kJson);
  set_run(pr, &pred->common, [pred] { return run_predict(*pred); }, print_predict);
}

// The model's architecture, optimizers and their settings.
void add_model_options(CLI::App* t, TrainArgs& a) {
  t->add_option("--model", a.model, "lr | fm | dnn | deepfm")->capture_default_str();
  t->add_option("--embed-dim", a.embed_dim)->capture_default_str();
  t->add_option("--hidden", a.hidden, "hidden layer sizes, comma separated")->capture_default_str();
  t->add_option("--lr", a.lr, "learning rate (embeddings and dense layers)")->capture_default_str();
  t->add_option("--embed-lr", a.embed_lr, "the embeddings' learning rate (default: --lr)");
  t->add_option("--dense-lr", a.dense_lr, "the dense layers' learning rate (default: --lr)");
  t->add_option("--lr-decay", a.lr_decay, "multiply the learning rates by this after each epoch")
      ->capture_default_str();
  t->add_option("--dropout", a.dropout)->capture_default_str();
  t->add_option("--l2", a.l2, "weight decay on touched embedding rows")->capture_default_str();
  t->add_option("--init-std", a.init_std,
                "the embeddings' initial standard deviation: rows ~ N(0, std^2) (default: 0.01 for FM, 0.03 for "
                "DeepFM, 0.05 for DNN, chosen across logs: docs/CTR.md)");
  t->add_option("--optimizer", a.optimizer,
                "adam | rowwise-adagrad | sgd, for every parameter (embeddings use the sparse form: lazy Adam, "
                "row-wise Adagrad, SGD; the dense layers Adam, Adagrad, SGD); adagrad is accepted for rowwise-adagrad")
      ->capture_default_str();
  t->add_option("--embed-optimizer", a.embed_optimizer,
                "the embeddings' optimizer: adam, rowwise-adagrad (or adagrad), sgd (default: --optimizer)")
      ->check(CLI::IsMember({"adam", "rowwise-adagrad", "adagrad", "sgd"}));
  t->add_option("--dense-optimizer", a.dense_optimizer, "the dense layers' optimizer (default: --optimizer)")
      ->check(CLI::IsMember({"adam", "adagrad", "sgd"}));
  t->add_option("--weight-decay", a.weight_decay,
                "weight decay on the MLP weight matrices: decoupled (AdamW) with adam, L2 with adagrad and sgd")
      ->capture_default_str();
  t->add_flag("--tf32", a.tf32,
              "on a GPU, the MLP's matrix products in TF32 (tensor cores; 10-bit mantissa inputs, f32 accumulation)");
}

// The data, the run (epochs, batches, stopping) and what it writes.
void add_run_options(CLI::App* t, TrainArgs& a) {
  t->add_option("--train", a.train, "training file")->required();
  t->add_option("--valid", a.valid, "validation file");
  t->add_option("--format", a.format, "criteo | avazu | libffm | libsvm | schema:FILE")->capture_default_str();
  t->add_option("--epochs", a.epochs)->capture_default_str();
  t->add_option("--batch", a.batch)->capture_default_str();
  t->add_option("--patience", a.patience, "stop after this many epochs without a better validation logloss (0: off)")
      ->capture_default_str();
  t->add_flag("--keep-last", a.keep_last,
              "end with the last epoch's model, not the best validation epoch's (saves the host copy of the model "
              "that going back needs)");
  t->add_option("--min-count", a.min_count, "vocabulary threshold")->capture_default_str();
  t->add_option("--hash-buckets", a.hash_buckets, "hashing trick instead of a vocabulary (0: off)");
  t->add_option("--bad-rows", a.bad_rows, "skip | fail")->check(CLI::IsMember({"skip", "fail"}))->capture_default_str();
  t->add_option("--save", a.save, "write a checkpoint (model, vocabulary, optimizer state) to this file");
  t->add_option("--resume", a.resume,
                "continue training a checkpoint written by --save: its model, vocabulary, optimizer state and "
                "learning rates are used; --lr, if given, sets new learning rates; --model, --hidden, --embed-dim, "
                "--dropout, --l2, --init-std and --optimizer must match the checkpoint if given, --min-count and "
                "--hash-buckets must be left out");
  t->add_flag("--stream", a.stream, "stream the training file (files larger than memory)");
  t->add_flag("--profile", a.profile, "time each stage of the training steps (embedding, FM, MLP, loss, optimizers)");
  t->add_option("--shuffle-buffer", a.shuffle_buffer, "rows held for shuffling when streaming")->capture_default_str();
}

void print_train(const nlohmann::json& r) {
  const std::string metrics = r["auc"].is_null() ? std::string("no validation data")
                                                 : fmt::format("AUC {:.4f}  logloss {:.4f}", r["auc"].get<double>(),
                                                               r["logloss"].get<double>());
  // Each epoch was reported on stderr as it ended.
  fmt::print("{} on {}: {} (best epoch {}), {:.0f} training samples/s\n", r["model"].get<std::string>(),
             r["device"].get<std::string>(), metrics, r["best_epoch"].get<int>(), r["train_samples_per_s"].get<double>());
  if (r["skipped_rows"].get<std::int64_t>() > 0) {
    fmt::print("skipped {} malformed rows\n", r["skipped_rows"].get<std::int64_t>());
  }
}

void add_train(CLI::App* ctr) {
  auto train = std::make_shared<TrainArgs>();
  auto* t = ctr->add_subcommand("train", "Train a CTR model and report validation AUC and logloss");
  add_run_options(t, *train);
  add_model_options(t, *train);
  add_common_options(t, train->common, kDevice | kThreads | kSeed | kJson);
  set_run(t, &train->common, [train, t] {
    train->given = options_named(*t);
    return run_train(*train);
  }, print_train);
}

}  // namespace

void add_ctr_command(CLI::App& app) {
  auto* ctr = app.add_subcommand("ctr", "Click-through-rate models: LR, FM, DNN, DeepFM");
  ctr->require_subcommand(1);
  add_synth(ctr);
  add_demo(ctr);
  add_movielens(ctr);
  add_predict(ctr);
  add_train(ctr);
}

}  // namespace reckon::cli
