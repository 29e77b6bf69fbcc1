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
  std::string input, format = "text", output, save, resume, device = "auto";
  bool binary = false, json = false, progress = true, sequential = false;
  int dim = 100, window = 5, negative = 5, epochs = 5, threads = 0;
  std::int64_t min_count = 5, max_vocab = 0, batch_words = 0, max_sentence = kDefaultMaxSentence;
  double sample = 1e-3, alpha = 0.75;
  float lr = 0.025f;
  std::uint64_t seed = 1;
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

KeyedVectors keyed(const Item2Vec& model) {
  KeyedVectors kv;
  kv.tokens = model.vocabulary().tokens;
  kv.dim = model.config().dim;
  kv.vectors = model.input_vectors();
  kv.build_index();
  return kv;
}

nlohmann::json run_train(const TrainArgs& a) {
  // Every option is checked before the (possibly large) corpus is read.
  Item2VecConfig config;
  config.dim = a.dim;
  config.window = a.window;
  config.negatives = a.negative;
  config.sample = a.sample;
  config.negative_exponent = a.alpha;
  config.learning_rate = a.lr;
  config.epochs = a.epochs;
  config.seed = a.seed;
  config.batch_words = a.batch_words;
  config.schedule = a.sequential ? SgnsSchedule::kSequential : SgnsSchedule::kHogwild;
  validate(config);
  RECKON_CHECK_ARG(a.threads >= 0, "--threads must be >= 0 (0: all), got ", a.threads);
  RECKON_CHECK_ARG(a.min_count >= 1, "--min-count must be >= 1, got ", a.min_count);
  RECKON_CHECK_ARG(a.max_vocab >= 0, "--max-vocab must be >= 0 (0: all), got ", a.max_vocab);
  RECKON_CHECK_ARG(a.max_sentence >= 1, "--max-sentence must be >= 1, got ", a.max_sentence);
  const CorpusFormat format = parse_corpus_format(a.format);
  Context ctx(parse_device(a.device), a.seed);
  if (a.threads > 0) ctx.set_cpu_threads(a.threads);
  const Sequences sequences = read_sequences(a.input, format, a.max_sentence);
  // Continued training keeps the checkpoint's vocabulary, tables and settings; the training options named on the
  // command line replace the checkpoint's (more epochs, another learning rate...). --dim, --min-count and
  // --max-vocab cannot change a trained model and are refused.
  Item2Vec model = a.resume.empty() ? Item2Vec(ctx, config, ItemVocabulary::build(sequences, a.min_count, a.max_vocab))
                                    : Item2Vec::load(ctx, a.resume);
  if (!a.resume.empty()) {
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
    if (given("--seed")) next.seed = a.seed;
    if (given("--batch-words")) next.batch_words = a.batch_words;
    if (given("--sequential")) next.schedule = SgnsSchedule::kSequential;
    model.set_training_config(next);
  }
  const Corpus corpus = encode(sequences, model.vocabulary());
  if (corpus.words() == 0) RECKON_THROW(StatusCode::kDataError, a.input, ": no in-vocabulary items to train on");
  const TrainStats stats = model.train(corpus, a.progress && !a.json);
  if (!a.output.empty()) save_word2vec(keyed(model), a.output, a.binary);
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
  std::string out = "build/item2vec_demo", device = "auto";
  int epochs = 5;
  bool json = false;
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
  a.device = d.device;
  a.progress = !d.json;
  a.json = d.json;
  const nlohmann::json trained = run_train(a);
  Context ctx(parse_device(d.device));
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

}  // namespace

void add_item2vec_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("item2vec", "item2vec / word2vec: skip-gram with negative sampling over item sequences");
  cmd->require_subcommand(1);

  auto train = std::make_shared<TrainArgs>();
  auto* t = cmd->add_subcommand("train", "Train item vectors from a corpus of sequences");
  t->add_option("--input", train->input, "corpus file")->required();
  t->add_option("--format", train->format, "text | sessions-tsv | diginetica")->capture_default_str();
  t->add_option("--output", train->output, "vectors in word2vec format");
  t->add_flag("--binary", train->binary, "write the binary word2vec format");
  t->add_option("--save", train->save, "the model's checkpoint, for continued training");
  t->add_option("--resume", train->resume,
                "continue training a checkpoint written by --save (its vocabulary, tables and settings; training "
                "options given here replace its settings; --dim, --min-count and --max-vocab are refused)");
  t->add_option("--dim", train->dim)->capture_default_str();
  t->add_option("--window", train->window)->capture_default_str();
  t->add_option("--negative", train->negative)->capture_default_str();
  t->add_option("--min-count", train->min_count)->capture_default_str();
  t->add_option("--max-vocab", train->max_vocab, "keep the N most frequent items (0: all)")->capture_default_str();
  t->add_option("--sample", train->sample, "subsampling threshold (0: off)")->capture_default_str();
  t->add_option("--alpha", train->alpha, "negatives drawn with probability proportional to count^alpha")
      ->capture_default_str();
  t->add_option("--lr", train->lr, "starting learning rate (decays linearly)")->capture_default_str();
  t->add_option("--epochs", train->epochs)->capture_default_str();
  t->add_option("--threads", train->threads, "CPU threads (0: all)")->capture_default_str();
  t->add_option("--batch-words", train->batch_words, "words per step (0: 20,000 on CPU, 4,000,000 on GPU)")
      ->capture_default_str();
  t->add_option("--max-sentence", train->max_sentence, "split longer sentences")->capture_default_str();
  t->add_flag("--sequential", train->sequential, "one center at a time: reproducible bit for bit (slow)");
  t->add_option("--seed", train->seed)->capture_default_str();
  t->add_option("--device", train->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  t->add_flag("--json", train->json, "print one JSON object");
  t->callback([train, t] {
    train->given = options_named(*t);
    const nlohmann::json j = run_train(*train);
    if (train->json) {
      std::cout << j.dump() << "\n";
      return;
    }
    // Each epoch was reported on stderr as it ended.
    fmt::print("{} items, {:.0f} raw words/s ({:.0f} effective) on {}\n", j["vocabulary"].get<std::int64_t>(),
               j["raw_words_per_s"].get<double>(), j["effective_words_per_s"].get<double>(),
               j["device"].get<std::string>());
  });

  struct QueryArgs {
    std::string vectors, items, device = "auto";
    int k = 10;
    bool json = false;
  };
  auto similar = std::make_shared<QueryArgs>();
  auto* sim = cmd->add_subcommand("similar", "Items most similar to an item (cosine)");
  sim->add_option("--vectors", similar->vectors, "word2vec text or binary file")->required();
  sim->add_option("--item", similar->items, "item, or items separated by commas (one query each)")->required();
  sim->add_option("--k", similar->k)->capture_default_str();
  sim->add_option("--device", similar->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  sim->add_flag("--json", similar->json, "print one JSON object");
  sim->callback([similar] {
    Context ctx(parse_device(similar->device));
    const KeyedVectors kv = load_word2vec(similar->vectors);
    const SimilarityIndex index(ctx, kv);
    std::vector<std::int32_t> ids;
    const std::vector<std::string> items = split_list(similar->items);
    for (const std::string& item : items) {
      const std::int32_t id = kv.lookup(item);
      if (id < 0) RECKON_THROW(StatusCode::kInvalidArgument, "item '", item, "' is not in ", similar->vectors);
      ids.push_back(id);
    }
    const auto found = index.most_similar(ids, similar->k);
    nlohmann::json results = nlohmann::json::array();
    for (std::size_t i = 0; i < ids.size(); ++i)
      results.push_back({{"item", items[i]}, {"similar", neighbors_json(kv, found[i])}});
    if (similar->json) {
      std::cout << nlohmann::json{{"k", similar->k}, {"results", results}}.dump() << "\n";
      return;
    }
    for (const auto& r : results) {
      fmt::print("{}:\n", r["item"].get<std::string>());
      print_neighbors(r["similar"]);
    }
  });

  auto recommend = std::make_shared<QueryArgs>();
  auto* rec = cmd->add_subcommand("recommend", "Items that fit a set of context items (mean of their vectors)");
  rec->add_option("--vectors", recommend->vectors, "word2vec text or binary file")->required();
  rec->add_option("--context", recommend->items, "context items separated by commas")->required();
  rec->add_option("--k", recommend->k)->capture_default_str();
  rec->add_option("--device", recommend->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  rec->add_flag("--json", recommend->json, "print one JSON object");
  rec->callback([recommend] {
    Context ctx(parse_device(recommend->device));
    const KeyedVectors kv = load_word2vec(recommend->vectors);
    const SimilarityIndex index(ctx, kv);
    std::vector<std::int32_t> context;
    std::vector<std::string> unknown;
    for (const std::string& item : split_list(recommend->items)) {
      const std::int32_t id = kv.lookup(item);
      if (id < 0) {
        unknown.push_back(item);
      } else {
        context.push_back(id);
      }
    }
    if (context.empty()) RECKON_THROW(StatusCode::kInvalidArgument, "no context item is in ", recommend->vectors);
    const auto found = index.recommend({context}, recommend->k);
    const nlohmann::json j{{"k", recommend->k}, {"unknown", unknown}, {"recommended", neighbors_json(kv, found[0])}};
    if (recommend->json) {
      std::cout << j.dump() << "\n";
      return;
    }
    if (!unknown.empty()) fmt::print("not in the vectors (ignored): {}\n", fmt::join(unknown, ", "));
    print_neighbors(j["recommended"]);
  });

  struct SplitArgs {
    std::string input, format = "sessions-tsv", out;
    double test_days = 7;
    bool json = false;
  };
  auto split = std::make_shared<SplitArgs>();
  auto* sp = cmd->add_subcommand("split", "Split a session log by time: the sessions of the last days are held out");
  sp->add_option("--input", split->input, "session log")->required();
  sp->add_option("--format", split->format, "sessions-tsv | diginetica")
      ->check(CLI::IsMember({"sessions-tsv", "diginetica"}))
      ->capture_default_str();
  sp->add_option("--test-days", split->test_days, "sessions ending in the log's last N days are the test set")
      ->capture_default_str();
  sp->add_option("--out", split->out, "directory for train.tsv and test.tsv (sessions-tsv)")->required();
  sp->add_flag("--json", split->json, "print one JSON object");
  sp->callback([split] {
    const SessionLog log = read_session_log(split->input, parse_corpus_format(split->format));
    std::filesystem::create_directories(split->out);
    const SessionSplit r = write_session_split(log, split->test_days, split->out);
    const nlohmann::json j{{"train", r.train_path},
                           {"test", r.test_path},
                           {"train_sessions", r.train_sessions},
                           {"test_sessions", r.test_sessions},
                           {"train_events", r.train_events},
                           {"test_events", r.test_events},
                           {"cutoff_unix_seconds", r.cutoff},
                           {"skipped_rows", log.skipped_rows},
                           {"first_errors", log.first_errors}};
    if (split->json) {
      std::cout << j.dump() << "\n";
      return;
    }
    fmt::print("{}: {} sessions ({} events); {}: {} sessions ({} events) ending in the last {} days\n", r.train_path,
               r.train_sessions, r.train_events, r.test_path, r.test_sessions, r.test_events, split->test_days);
    if (log.skipped_rows > 0) {
      fmt::print("skipped {} malformed rows, the first: {}\n", log.skipped_rows, log.first_errors.front());
    }
  });

  struct EvalArgs {
    std::string vectors, sessions, format = "sessions-tsv", analogy, similarity, device = "auto";
    NextItemOptions next_item;
    std::int64_t restrict_vocab = 30000;
    bool json = false, case_sensitive = false;
  };
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
  e->add_option("--device", eval->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  e->add_flag("--json", eval->json, "print one JSON object");
  e->callback([eval] {
    Context ctx(parse_device(eval->device));
    const KeyedVectors kv = load_word2vec(eval->vectors);
    nlohmann::json j;
    if (!eval->sessions.empty()) {
      const Sequences test = read_sequences(eval->sessions, parse_corpus_format(eval->format));
      const SimilarityIndex index(ctx, kv);
      const NextItemResult r = evaluate_next_item(index, kv, test, eval->next_item);
      j = {{"task", "next_item"},
           {"protocol", {{"query", describe(eval->next_item)},
                         {"context_window", eval->next_item.context_window},
                         {"exclude_seen", eval->next_item.exclude_seen}}},
           {"k", r.k},
           {"queries", r.queries},
           {"skipped", r.skipped},
           {"hr", metric_or_null(r.queries > 0, r.hit_rate)},
           {"mrr", metric_or_null(r.queries > 0, r.mrr)},
           {"popularity_hr", metric_or_null(r.queries > 0, r.popularity_hit_rate)},
           {"popularity_mrr", metric_or_null(r.queries > 0, r.popularity_mrr)},
           {"skipped_rows", test.skipped_rows}};
      if (!eval->json && r.queries == 0) {
        fmt::print("no test position has a known next item and context ({} skipped): HR and MRR undefined\n",
                   r.skipped);
      } else if (!eval->json) {
        fmt::print("next item over {} positions ({} skipped: unknown item or context); query: {}\n", r.queries,
                   r.skipped, describe(eval->next_item));
        fmt::print("  item2vec    HR@{} {:.4f}  MRR@{} {:.4f}\n", r.k, r.hit_rate, r.k, r.mrr);
        fmt::print("  popularity  HR@{} {:.4f}  MRR@{} {:.4f}\n", r.k, r.popularity_hit_rate, r.k, r.popularity_mrr);
      }
    } else if (!eval->analogy.empty()) {
      const AnalogyResult r = evaluate_analogies(ctx, kv, eval->analogy, eval->restrict_vocab, !eval->case_sensitive);
      nlohmann::json sections = nlohmann::json::array();
      for (const auto& s : r.sections)
        sections.push_back({{"section", s.name}, {"correct", s.correct}, {"total", s.total}});
      j = {{"task", "analogy"},    {"accuracy", metric_or_null(r.total > 0, r.accuracy)},
           {"correct", r.correct}, {"total", r.total},
           {"skipped", r.skipped}, {"restrict_vocab", eval->restrict_vocab},
           {"sections", sections}};
      if (!eval->json) {
        for (const auto& s : r.sections) {
          if (s.total > 0)
            fmt::print("  {:<28} {:5.1f}%  ({}/{})\n", s.name, 100.0 * s.correct / s.total, s.correct, s.total);
        }
        if (r.total == 0) {
          fmt::print("no answerable question ({} skipped: a word outside the {} most frequent): accuracy undefined\n",
                     r.skipped, eval->restrict_vocab);
        } else {
          fmt::print("analogy accuracy {:.2f}% ({}/{}; {} questions skipped: a word outside the {} most frequent)\n",
                     100 * r.accuracy, r.correct, r.total, r.skipped, eval->restrict_vocab);
        }
      }
    } else if (!eval->similarity.empty()) {
      const SimilarityResult r = evaluate_similarity(kv, eval->similarity, !eval->case_sensitive);
      // Spearman's rho needs two pairs at least.
      j = {{"task", "similarity"},
           {"spearman", metric_or_null(r.found >= 2, r.spearman)},
           {"pairs", r.pairs},
           {"found", r.found}};
      if (!eval->json && r.found < 2) {
        fmt::print("{} of {} pairs have both words known: Spearman's rho undefined\n", r.found, r.pairs);
      } else if (!eval->json) {
        fmt::print("Spearman rho {:.4f} over {} of {} pairs\n", r.spearman, r.found, r.pairs);
      }
    } else {
      RECKON_THROW(StatusCode::kInvalidArgument, "give one of --sessions, --analogy or --similarity");
    }
    if (eval->json) std::cout << j.dump() << "\n";
  });

  auto demo = std::make_shared<DemoArgs>();
  auto* d = cmd->add_subcommand("demo",
                                "Synthetic listening sessions with planted genres: next-song HR@10 against popularity");
  d->add_option("--out", demo->out, "directory for the generated files")->capture_default_str();
  d->add_option("--epochs", demo->epochs)->capture_default_str();
  d->add_option("--device", demo->device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  d->add_flag("--json", demo->json, "print one JSON object");
  d->callback([demo] {
    const nlohmann::json j = run_demo(*demo);
    if (demo->json) {
      std::cout << j.dump() << "\n";
      return;
    }
    // The layout of the CTR demo's table, which make demo prints just before this one.
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
  });
}

}  // namespace reckon::cli
