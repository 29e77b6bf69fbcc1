// `reckon item2vec ...`: train item vectors (word2vec SGNS over item sequences), query them (similar items, items
// fitting a context), evaluate them (next item, analogies, similarity), and the synthetic listening demo.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "reckon/models/item2vec/corpus.h"
#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/models/item2vec/synthetic.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"

namespace reckon::cli {
namespace {

using namespace reckon::item2vec;

struct TrainArgs {
  CommonOptions common;
  std::string input, format = "text", output, save, resume;
  bool binary = false, progress = true, sequential = false;
  int dim = 100, window = 5, negative = 5, epochs = 5;
  std::int64_t min_count = 5, max_vocab = 0, batch_words = 0, max_sentence = kDefaultMaxSentence;
  double sample = 1e-3, alpha = 0.75;
  float lr = 0.025f;
  std::set<std::string> given;  // options named on the command line (with --resume they override the checkpoint's)
};

nlohmann::json stats_json(const TrainStats& s) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochStats& e : s.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"raw_words", e.raw_words},
                      {"effective_words", e.effective_words},
                      {"pairs", e.pairs},
                      {"loss", e.loss},
                      {"seconds", e.seconds}});
  }
  return {{"epoch_results", epochs},
          {"seconds", s.seconds},
          {"raw_words_per_s", s.raw_words_per_s},
          {"effective_words_per_s", s.effective_words_per_s}};
}

// Every option is checked before the (possibly large) corpus is read.
Item2VecConfig train_config(const TrainArgs& a) {
  Item2VecConfig config;
  config.dim = a.dim;
  config.window = a.window;
  config.negatives = a.negative;
  config.sample = a.sample;
  config.negative_exponent = a.alpha;
  config.learning_rate = a.lr;
  config.epochs = a.epochs;
  config.seed = a.common.seed;
  config.batch_words = a.batch_words;
  config.schedule = a.sequential ? SgnsSchedule::kSequential : SgnsSchedule::kHogwild;
  validate(config);
  RECKON_CHECK_ARG(a.common.threads >= 0, "--threads must be >= 0 (0: all), got ", a.common.threads);
  RECKON_CHECK_ARG(a.min_count >= 1, "--min-count must be >= 1, got ", a.min_count);
  RECKON_CHECK_ARG(a.max_vocab >= 0, "--max-vocab must be >= 0 (0: all), got ", a.max_vocab);
  RECKON_CHECK_ARG(a.max_sentence >= 1, "--max-sentence must be >= 1, got ", a.max_sentence);
  return config;
}

// Continued training keeps the checkpoint's vocabulary, tables and settings; the training options named on the
// command line replace the checkpoint's (more epochs, another learning rate...). --dim, --min-count and
// --max-vocab cannot change a trained model and are refused.
void apply_resume_options(const TrainArgs& a, Item2Vec& model) {
  refuse_vocabulary_options(a.given, {"--min-count", "--max-vocab"}, a.resume);
  if (a.given.count("--dim") != 0 && a.dim != model.config().dim) {
    RECKON_THROW(StatusCode::kInvalidArgument, "--dim ", a.dim, " differs from the checkpoint's ", model.config().dim,
                 " in ", a.resume, ": --resume continues the checkpoint's tables; leave --dim out");
  }
  Item2VecConfig next = model.config();
  const auto given = [&](const char* option) { return a.given.count(option) != 0; };
  if (given("--window")) next.window = a.window;
  if (given("--negative")) next.negatives = a.negative;
  if (given("--sample")) next.sample = a.sample;
  if (given("--alpha")) next.negative_exponent = a.alpha;
  if (given("--lr")) next.learning_rate = a.lr;
  if (given("--epochs")) next.epochs = a.epochs;
  if (given("--seed")) next.seed = a.common.seed;
  if (given("--batch-words")) next.batch_words = a.batch_words;
  if (given("--sequential")) next.schedule = SgnsSchedule::kSequential;
  model.set_training_config(next);
}

nlohmann::json run_train(const TrainArgs& a) {
  const Item2VecConfig config = train_config(a);
  const CorpusFormat format = parse_corpus_format(a.format);
  Context ctx = make_context(a.common);
  const Sequences sequences = read_sequences(a.input, format, a.max_sentence);
  Item2Vec model = a.resume.empty() ? Item2Vec(ctx, config, ItemVocabulary::build(sequences, a.min_count, a.max_vocab))
                                    : Item2Vec::load(ctx, a.resume);
  if (!a.resume.empty()) apply_resume_options(a, model);
  const Corpus corpus = encode(sequences, model.vocabulary());
  if (corpus.words() == 0) RECKON_THROW(StatusCode::kDataError, a.input, ": no in-vocabulary items to train on");
  const TrainStats stats = model.train(corpus, a.progress && !a.common.json);
  if (!a.output.empty()) save_word2vec(model.keyed_vectors(), a.output, a.binary);
  if (!a.save.empty()) model.save(a.save);
  nlohmann::json j = stats_json(stats);
  j["device"] = ctx.device().str();
  j["vocabulary"] = model.vocabulary().size();
  j["corpus_words"] = sequences.tokens.size();
  j["in_vocabulary_words"] = corpus.words();
  j["sentences"] = sequences.size();
  j["skipped_rows"] = sequences.skipped_rows;
  j["first_errors"] = sequences.first_errors;
  j["dim"] = model.config().dim;
  j["output"] = a.output;
  j["saved"] = a.save;
  return j;
}

nlohmann::json neighbors_json(const KeyedVectors& kv, const std::vector<Neighbor>& found) {
  nlohmann::json out = nlohmann::json::array();
  for (const Neighbor& n : found)
    out.push_back({{"item", kv.tokens[static_cast<std::size_t>(n.id)]}, {"score", n.score}});
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

void print_neighbors(const nlohmann::json& list) {
  for (const auto& n : list) fmt::print("  {:<24} {:.4f}\n", n["item"].get<std::string>(), n["score"].get<double>());
}

struct DemoArgs {
  CommonOptions common;
  std::string out = "build/item2vec_demo";
  int epochs = 5;
};

nlohmann::json run_demo(const DemoArgs& d) {
  SyntheticSessionsOptions o;
  const SyntheticSessions s = write_synthetic_sessions(d.out, o);
  TrainArgs a;
  a.input = s.train_path;
  a.format = "sessions-tsv";
  a.output = (std::filesystem::path(d.out) / "vectors.txt").string();
  a.dim = 32;
  a.window = 3;
  a.epochs = d.epochs;
  a.min_count = 1;
  a.sample = 0;  // a small catalogue: no item is frequent enough to subsample
  a.common.device = d.common.device;
  a.progress = !d.common.json;
  a.common.json = d.common.json;
  const nlohmann::json trained = run_train(a);
  Context ctx(parse_device(d.common.device));
  const KeyedVectors kv = load_word2vec(a.output);
  const SimilarityIndex index(ctx, kv);
  const Sequences test = read_sequences(s.test_path, CorpusFormat::kSessionsTsv);
  NextItemOptions protocol;
  protocol.k = 10;
  const NextItemResult r = evaluate_next_item(index, kv, test, protocol);
  // Genre purity: the share of each song's 10 nearest songs that are of its genre (ids are genre · 1000 + rank).
  std::vector<std::int32_t> all(static_cast<std::size_t>(kv.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int32_t>(i);
  const auto near = index.most_similar(all, 10);
  double same = 0, total = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const int genre = std::stoi(kv.tokens[i]) / 1000;
    for (const Neighbor& n : near[i]) {
      same += std::stoi(kv.tokens[static_cast<std::size_t>(n.id)]) / 1000 == genre;
      total += 1;
    }
  }
  return {{"train", trained},
          {"protocol", describe(protocol)},
          {"k", r.k},
          {"queries", r.queries},
          {"item2vec_hr", r.hit_rate},
          {"item2vec_mrr", r.mrr},
          {"popularity_hr", r.popularity_hit_rate},
          {"popularity_mrr", r.popularity_mrr},
          {"genre_purity_at_10", total > 0 ? same / total : 0.0},
          {"chance_purity", 1.0 / o.genres}};
}

void print_train(const nlohmann::json& j) {
  // Each epoch was reported on stderr as it ended.
  fmt::print("{} items, {:.0f} raw words/s ({:.0f} effective) on {}\n", j["vocabulary"].get<std::int64_t>(),
             j["raw_words_per_s"].get<double>(), j["effective_words_per_s"].get<double>(),
             j["device"].get<std::string>());
}

void add_train(CLI::App* cmd) {
  auto a = std::make_shared<TrainArgs>();
  auto* t = cmd->add_subcommand("train", "Train item vectors from a corpus of sequences");
  t->add_option("--input", a->input, "corpus file")->required();
  t->add_option("--format", a->format, "text | sessions-tsv | diginetica")->capture_default_str();
  t->add_option("--output", a->output, "vectors in word2vec format");
  t->add_flag("--binary", a->binary, "write the binary word2vec format");
  t->add_option("--save", a->save, "the model's checkpoint, for continued training");
  t->add_option("--resume", a->resume,
                "continue training a checkpoint written by --save (its vocabulary, tables and settings; training "
                "options given here replace its settings; --dim, --min-count and --max-vocab are refused)");
  t->add_option("--dim", a->dim)->capture_default_str();
  t->add_option("--window", a->window)->capture_default_str();
  t->add_option("--negative", a->negative)->capture_default_str();
  t->add_option("--min-count", a->min_count)->capture_default_str();
  t->add_option("--max-vocab", a->max_vocab, "keep the N most frequent items (0: all)")->capture_default_str();
  t->add_option("--sample", a->sample, "subsampling threshold (0: off)")->capture_default_str();
  t->add_option("--alpha", a->alpha, "negatives drawn with probability proportional to count^alpha")
      ->capture_default_str();
  t->add_option("--lr", a->lr, "starting learning rate (decays linearly)")->capture_default_str();
  t->add_option("--epochs", a->epochs)->capture_default_str();
  t->add_option("--batch-words", a->batch_words, "words per step (0: 20,000 on CPU, 4,000,000 on GPU)")
      ->capture_default_str();
  t->add_option("--max-sentence", a->max_sentence, "split longer sentences")->capture_default_str();
  t->add_flag("--sequential", a->sequential, "one center at a time: reproducible bit for bit (slow)");
  add_common_options(t, a->common, kDevice | kThreads | kSeed | kJson);
  set_run(t, &a->common, [a, t] {
    a->given = options_named(*t);
    return run_train(*a);
  }, print_train);
}

struct QueryArgs {
  CommonOptions common;
  std::string vectors, items;
  int k = 10;
};

nlohmann::json run_similar(const QueryArgs& q) {
  Context ctx(parse_device(q.common.device));
  const KeyedVectors kv = load_word2vec(q.vectors);
  const SimilarityIndex index(ctx, kv);
  std::vector<std::int32_t> ids;
  const std::vector<std::string> items = split_list(q.items);
  for (const std::string& item : items) {
    const std::int32_t id = kv.lookup(item);
    if (id < 0) RECKON_THROW(StatusCode::kInvalidArgument, "item '", item, "' is not in ", q.vectors);
    ids.push_back(id);
  }
  const auto found = index.most_similar(ids, q.k);
  nlohmann::json results = nlohmann::json::array();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    results.push_back({{"item", items[i]}, {"similar", neighbors_json(kv, found[i])}});
  }
  return {{"k", q.k}, {"results", results}};
}

nlohmann::json run_recommend(const QueryArgs& q) {
  Context ctx(parse_device(q.common.device));
  const KeyedVectors kv = load_word2vec(q.vectors);
  const SimilarityIndex index(ctx, kv);
  std::vector<std::int32_t> context;
  std::vector<std::string> unknown;
  for (const std::string& item : split_list(q.items)) {
    const std::int32_t id = kv.lookup(item);
    if (id < 0) {
      unknown.push_back(item);
    } else {
      context.push_back(id);
    }
  }
  if (context.empty()) RECKON_THROW(StatusCode::kInvalidArgument, "no context item is in ", q.vectors);
  const auto found = index.recommend({context}, q.k);
  return {{"k", q.k}, {"unknown", unknown}, {"recommended", neighbors_json(kv, found[0])}};
}

void add_queries(CLI::App* cmd) {
  auto similar = std::make_shared<QueryArgs>();
  auto* sim = cmd->add_subcommand("similar", "Items most similar to an item (cosine)");
  sim->add_option("--vectors", similar->vectors, "word2vec text or binary file")->required();
  sim->add_option("--item", similar->items, "item, or items separated by commas (one query each)")->required();
  sim->add_option("--k", similar->k)->capture_default_str();
  add_common_options(sim, similar->common, kDevice | kJson);
  set_run(sim, &similar->common, [similar] { return run_similar(*similar); }, [](const nlohmann::json& j) {
    for (const auto& r : j["results"]) {
      fmt::print("{}:\n", r["item"].get<std::string>());
      print_neighbors(r["similar"]);
    }
  });

  auto recommend = std::make_shared<QueryArgs>();
  auto* rec = cmd->add_subcommand("recommend", "Items that fit a set of context items (mean of their vectors)");
  rec->add_option("--vectors", recommend->vectors, "word2vec text or binary file")->required();
  rec->add_option("--context", recommend->items, "context items separated by commas")->required();
  rec->add_option("--k", recommend->k)->capture_default_str();
  add_common_options(rec, recommend->common, kDevice | kJson);
  set_run(rec, &recommend->common, [recommend] { return run_recommend(*recommend); }, [](const nlohmann::json& j) {
    const auto unknown = j["unknown"].get<std::vector<std::string>>();
    if (!unknown.empty()) fmt::print("not in the vectors (ignored): {}\n", fmt::join(unknown, ", "));
    print_neighbors(j["recommended"]);
  });
}

struct SplitArgs {
  CommonOptions common;
  std::string input, format = "sessions-tsv", out;
  double test_days = 7;
};

nlohmann::json run_split(const SplitArgs& a) {
  const SessionLog log = read_session_log(a.input, parse_corpus_format(a.format));
  std::filesystem::create_directories(a.out);
  const SessionSplit r = write_session_split(log, a.test_days, a.out);
  return {{"train", r.train_path},          {"test", r.test_path},
          {"train_sessions", r.train_sessions}, {"test_sessions", r.test_sessions},
          {"train_events", r.train_events},     {"test_events", r.test_events},
          {"cutoff_unix_seconds", r.cutoff},    {"test_days", a.test_days},
          {"skipped_rows", log.skipped_rows},   {"first_errors", log.first_errors}};
}

void print_split(const nlohmann::json& j) {
  fmt::print("{}: {} sessions ({} events); {}: {} sessions ({} events) ending in the last {} days\n",
             j["train"].get<std::string>(), j["train_sessions"].get<std::int64_t>(),
             j["train_events"].get<std::int64_t>(), j["test"].get<std::string>(), j["test_sessions"].get<std::int64_t>(),
             j["test_events"].get<std::int64_t>(), j["test_days"].get<double>());
  if (j["skipped_rows"].get<std::int64_t>() > 0) {
    fmt::print("skipped {} malformed rows, the first: {}\n", j["skipped_rows"].get<std::int64_t>(),
               j["first_errors"][0].get<std::string>());
  }
}

void add_split(CLI::App* cmd) {
  auto split = std::make_shared<SplitArgs>();
  auto* sp = cmd->add_subcommand("split", "Split a session log by time: the sessions of the last days are held out");
  sp->add_option("--input", split->input, "session log")->required();
  sp->add_option("--format", split->format, "sessions-tsv | diginetica")
      ->check(CLI::IsMember({"sessions-tsv", "diginetica"}))
      ->capture_default_str();
  sp->add_option("--test-days", split->test_days, "sessions ending in the log's last N days are the test set")
      ->capture_default_str();
  sp->add_option("--out", split->out, "directory for train.tsv and test.tsv (sessions-tsv)")->required();
  add_common_options(sp, split->common, kJson);
  set_run(sp, &split->common, [split] { return run_split(*split); }, print_split);
}

struct EvalArgs {
  CommonOptions common;
  std::string vectors, sessions, format = "sessions-tsv", analogy, similarity;
  NextItemOptions next_item;
  std::int64_t restrict_vocab = 30000;
  bool case_sensitive = false;
};

nlohmann::json eval_next_item(Context& ctx, const KeyedVectors& kv, const EvalArgs& a) {
  const Sequences test = read_sequences(a.sessions, parse_corpus_format(a.format));
  const SimilarityIndex index(ctx, kv);
  const NextItemResult r = evaluate_next_item(index, kv, test, a.next_item);
  const bool measured = r.queries > 0;
  return {{"task", "next_item"},
          {"protocol", {{"query", describe(a.next_item)},
                        {"context_window", a.next_item.context_window},
                        {"exclude_seen", a.next_item.exclude_seen}}},
          {"k", r.k},
          {"queries", r.queries},
          {"skipped", r.skipped},
          {"hr", metric_or_null(measured, r.hit_rate)},
          {"mrr", metric_or_null(measured, r.mrr)},
          {"popularity_hr", metric_or_null(measured, r.popularity_hit_rate)},
          {"popularity_mrr", metric_or_null(measured, r.popularity_mrr)},
          {"skipped_rows", test.skipped_rows}};
}

nlohmann::json eval_analogy(Context& ctx, const KeyedVectors& kv, const EvalArgs& a) {
  const AnalogyResult r = evaluate_analogies(ctx, kv, a.analogy, a.restrict_vocab, !a.case_sensitive);
  nlohmann::json sections = nlohmann::json::array();
  for (const auto& s : r.sections) sections.push_back({{"section", s.name}, {"correct", s.correct}, {"total", s.total}});
  return {{"task", "analogy"},    {"accuracy", metric_or_null(r.total > 0, r.accuracy)},
          {"correct", r.correct}, {"total", r.total},
          {"skipped", r.skipped}, {"restrict_vocab", a.restrict_vocab},
          {"sections", sections}};
}

nlohmann::json eval_similarity(const KeyedVectors& kv, const EvalArgs& a) {
  const SimilarityResult r = evaluate_similarity(kv, a.similarity, !a.case_sensitive);
  // Spearman's rho needs two pairs at least.
  return {{"task", "similarity"},
          {"spearman", metric_or_null(r.found >= 2, r.spearman)},
          {"pairs", r.pairs},
          {"found", r.found}};
}

nlohmann::json run_eval(const EvalArgs& a) {
  if (a.sessions.empty() && a.analogy.empty() && a.similarity.empty()) {
    RECKON_THROW(StatusCode::kInvalidArgument, "give one of --sessions, --analogy or --similarity");
  }
  Context ctx(parse_device(a.common.device));
  const KeyedVectors kv = load_word2vec(a.vectors);
  if (!a.sessions.empty()) return eval_next_item(ctx, kv, a);
  if (!a.analogy.empty()) return eval_analogy(ctx, kv, a);
  return eval_similarity(kv, a);
}

void print_next_item(const nlohmann::json& j) {
  if (j["hr"].is_null()) {
    fmt::print("no test position ({} targets unknown to the vectors): HR and MRR undefined\n",
               j["skipped"].get<std::int64_t>());
    return;
  }
  const int k = j["k"].get<int>();
  fmt::print("next item over {} positions ({} targets unknown to the vectors, counted as misses); query: {}\n",
             j["queries"].get<std::int64_t>(), j["skipped"].get<std::int64_t>(),
             j["protocol"]["query"].get<std::string>());
  fmt::print("  item2vec    HR@{} {:.4f}  MRR@{} {:.4f}\n", k, j["hr"].get<double>(), k, j["mrr"].get<double>());
  fmt::print("  popularity  HR@{} {:.4f}  MRR@{} {:.4f}\n", k, j["popularity_hr"].get<double>(), k,
             j["popularity_mrr"].get<double>());
}

void print_analogy(const nlohmann::json& j) {
  for (const auto& s : j["sections"]) {
    const auto correct = s["correct"].get<std::int64_t>(), total = s["total"].get<std::int64_t>();
    if (total > 0) {
      fmt::print("  {:<28} {:5.1f}%  ({}/{})\n", s["section"].get<std::string>(), 100.0 * correct / total, correct, total);
    }
  }
  const auto restrict_vocab = j["restrict_vocab"].get<std::int64_t>();
  if (j["accuracy"].is_null()) {
    fmt::print("no answerable question ({} skipped: a word outside the {} most frequent): accuracy undefined\n",
               j["skipped"].get<std::int64_t>(), restrict_vocab);
    return;
  }
  fmt::print("analogy accuracy {:.2f}% ({}/{}; {} questions skipped: a word outside the {} most frequent)\n",
             100 * j["accuracy"].get<double>(), j["correct"].get<std::int64_t>(), j["total"].get<std::int64_t>(),
             j["skipped"].get<std::int64_t>(), restrict_vocab);
}

void print_eval(const nlohmann::json& j) {
  const std::string task = j["task"].get<std::string>();
  if (task == "next_item") return print_next_item(j);
  if (task == "analogy") return print_analogy(j);
  if (j["spearman"].is_null()) {
    fmt::print("{} of {} pairs have both words known: Spearman's rho undefined\n", j["found"].get<std::int64_t>(),
               j["pairs"].get<std::int64_t>());
  } else {
    fmt::print("Spearman rho {:.4f} over {} of {} pairs\n", j["spearman"].get<double>(), j["found"].get<std::int64_t>(),
               j["pairs"].get<std::int64_t>());
  }
}

void add_eval(CLI::App* cmd) {
  auto eval = std::make_shared<EvalArgs>();
  auto* e = cmd->add_subcommand("eval", "Evaluate vectors: next item on sessions, word analogies, word similarity");
  e->add_option("--vectors", eval->vectors, "word2vec text or binary file")->required();
  auto* sessions = e->add_option("--sessions", eval->sessions, "held-out sessions: HR@K and MRR@K against popularity");
  e->add_option("--format", eval->format, "sessions format: sessions-tsv | diginetica | text")->capture_default_str();
  auto* analogy = e->add_option("--analogy", eval->analogy, "questions-words file");
  auto* similarity = e->add_option("--similarity", eval->similarity, "word-similarity file (ws353, SimLex, MEN)");
  sessions->excludes(analogy, similarity);
  analogy->excludes(similarity);
  e->add_option("--k", eval->next_item.k, "K of HR@K and MRR@K")->capture_default_str();
  e->add_option("--context-window", eval->next_item.context_window,
                "previous items whose mean vector is the query (1: the last item, as the field; 0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  e->add_flag("--exclude-seen", eval->next_item.exclude_seen,
              "leave the session's earlier items out of the ranking (the field ranks all items)");
  e->add_option("--restrict-vocab", eval->restrict_vocab, "analogies over the N most frequent rows")
      ->capture_default_str();
  e->add_flag("--case-sensitive", eval->case_sensitive, "do not lower-case words (analogy, similarity)");
  add_common_options(e, eval->common, kDevice | kJson);
  set_run(e, &eval->common, [eval] { return run_eval(*eval); }, print_eval);
}

// The layout of the CTR demo's table, which make demo prints just before this one.
void print_demo(const nlohmann::json& j) {
  const nlohmann::json& trained = j["train"];
  fmt::print(
      "\nitem2vec demo: synthetic listening sessions with planted genres, {} training sessions, {} test "
      "positions (next song)\n",
      trained["sentences"].get<std::int64_t>(), j["queries"].get<std::int64_t>());
  fmt::print("{:<12} {:>8} {:>8}\n", "model", "HR@10", "MRR@10");
  fmt::print("{:<12} {:>8.4f} {:>8.4f}\n", "popularity", j["popularity_hr"].get<double>(),
             j["popularity_mrr"].get<double>());
  fmt::print("{:<12} {:>8.4f} {:>8.4f}   (trained at {:.0f} words/s)\n", "item2vec", j["item2vec_hr"].get<double>(),
             j["item2vec_mrr"].get<double>(), trained["raw_words_per_s"].get<double>());
  fmt::print("genre purity of the 10 nearest songs: {:.3f} (chance {:.3f})\n", j["genre_purity_at_10"].get<double>(),
             j["chance_purity"].get<double>());
}

void add_demo(CLI::App* cmd) {
  auto demo = std::make_shared<DemoArgs>();
  auto* d = cmd->add_subcommand("demo",
                                "Synthetic listening sessions with planted genres: next-song HR@10 against popularity");
  d->add_option("--out", demo->out, "directory for the generated files")->capture_default_str();
  d->add_option("--epochs", demo->epochs)->capture_default_str();
  add_common_options(d, demo->common, kDevice | kJson);
  set_run(d, &demo->common, [demo] { return run_demo(*demo); }, print_demo);
}

}  // namespace

void add_item2vec_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("item2vec", "item2vec / word2vec: skip-gram with negative sampling over item sequences");
  cmd->require_subcommand(1);
  add_train(cmd);
  add_queries(cmd);
  add_split(cmd);
  add_eval(cmd);
  add_demo(cmd);
}

}  // namespace reckon::cli
