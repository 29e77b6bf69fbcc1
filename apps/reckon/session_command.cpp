// `reckon session ...`: session-based recommendation. `prepare` reads a click log in one of the field's formats and
// writes the literature's preprocessing and time split (train_full, train, valid, test and a JSON summary); `train`
// fits a baseline and saves it; `eval` ranks every item for every test click (one or several models side by side);
// `recommend` answers one session.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>

#include "commands.h"
#include "ensemble_models.h"
#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/models/session/clicks.h"
#include "reckon/models/session/cnn3d.h"
#include "reckon/models/session/content.h"
#include "reckon/models/session/conversion.h"
#include "reckon/models/session/evaluate.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/models/session/recommender.h"
#include "reckon/models/session/prepare.h"
#include "reckon/models/session/synthetic.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/error.h"

namespace reckon::cli {
namespace {

using namespace reckon::session;

struct PrepareArgs {
  CommonOptions common;
  std::string input, format = "sessions-tsv", out, bad_rows = "skip", straddling = "drop", fraction = "1";
  std::vector<std::string> items;  // FILE:FORMAT, item content side files
  double session_gap = 0, test_days = 0, validation_days = -1;
  std::int64_t min_session_length = 2, min_item_support = 5;
  bool all_events = false, allow_leak = false;
};

// "1/64", "0.25" or "1" as a fraction in (0, 1].
double parse_fraction(const std::string& text) {
  double numerator = 0, denominator = 1;
  const auto slash = text.find('/');
  const bool ok = slash == std::string::npos
                      ? parse_field(text, numerator)
                      : parse_field(std::string_view(text).substr(0, slash), numerator) &&
                            parse_field(std::string_view(text).substr(slash + 1), denominator);
  RECKON_CHECK_ARG(ok && denominator > 0 && numerator > 0 && numerator <= denominator,
                   "--train-fraction must be a fraction in (0, 1] such as 1/64 or 0.25, got '", text, "'");
  return numerator / denominator;
}

PrepareOptions prepare_options(const PrepareArgs& a, ClickFormat format) {
  PrepareOptions o = default_prepare_options(format);
  o.clicks_only = !a.all_events;
  o.min_session_length = a.min_session_length;
  o.min_item_support = a.min_item_support;
  if (a.test_days > 0) o.test_days = a.test_days;
  if (a.validation_days >= 0) o.validation_days = a.validation_days;
  o.train_fraction = parse_fraction(a.fraction);
  o.straddling = a.straddling == "test" ? Straddling::kTest : Straddling::kDrop;
  o.allow_leak = a.allow_leak;
  return o;
}

nlohmann::json run_prepare(const PrepareArgs& a) {
  ClickReadOptions r;
  r.format = parse_click_format(a.format);
  r.bad_rows = a.bad_rows == "fail" ? BadRows::kFail : BadRows::kSkip;
  r.session_gap = a.session_gap;
  ClickLog log = read_clicks(a.input, r);
  ItemContent content;
  for (const std::string& spec : a.items) {
    const auto colon = spec.rfind(':');
    RECKON_CHECK_ARG(colon != std::string::npos, "--items takes FILE:FORMAT, got '", spec, "'");
    read_item_content(spec.substr(0, colon), parse_content_format(spec.substr(colon + 1)), r.bad_rows, content);
  }
  const ContentCoverage coverage = attach_content(log, content);
  const PrepareOptions o = prepare_options(a, r.format);
  const PreparedSessions prepared = prepare_sessions(log, o);
  nlohmann::json j = nlohmann::json::parse(write_prepared(prepared, o, a.out));
  write_items_tsv(prepared.train_full, a.out + "/items.tsv");
  j["item_content"] = {{"items", coverage.items}, {"with_category", coverage.with_category},
                       {"with_text", coverage.with_text}, {"skipped_rows", content.skipped_rows},
                       {"first_errors", content.first_errors}};
  j["input"] = {{"path", a.input}, {"format", a.format}, {"sessions", log.sessions()}, {"clicks", log.clicks()},
                {"items", static_cast<std::int64_t>(log.item_names.size())}, {"skipped_rows", log.skipped_rows},
                {"first_errors", log.first_errors}};
  j["out"] = a.out;
  return j;
}

void print_prepare(const nlohmann::json& j) {
  const auto& in = j["input"];
  fmt::print("read {}: {} sessions, {} clicks, {} items", in["path"].get<std::string>(), in["sessions"].get<std::int64_t>(),
             in["clicks"].get<std::int64_t>(), in["items"].get<std::int64_t>());
  if (in["skipped_rows"].get<std::int64_t>() > 0) {
    fmt::print(" (skipped {} malformed rows; the first: {})", in["skipped_rows"].get<std::int64_t>(),
               in["first_errors"][0].get<std::string>());
  }
  fmt::print("\n{:<11} {:>9} {:>10} {:>8} {:>11}\n", "split", "sessions", "clicks", "items", "avg length");
  for (const char* split : {"train_full", "train", "validation", "test"}) {
    if (!j["splits"].contains(split)) continue;
    const auto& s = j["splits"][split];
    fmt::print("{:<11} {:>9} {:>10} {:>8} {:>11.2f}\n", split, s["sessions"].get<std::int64_t>(),
               s["clicks"].get<std::int64_t>(), s["items"].get<std::int64_t>(), s["average_length"].get<double>());
  }
  const auto& c = j["item_content"];
  fmt::print("items with a category: {} of {}, with a text: {}\n", c["with_category"].get<std::int64_t>(),
             c["items"].get<std::int64_t>(), c["with_text"].get<std::int64_t>());
  fmt::print("dropped: {}\nwritten to {} (summary.json beside the splits)\n", j["dropped"].dump(),
             j["out"].get<std::string>());
}

void add_prepare(CLI::App* cmd) {
  auto a = std::make_shared<PrepareArgs>();
  auto* p = cmd->add_subcommand("prepare", "Preprocess a click log and split it by time (GRU4Rec's / SR-GNN's protocol)");
  p->add_option("--input", a->input, "click log")->required();
  p->add_option("--format", a->format, "sessions-tsv | yoochoose | yoochoose-buys | diginetica | retailrocket | movielens")
      ->check(CLI::IsMember({"sessions-tsv", "yoochoose", "yoochoose-buys", "diginetica", "retailrocket", "movielens"}))
      ->capture_default_str();
  p->add_option("--out", a->out, "directory for train_full.tsv, train.tsv, valid.tsv, test.tsv and summary.json")
      ->required();
  p->add_option("--bad-rows", a->bad_rows, "skip (counted, the first reported) | fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  p->add_option("--session-gap", a->session_gap,
                "seconds of pause that end a session, for logs without session ids (default: retailrocket 1800, "
                "movielens 3600)");
  p->add_option("--min-session-length", a->min_session_length, "shorter sessions are dropped")->capture_default_str();
  p->add_option("--min-item-support", a->min_item_support, "clicks on rarer items are dropped")->capture_default_str();
  p->add_option("--test-days", a->test_days, "the log's last days are the test split (default: diginetica 7, else 1)");
  p->add_option("--validation-days", a->validation_days,
                "the training split's last days are validation; 0: none (default: as --test-days)");
  p->add_option("--train-fraction", a->fraction, "keep the most recent fraction of training sessions (1/64, 1/4)")
      ->capture_default_str();
  p->add_option("--straddling", a->straddling,
                "sessions spanning the test cutoff: drop | test (GRU4Rec's rule: they begin before training ends, "
                "so it needs --allow-leak)")
      ->check(CLI::IsMember({"drop", "test"}))
      ->capture_default_str();
  p->add_flag("--allow-leak", a->allow_leak, "accept test sessions that begin before the training data ends");
  p->add_option("--items", a->items,
                "item content FILE:FORMAT (diginetica-categories, diginetica-products, retailrocket-properties, "
                "movielens-movies), repeatable; written with the log's own categories to items.tsv");
  p->add_flag("--all-events", a->all_events, "keep cart and purchase events as clicks");
  add_common_options(p, a->common, kJson);
  set_run(p, &a->common, [a] { return run_prepare(*a); }, print_prepare);
}

// The options every command that builds a model shares.
struct ModelArgs {
  std::string model = "vsknn", train, format = "sessions-tsv", bad_rows = "skip", optimizer = "adam", vectors;
  std::string loss = "bpr-max", items;
  std::string valid;  // GRU4Rec, 3D CNN: validation sessions for early stopping
  int context_window = 1;
  int patience = 2;
  bool new_items = false;  // 3D CNN: --items' items without training clicks join the catalogue
  RecommenderOptions options;
  Gru4RecOptions gru;  // the neural models' shared options land here; the 3D CNN takes those given (given())
  Cnn3dOptions cnn;
  const CLI::App* command = nullptr;
  bool given(const char* flag) const { return command != nullptr && command->count(flag) > 0; }
};

void add_cnn3d_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--items", a.items, "3D CNN: item content, FILE or FILE:FORMAT (default items-tsv, as prepare "
                  "writes items.tsv; or a content format of prepare --items)");
  cmd->add_option("--clicks", a.cnn.clicks, "3D CNN: the session's last clicks in the volume")->capture_default_str();
  cmd->add_option("--id-chars", a.cnn.id_chars, "3D CNN: characters of the item id")->capture_default_str();
  cmd->add_option("--category-chars", a.cnn.category_chars, "3D CNN: characters of the category")->capture_default_str();
  cmd->add_option("--text-chars", a.cnn.text_chars, "3D CNN: characters of the item's text")->capture_default_str();
  cmd->add_option("--char-embedding", a.cnn.char_embedding, "3D CNN: a character's embedding width")->capture_default_str();
  cmd->add_flag("!--no-id-token", a.cnn.id_token, "3D CNN: no learned per-item vector beside the characters (content "
               "alone)");
  cmd->add_flag("!--no-last-click", a.cnn.last_click, "3D CNN: no learned vector of the last click added to the state "
               "(the convolutions alone)");
  cmd->add_flag("!--no-content-output", a.cnn.content_output, "3D CNN: the output layer scores items by their own "
               "vectors alone (not also by their content's words)");
  cmd->add_flag("!--no-mask", a.cnn.masked_pooling, "3D CNN (ablation): the global pooling also reads the padding of "
               "shorter prefixes");
  cmd->add_flag("--one-hot-chars", a.cnn.one_hot_chars, "3D CNN (ablation): characters as fixed one-hot vectors, not "
               "learned embeddings");
  cmd->add_flag("--new-items", a.new_items, "3D CNN: items of --items without training clicks join the catalogue, "
               "scored by their content (for catalogues whose new items are on sale: every extra item competes for "
               "the top K)");
  cmd->add_option("--filters", a.cnn.filters, "3D CNN: the first convolution's filters (the second has twice)")
      ->capture_default_str();
  cmd->add_option("--cart-weight", a.cnn.cart_weight, "3D CNN: the add-to-cart head's loss weight beside the "
                  "next-click loss (the head exists when the training sessions have cart or buy events; 0: none)")
      ->capture_default_str();
}

void add_model_options(CLI::App* cmd, ModelArgs& a, bool list) {
  a.command = cmd;
  cmd->add_option("--model", a.model, list ? "pop | spop | iknn | sknn | vsknn | gru4rec | cnn3d | item2vec, or several "
                                             "separated by commas"
                                           : "pop | spop | iknn | sknn | vsknn | gru4rec | cnn3d")
      ->capture_default_str();
  cmd->add_option("--train", a.train, "training sessions (a click log)");
  cmd->add_option("--format", a.format, "the click logs' format (as session prepare)")->capture_default_str();
  cmd->add_option("--bad-rows", a.bad_rows, "skip | fail")->check(CLI::IsMember({"skip", "fail"}))->capture_default_str();
  cmd->add_option("--neighbors", a.options.neighbors, "SKNN / V-SKNN: neighbour sessions that vote")->capture_default_str();
  cmd->add_option("--sample", a.options.sample, "SKNN / V-SKNN: the most recent sessions sharing an item considered")
      ->capture_default_str();
  cmd->add_option("--knn-alpha", a.options.knn_alpha, "item-kNN: support exponent (0.5: cosine)")->capture_default_str();
  cmd->add_option("--knn-lambda", a.options.knn_lambda, "item-kNN: shrinkage of the similarity (GRU4Rec's baseline: 20)")
      ->capture_default_str();
  cmd->add_flag("--self-similarity", a.options.self_similarity, "item-kNN: an item's similarity to itself is 1, not 0");
  cmd->add_option("--vectors", a.vectors, "item2vec: item vectors (reckon item2vec train's output); the catalogue "
                  "is their rows");
  cmd->add_option("--context-window", a.context_window, "item2vec: the last items whose mean vector is the query "
                  "(0: all)")->capture_default_str();
  cmd->add_option("--valid", a.valid, "GRU4Rec, 3D CNN: validation sessions (same format as --train); each epoch is "
                  "scored on them, the best epoch's model kept, training stopped after --patience epochs without a "
                  "better HR@20");
  cmd->add_option("--patience", a.patience, "GRU4Rec, 3D CNN: epochs without a better validation HR@20 before "
                  "stopping")->capture_default_str();
  cmd->add_option("--hidden", a.gru.hidden, "GRU4Rec, 3D CNN: hidden units (3D CNN default 100)")->capture_default_str();
  cmd->add_option("--embedding", a.gru.embedding, "GRU4Rec: input embedding width (0: one-hot input)")->capture_default_str();
  cmd->add_option("--batch", a.gru.batch, "GRU4Rec: parallel sessions per mini-batch; 3D CNN: samples per step "
                  "(default 128)")->capture_default_str();
  cmd->add_option("--epochs", a.gru.epochs, "GRU4Rec, 3D CNN: passes over the training sessions (3D CNN default 10)")
      ->capture_default_str();
  cmd->add_option("--lr", a.gru.learning_rate, "GRU4Rec, 3D CNN: learning rate (3D CNN default 0.002)")->capture_default_str();
  cmd->add_option("--optimizer", a.optimizer, "GRU4Rec, 3D CNN: adam | adagrad | sgd")
      ->check(CLI::IsMember({"adam", "adagrad", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--dropout", a.gru.dropout, "GRU4Rec, 3D CNN: dropout on the hidden state (3D CNN default 0.3)")
      ->capture_default_str();
  cmd->add_option("--loss", a.loss, "GRU4Rec, 3D CNN: cross-entropy (over the catalogue) | bpr-max (over sampled "
                  "negatives)")
      ->check(CLI::IsMember({"cross-entropy", "bpr-max"}))
      ->capture_default_str();
  cmd->add_option("--samples", a.gru.output.samples, "BPR-max: negatives drawn per step beside the batch's targets")
      ->capture_default_str();
  cmd->add_option("--sample-alpha", a.gru.output.sample_alpha, "BPR-max: negatives drawn with probability "
                  "proportional to count^alpha")->capture_default_str();
  cmd->add_option("--bpr-regularization", a.gru.output.bpr_regularization, "BPR-max: weight of the score "
                  "regulariser")->capture_default_str();
  add_cnn3d_options(cmd, a);
}

ClickLog read_log(const std::string& path, const ModelArgs& a) {
  ClickReadOptions r;
  r.format = parse_click_format(a.format);
  r.bad_rows = a.bad_rows == "fail" ? BadRows::kFail : BadRows::kSkip;
  return read_clicks(path, r);
}

// The model's epochs through fit() (early stopping on --valid when given), one progress line per epoch on a
// terminal; their summaries in `epochs`.
void train_epochs(NeuralRecommender& model, int count, const ModelArgs& a, const CommonOptions& common,
                  nlohmann::json& epochs) {
  const bool show = !common.json && isatty(STDERR_FILENO);
  std::optional<ClickLog> validation;
  FitOptions o;
  o.epochs = count;
  o.patience = a.patience;
  if (!a.valid.empty()) o.validation = &validation.emplace(read_log(a.valid, a));
  epochs = nlohmann::json::array();
  int e = 0;
  const FitResult r = fit(
      model, o,
      [&](double fraction, double rate) {
        if (show) print_progress_line(e + 1, count, fraction, rate, "clicks", 0);
      },
      [&](const FitEpoch& f) {
        ++e;
        std::string line = fmt::format("epoch {}/{}: loss {:.4f}, {:.0f} clicks/s", e, count, f.train.loss,
                                       f.train.clicks_per_second);
        if (f.train.cart_loss >= 0) line += fmt::format(", add-to-cart log loss {:.4f}", f.train.cart_loss);
        if (f.validation_hr >= 0) line += fmt::format("; validation HR@20 {:.4f}, MRR@20 {:.4f}", f.validation_hr, f.validation_mrr);
        if (!common.json) print_status_line(line);
        nlohmann::json j = {{"epoch", e}, {"loss", f.train.loss}, {"seconds", f.train.seconds},
                            {"clicks_per_second", f.train.clicks_per_second}};
        if (f.validation_hr >= 0) j["validation"] = {{"hr@20", f.validation_hr}, {"mrr@20", f.validation_mrr}};
        if (f.train.cart_loss >= 0) j["cart_loss"] = f.train.cart_loss;
        epochs.push_back(j);
      });
  if (o.validation != nullptr && !common.json) {
    print_status_line(fmt::format("kept epoch {} (the best validation HR@20)", r.best_epoch));
  }
}

std::unique_ptr<Gru4Rec> train_gru4rec(Context& ctx, const ModelArgs& a, const CommonOptions& common,
                                       TrainingSessions training, nlohmann::json& epochs) {
  Gru4RecOptions o = a.gru;
  o.optimizer = parse_optimizer_kind(a.optimizer);
  o.output.loss = parse_item_loss(a.loss);
  o.seed = common.seed;
  auto model = std::make_unique<Gru4Rec>(ctx, o, std::move(training));
  train_epochs(*model, o.epochs, a, common, epochs);
  return model;
}

// The 3D CNN's options: its own defaults, with the shared neural options the command line gave.
Cnn3dOptions cnn3d_options(const ModelArgs& a, const CommonOptions& common) {
  Cnn3dOptions o = a.cnn;
  if (a.given("--hidden")) o.hidden = a.gru.hidden;
  if (a.given("--batch")) o.batch = a.gru.batch;
  if (a.given("--epochs")) o.epochs = a.gru.epochs;
  if (a.given("--lr")) o.learning_rate = a.gru.learning_rate;
  if (a.given("--dropout")) o.dropout = a.gru.dropout;
  o.optimizer = parse_optimizer_kind(a.optimizer);
  o.output = a.gru.output;
  o.output.loss = parse_item_loss(a.loss);
  o.seed = common.seed;
  return o;
}

// The catalogue items' content: the log's, and --items' where given; with a content output layer and
// --new-items, --items' items without training clicks join the catalogue.
CatalogContent read_catalog_content(const ModelArgs& a, const Cnn3dOptions& o, const ClickLog& log,
                                    TrainingSessions& training) {
  if (a.items.empty()) return catalog_content(log, training.catalog);
  const std::size_t colon = a.items.rfind(':');
  const bool has_format = colon != std::string::npos && colon > 0 && a.items.find('/', colon) == std::string::npos;
  ItemContent content;
  read_item_content(has_format ? a.items.substr(0, colon) : a.items,
                    parse_content_format(has_format ? a.items.substr(colon + 1) : "items-tsv"),
                    a.bad_rows == "fail" ? BadRows::kFail : BadRows::kSkip, content);
  if (o.content_output && a.new_items) add_content_items(training, content);
  return catalog_content(log, training.catalog, &content);
}

std::unique_ptr<Cnn3dRecommender> train_cnn3d(Context& ctx, const ModelArgs& a, const CommonOptions& common,
                                              TrainingSessions training, const ClickLog& log, nlohmann::json& epochs) {
  const Cnn3dOptions o = cnn3d_options(a, common);
  const CatalogContent content = read_catalog_content(a, o, log, training);
  auto model = std::make_unique<Cnn3dRecommender>(ctx, o, std::move(training), content);
  train_epochs(*model, o.epochs, a, common, epochs);
  return model;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct TrainArgs {
  CommonOptions common;
  ModelArgs model;
  std::string save;
};

nlohmann::json run_train(const TrainArgs& a) {
  RECKON_CHECK_ARG(!a.model.train.empty(), "--train is required");
  const ClickLog train = read_log(a.model.train, a.model);
  TrainingSessions training = TrainingSessions::build(train);
  nlohmann::json j = {{"model", a.model.model}, {"saved", a.save}, {"sessions", training.size()},
                      {"items", training.catalog.size()}, {"clicks", static_cast<std::int64_t>(training.items.size())},
                      {"skipped_rows", train.skipped_rows}};
  if (a.model.model == "gru4rec" || a.model.model == "cnn3d") {
    Context ctx = make_context(a.common);
    nlohmann::json epochs;
    if (a.model.model == "gru4rec") {
      train_gru4rec(ctx, a.model, a.common, std::move(training), epochs)->save(a.save);
    } else {
      train_cnn3d(ctx, a.model, a.common, std::move(training), train, epochs)->save(a.save);
    }
    j["epochs"] = epochs;
    j["device"] = ctx.device().str();
    return j;
  }
  RecommenderOptions o = a.model.options;
  o.kind = parse_model_kind(a.model.model);
  save_recommender(*make_recommender(o, std::move(training)), a.save);
  return j;
}

struct EvalArgs {
  CommonOptions common;
  ModelArgs model;
  std::string model_file, test, ks = "1,5,10,20";
  EvalOptions options;
};

nlohmann::json metrics_json(const MetricSet& m, const std::vector<int>& ks) {
  nlohmann::json j = {{"queries", m.queries}};
  for (std::size_t i = 0; i < ks.size() && i < m.at.size(); ++i) {
    const std::string k = std::to_string(ks[i]);
    j["hr@" + k] = m.at[i].hit_rate;
    j["mrr@" + k] = m.at[i].mrr;
    j["ndcg@" + k] = m.at[i].ndcg;
    j["pessimistic_hr@" + k] = m.pessimistic[i].hit_rate;
    j["pessimistic_mrr@" + k] = m.pessimistic[i].mrr;
  }
  return j;
}

nlohmann::json result_json(const EvalResult& r) {
  nlohmann::json by_length;
  for (std::size_t b = 0; b < r.length_buckets.size(); ++b) by_length[r.length_buckets[b]] = metrics_json(r.by_length[b], r.ks);
  return {{"metrics", metrics_json(r.all, r.ks)}, {"unseen_targets", r.unseen_targets},
          {"rare_targets", metrics_json(r.rare, r.ks)}, {"cold_targets", metrics_json(r.cold, r.ks)}, {"by_session_length", by_length},
          {"coverage", r.coverage}, {"mean_popularity", r.mean_popularity}, {"seconds", r.seconds},
          {"queries_per_second", r.queries_per_second}};
}

nlohmann::json conversion_json(const ConversionResult& r) {
  return {{"queries", r.queries}, {"positives", r.positives}, {"auc", r.auc}, {"log_loss", r.log_loss}};
}

bool has_conversions(const ClickLog& log) { return std::any_of(log.kinds.begin(), log.kinds.end(), is_conversion); }

// The add-to-cart task on `test` for a model with the head; null otherwise.
nlohmann::json add_to_cart_json(const SessionRecommender& model, const ClickLog& test) {
  const auto* cnn = dynamic_cast<const Cnn3dRecommender*>(&model);
  if (cnn == nullptr || !cnn->has_cart_head() || !has_conversions(test)) return nullptr;
  return conversion_json(evaluate_conversion(
      [&](std::span<const std::span<const std::int32_t>> prefixes, float* out) { cnn->cart_probabilities(prefixes, out); },
      model.training().catalog, test));
}

// The last click's training rate (conversion.h) on `test`; null when either side lacks cart or buy events.
nlohmann::json add_to_cart_baseline_json(const TrainingSessions& training, const ClickLog& test) {
  if (!training.has_conversions() || !has_conversions(test)) return nullptr;
  const LastClickConversion baseline(training);
  return conversion_json(evaluate_conversion(
      [&](std::span<const std::span<const std::int32_t>> prefixes, float* out) { baseline.probabilities(prefixes, out); },
      training.catalog, test));
}

std::unique_ptr<SessionRecommender> vector_model(Context& ctx, const ModelArgs& a) {
  RECKON_CHECK_ARG(!a.vectors.empty(), "--model item2vec needs --vectors");
  const item2vec::KeyedVectors kv = item2vec::load_word2vec(a.vectors);
  return item2vec::make_vector_recommender(item2vec::SimilarityIndex(ctx, kv), kv, a.context_window);
}

// The models to evaluate, and the neural ones' training epochs by model name.
std::vector<std::unique_ptr<SessionRecommender>> models_to_evaluate(Context& ctx, const EvalArgs& a,
                                                                     nlohmann::json& training_log) {
  std::vector<std::unique_ptr<SessionRecommender>> models;
  if (!a.model_file.empty()) {
    models.push_back(load_any_recommender(ctx, a.model_file));
    return models;
  }
  const std::vector<std::string> names = split_list(a.model.model);
  if (names == std::vector<std::string>{"item2vec"} && a.model.train.empty()) {
    models.push_back(vector_model(ctx, a.model));  // vectors alone: no training sessions needed
    return models;
  }
  RECKON_CHECK_ARG(!a.model.train.empty(), "give --model-file, or --model with --train");
  const ClickLog log = read_log(a.model.train, a.model);
  const TrainingSessions training = TrainingSessions::build(log);
  for (const std::string& name : names) {
    if (name == "item2vec") {
      models.push_back(vector_model(ctx, a.model));
      continue;
    }
    if (name == "gru4rec") {
      models.push_back(train_gru4rec(ctx, a.model, a.common, training, training_log[name]));
      continue;
    }
    if (name == "cnn3d") {
      models.push_back(train_cnn3d(ctx, a.model, a.common, training, log, training_log[name]));
      continue;
    }
    RecommenderOptions o = a.model.options;
    o.kind = parse_model_kind(name);
    models.push_back(make_recommender(o, training));
  }
  return models;
}

nlohmann::json run_eval(const EvalArgs& a) {
  EvalOptions o = a.options;
  o.ks.clear();
  for (const std::string& k : split_list(a.ks)) {
    int value = 0;
    RECKON_CHECK_ARG(parse_field(k, value), "--k takes numbers separated by commas, got '", a.ks, "'");
    o.ks.push_back(value);
  }
  o.threads = a.common.threads;
  o.progress = !a.common.json && isatty(STDERR_FILENO);
  const ClickLog test = read_log(a.test, a.model);
  Context ctx = make_context(a.common);
  nlohmann::json results = nlohmann::json::array(), training_log = nlohmann::json::object();
  nlohmann::json baseline;
  for (const auto& model : models_to_evaluate(ctx, a, training_log)) {
    nlohmann::json j = result_json(evaluate(*model, test, o));
    j["model"] = model->name();
    if (training_log.contains(model->name())) j["epochs"] = training_log[model->name()];
    if (nlohmann::json cart = add_to_cart_json(*model, test); !cart.is_null()) j["add_to_cart"] = cart;
    if (baseline.is_null()) baseline = add_to_cart_baseline_json(model->training(), test);
    results.push_back(j);
  }
  nlohmann::json out = {{"test", a.test}, {"ks", o.ks}, {"exclude_seen", o.exclude_seen},
                        {"last_click_only", o.last_click_only}, {"test_sessions", test.sessions()}, {"results", results}};
  if (!baseline.is_null()) out["add_to_cart_baseline"] = baseline;
  return out;
}

// The add-to-cart rows: each model with the head, and the last click's rate.
void print_add_to_cart(const nlohmann::json& results, const nlohmann::json& baseline,
                       const nlohmann::json& planted = nullptr) {
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  for (const auto& r : results) {
    if (r.contains("add_to_cart")) rows.emplace_back(r["model"].get<std::string>(), r["add_to_cart"]);
  }
  if (rows.empty()) return;
  if (!baseline.is_null()) rows.emplace_back("last-click rate", baseline);
  if (!planted.is_null()) rows.emplace_back("planted rate", planted);
  const auto& first = rows.front().second;
  fmt::print("\nadd-to-cart: does the session have a cart or buy event from the next click on ({} queries, {} "
             "positive)\n{:<16} {:>8} {:>9}\n", first["queries"].get<std::int64_t>(), first["positives"].get<std::int64_t>(),
             "model", "AUC", "log loss");
  for (const auto& [name, c] : rows) fmt::print("{:<16} {:>8.4f} {:>9.4f}\n", name, c["auc"].get<double>(), c["log_loss"].get<double>());
}

void print_eval(const nlohmann::json& j) {
  fmt::print("{} ({} sessions; {}{})\n", j["test"].get<std::string>(), j["test_sessions"].get<std::int64_t>(),
             j["last_click_only"].get<bool>() ? "last click" : "every click",
             j["exclude_seen"].get<bool>() ? ", the session's own items excluded" : ", all items ranked");
  std::string header = fmt::format("{:<7}", "model");
  for (const int k : j["ks"]) header += fmt::format(" {:>8} {:>8}", fmt::format("HR@{}", k), fmt::format("MRR@{}", k));
  fmt::print("{} {:>9} {:>8} {:>10}\n", header, "coverage", "pop.", "queries/s");
  for (const auto& r : j["results"]) {
    std::string line = fmt::format("{:<7}", r["model"].get<std::string>());
    for (const int k : j["ks"]) {
      line += fmt::format(" {:>8.4f} {:>8.4f}", r["metrics"]["hr@" + std::to_string(k)].get<double>(),
                          r["metrics"]["mrr@" + std::to_string(k)].get<double>());
    }
    fmt::print("{} {:>9.3f} {:>8.4f} {:>10.0f}\n", line, r["coverage"].get<double>(), r["mean_popularity"].get<double>(),
               r["queries_per_second"].get<double>());
  }
  print_add_to_cart(j["results"], j.value("add_to_cart_baseline", nlohmann::json()));
}

struct RecommendArgs {
  CommonOptions common;
  std::string model_file, session;
  int k = 20;
};

nlohmann::json run_recommend(const RecommendArgs& a) {
  Context ctx = make_context(a.common);
  const auto model = load_any_recommender(ctx, a.model_file);
  const Catalog& catalog = model->training().catalog;
  std::vector<std::int32_t> prefix;
  std::vector<std::string> unknown;
  for (const std::string& name : split_list(a.session)) {
    prefix.push_back(catalog.lookup(name));
    if (prefix.back() < 0) unknown.push_back(name);
  }
  RECKON_CHECK_ARG(!prefix.empty(), "--session needs at least one item");
  RECKON_CHECK_ARG(a.k >= 1 && a.k <= 256, "--k must be in [1, 256], got ", a.k);
  std::vector<float> scores(static_cast<std::size_t>(catalog.size()));
  model->score(prefix, scores);
  std::vector<std::int32_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(a.k), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](std::int32_t x, std::int32_t y) {
    return scores[static_cast<std::size_t>(x)] != scores[static_cast<std::size_t>(y)] ? scores[static_cast<std::size_t>(x)] > scores[static_cast<std::size_t>(y)] : x < y;
  });
  nlohmann::json items = nlohmann::json::array();
  for (std::size_t i = 0; i < k; ++i) {
    items.push_back({{"item", catalog.names[static_cast<std::size_t>(order[i])]}, {"score", scores[static_cast<std::size_t>(order[i])]}});
  }
  nlohmann::json out = {{"model", model->name()}, {"recommended", items}, {"unknown", unknown}};
  if (const auto* cnn = dynamic_cast<const Cnn3dRecommender*>(model.get()); cnn != nullptr && cnn->has_cart_head()) {
    const std::span<const std::int32_t> query(prefix);
    float p = 0;
    cnn->cart_probabilities({&query, 1}, &p);
    out["cart_probability"] = p;
  }
  return out;
}

void add_train_eval_recommend(CLI::App* cmd) {
  auto t = std::make_shared<TrainArgs>();
  auto* tr = cmd->add_subcommand("train", "Fit a session baseline on training sessions and save it");
  add_model_options(tr, t->model, false);
  tr->add_option("--save", t->save, "checkpoint to write")->required();
  add_common_options(tr, t->common, kJson | kDevice | kThreads | kSeed);
  set_run(tr, &t->common, [t] { return run_train(*t); }, [](const nlohmann::json& j) {
    fmt::print("{}: {} sessions, {} items; saved to {}\n", j["model"].get<std::string>(), j["sessions"].get<std::int64_t>(),
               j["items"].get<std::int64_t>(), j["saved"].get<std::string>());
  });

  auto e = std::make_shared<EvalArgs>();
  auto* ev = cmd->add_subcommand("eval", "Next-click HR / MRR / NDCG@K with every item ranked (the field's protocol)");
  add_model_options(ev, e->model, true);
  ev->add_option("--model-file", e->model_file, "a saved model (instead of --model and --train)");
  ev->add_option("--test", e->test, "test sessions")->required();
  ev->add_option("--k", e->ks, "cut-offs, separated by commas")->capture_default_str();
  ev->add_flag("--exclude-seen", e->options.exclude_seen, "leave the session's own items out of the ranking");
  ev->add_flag("--last-click", e->options.last_click_only, "only each session's last click is a target");
  ev->add_option("--rare-below", e->options.rare_below, "targets with fewer training clicks (but some) are reported "
                 "as rare")
      ->capture_default_str();
  ev->add_flag("--allow-leak", e->options.allow_leak, "accept test sessions that begin before training ends");
  add_common_options(ev, e->common, kJson | kDevice | kThreads | kSeed);
  set_run(ev, &e->common, [e] { return run_eval(*e); }, print_eval);

  auto r = std::make_shared<RecommendArgs>();
  auto* re = cmd->add_subcommand("recommend", "The top K items for a session so far");
  re->add_option("--model-file", r->model_file, "a saved model")->required();
  re->add_option("--session", r->session, "the session's items so far, oldest first, separated by commas")->required();
  re->add_option("--k", r->k)->capture_default_str();
  add_common_options(re, r->common, kJson | kDevice);
  set_run(re, &r->common, [r] { return run_recommend(*r); }, [](const nlohmann::json& j) {
    if (!j["unknown"].empty()) fmt::print("not in the training items (ignored): {}\n", fmt::join(j["unknown"].get<std::vector<std::string>>(), ", "));
    for (const auto& item : j["recommended"]) fmt::print("{:<24} {:.6g}\n", item["item"].get<std::string>(), item["score"].get<float>());
    if (j.contains("cart_probability")) fmt::print("add-to-cart probability from the next click on: {:.4f}\n", j["cart_probability"].get<float>());
  });
}

struct DemoArgs {
  CommonOptions common;
  std::string out = "build/session_demo";
  int epochs = 0;  // 0: each neural model's default
  std::int64_t train_sessions = ContentSessionsOptions{}.train_sessions;
  bool write_only = false;
};

// The add-to-cart probability the generator planted: the conversion rate of the brand of the session's first click
// (every item known, new ones included); the best any model can do.
nlohmann::json planted_add_to_cart_json(const ContentSessions& data) {
  const Catalog all = Catalog::from_names(data.item_names, std::vector<std::int64_t>(data.item_names.size(), 0));
  return conversion_json(evaluate_conversion(
      [&](std::span<const std::span<const std::int32_t>> prefixes, float* out) {
        for (std::size_t q = 0; q < prefixes.size(); ++q) {
          const auto group = data.item_group[static_cast<std::size_t>(prefixes[q].front())];
          out[q] = static_cast<float>(data.group_cart[static_cast<std::size_t>(group)]);
        }
      },
      all, data.test));
}

nlohmann::json run_demo(const DemoArgs& d) {
  ContentSessionsOptions o;
  o.train_sessions = d.train_sessions;
  o.seed = d.common.seed;
  const ContentSessions data = make_content_sessions(o);
  const ContentSessionFiles files = write_content_sessions(data, d.out);
  const nlohmann::json written = {
      {"train", files.train}, {"validation", files.validation}, {"test", files.test}, {"items", files.items}};
  if (d.write_only) return {{"out", d.out}, {"files", written}, {"results", nlohmann::json::array()}};
  Context ctx = make_context(d.common);
  const TrainingSessions training = TrainingSessions::build(data.train);
  ModelArgs a;
  a.items = files.items;
  a.valid = files.validation;
  a.new_items = true;  // the shop's new items are on sale in the test period
  if (d.epochs > 0) a.gru.epochs = a.cnn.epochs = d.epochs;
  EvalOptions e;
  e.ks = {20};
  e.threads = d.common.threads;
  nlohmann::json results = nlohmann::json::array();
  for (const char* name : {"pop", "iknn", "vsknn", "item2vec", "gru4rec", "cnn3d"}) {
    if (!d.common.json) print_status_line(fmt::format("training {}", name));
    const auto start = std::chrono::steady_clock::now();
    nlohmann::json epochs;
    std::unique_ptr<SessionRecommender> model;
    if (std::string_view(name) == "item2vec") {
      model = train_demo_item2vec(ctx, data.train);
    } else if (std::string_view(name) == "gru4rec") {
      model = train_gru4rec(ctx, a, d.common, training, epochs);
    } else if (std::string_view(name) == "cnn3d") {
      model = train_cnn3d(ctx, a, d.common, training, data.train, epochs);
    } else {
      RecommenderOptions r;
      r.kind = parse_model_kind(name);
      model = make_recommender(r, training);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json j = result_json(evaluate(*model, data.test, e));
    j["model"] = name;
    j["train_seconds"] = seconds;
    if (nlohmann::json cart = add_to_cart_json(*model, data.test); !cart.is_null()) j["add_to_cart"] = cart;
    results.push_back(j);
  }
  std::int64_t new_items = 0;
  for (const bool n : data.item_new) new_items += n;
  return {{"out", d.out}, {"files", written},
          {"train_sessions", data.train.sessions()}, {"test_sessions", data.test.sessions()},
          {"items", data.item_names.size()}, {"new_items", new_items}, {"device", ctx.device().str()},
          {"results", results}, {"add_to_cart_baseline", add_to_cart_baseline_json(training, data.test)},
          {"add_to_cart_planted", planted_add_to_cart_json(data)}};
}

void print_demo(const nlohmann::json& j) {
  if (j["results"].empty()) {
    fmt::print("written to {}: {}\n", j["out"].get<std::string>(), j["files"].dump());
    return;
  }
  const auto& first = j["results"][0];
  fmt::print("\nsession demo: synthetic shop sessions whose next click follows the items' content ({} items, {} of "
             "them new in the test period; {} training and {} test sessions, written to {})\n"
             "next-click HR@20 and MRR@20, every item ranked, over {} test clicks; {} of them on rare items (1-9 "
             "training clicks), {} on new ones\n",
             j["items"].get<std::int64_t>(), j["new_items"].get<std::int64_t>(), j["train_sessions"].get<std::int64_t>(),
             j["test_sessions"].get<std::int64_t>(), j["out"].get<std::string>(),
             first["metrics"]["queries"].get<std::int64_t>(), first["rare_targets"]["queries"].get<std::int64_t>(),
             first["cold_targets"]["queries"].get<std::int64_t>());
  fmt::print("{:<9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "model", "HR@20", "MRR@20", "rare HR", "rare MRR",
             "new HR", "new MRR", "train s");
  for (const auto& r : j["results"]) {
    fmt::print("{:<9} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.1f}\n", r["model"].get<std::string>(),
               r["metrics"]["hr@20"].get<double>(), r["metrics"]["mrr@20"].get<double>(),
               r["rare_targets"]["hr@20"].get<double>(), r["rare_targets"]["mrr@20"].get<double>(),
               r["cold_targets"]["hr@20"].get<double>(), r["cold_targets"]["mrr@20"].get<double>(),
               r["train_seconds"].get<double>());
  }
  print_add_to_cart(j["results"], j["add_to_cart_baseline"], j["add_to_cart_planted"]);
}

void add_demo(CLI::App* cmd) {
  auto d = std::make_shared<DemoArgs>();
  auto* p = cmd->add_subcommand("demo", "Every session model on synthetic content-driven sessions, side by side");
  p->add_option("--out", d->out, "directory for the generated sessions and items")->capture_default_str();
  p->add_option("--epochs", d->epochs, "GRU4Rec's and the 3D CNN's epochs (0: their defaults)")->capture_default_str();
  p->add_option("--train-sessions", d->train_sessions, "training sessions to generate")->capture_default_str();
  p->add_flag("--write-only", d->write_only, "write the sessions and items (train.tsv, valid.tsv, test.tsv, items.tsv) "
              "and train nothing");
  add_common_options(p, d->common, kJson | kDevice | kThreads | kSeed);
  set_run(p, &d->common, [d] { return run_demo(*d); }, print_demo);
}

}  // namespace

void add_session_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("session", "Session-based recommendation: prepare click logs, train, evaluate, recommend");
  cmd->require_subcommand(1);
  add_prepare(cmd);
  add_train_eval_recommend(cmd);
  add_demo(cmd);
}

}  // namespace reckon::cli
