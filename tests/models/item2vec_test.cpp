// item2vec: corpus readers (with malformed rows), the vocabulary, word2vec-format vectors (round trips and bad
// files), top-k queries against brute force, the evaluations, training on planted structure (better than
// popularity, reproducible in the sequential schedule), checkpoints, and the shared session data when present.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reckon/models/item2vec/corpus.h"
#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/models/item2vec/synthetic.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::item2vec {
namespace {


std::vector<std::string> sentence(const Sequences& s, std::int64_t i) {
  return {s.tokens.begin() + s.offsets[static_cast<std::size_t>(i)], s.tokens.begin() + s.offsets[static_cast<std::size_t>(i) + 1]};
}

TEST(Item2vecCorpus, ReadersOrderSessionsAndReportBadRows) {
  const std::string dir = testing::temp_dir("item2vec_corpus");
  const Sequences text = read_sequences(testing::write_file(dir, "t.txt", "a b  c\n\nd e f g h\n"), CorpusFormat::kText, 3);
  ASSERT_EQ(text.size(), 3);  // the long line split into 3 + 2, nothing dropped
  EXPECT_EQ(sentence(text, 0), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sentence(text, 2), (std::vector<std::string>{"g", "h"}));
  const Sequences tsv = read_sequences(
      testing::write_file(dir, "s.tsv", "SessionId\tItemId\tTime\n1\tx\t5\n2\ty\t1\n1\tz\t3\nbad row\n2\tw\tnot-a-time\n2\tv\t0\n"),
      CorpusFormat::kSessionsTsv);
  ASSERT_EQ(tsv.size(), 2);
  EXPECT_EQ(sentence(tsv, 0), (std::vector<std::string>{"z", "x"}));  // by time
  EXPECT_EQ(sentence(tsv, 1), (std::vector<std::string>{"v", "y"}));
  EXPECT_EQ(tsv.skipped_rows, 2);
  ASSERT_EQ(tsv.first_errors.size(), 2u);
  EXPECT_NE(tsv.first_errors[0].find("s.tsv:5: expected 3 columns"), std::string::npos) << tsv.first_errors[0];
  EXPECT_NE(tsv.first_errors[1].find("s.tsv:6:"), std::string::npos) << tsv.first_errors[1];
  const Sequences dg =
      read_sequences(testing::write_file(dir, "d.csv",
                                         "session_id;user_id;item_id;timeframe;eventdate\n7;NA;a;30;2016-05-01\n"
                                         "7;NA;b;10;2016-05-01\n8;NA;c;1;2016-05-02\n8;NA;d;2;May 2\n"),
                     CorpusFormat::kDiginetica);
  ASSERT_EQ(dg.size(), 2);
  EXPECT_EQ(sentence(dg, 0), (std::vector<std::string>{"b", "a"}));
  ASSERT_EQ(dg.first_errors.size(), 1u);
  EXPECT_NE(dg.first_errors[0].find("d.csv:5: eventdate 'May 2' is not YYYY-MM-DD"), std::string::npos)
      << dg.first_errors[0];
  EXPECT_THROW((void)read_sequences(testing::write_file(dir, "empty.txt", "\n\n"), CorpusFormat::kText), Error);
  EXPECT_THROW((void)read_sequences(dir + "/absent.txt", CorpusFormat::kText), Error);
  EXPECT_THROW((void)parse_corpus_format("csv"), Error);
}

TEST(Item2vecCorpus, SessionLogSplitsByTime) {
  const std::string dir = testing::temp_dir("item2vec_split");
  // Sessions 1-3 end on 2016-05-01 or before; 4 and 5 on the last day, 2016-05-03 (5 starts the day before).
  const std::string path = testing::write_file(
      dir, "views.csv",
      "session_id;user_id;item_id;timeframe;eventdate\n1;NA;a;500;2016-04-30\n1;NA;b;100;2016-04-30\n"
      "2;NA;c;0;2016-05-01\n2;NA;a;7000;2016-05-01\n3;NA;b;0;2000-02-29\n4;NA;c;2000;2016-05-03\n"
      "4;NA;a;1000;2016-05-03\n5;NA;d;0;2016-05-02\n5;NA;e;0;2016-05-03\n");
  const SessionLog log = read_session_log(path, CorpusFormat::kDiginetica);
  ASSERT_EQ(log.size(), 5);
  EXPECT_EQ(log.ids[3], "4");
  EXPECT_DOUBLE_EQ(log.events[1][1].time, 16922.0 * 86400.0 + 7.0);  // 2016-05-01 + 7000 ms
  EXPECT_DOUBLE_EQ(log.events[2][0].time, 11016.0 * 86400.0);        // a leap day
  const SessionSplit split = write_session_split(log, 1.0, dir);
  EXPECT_EQ(split.train_sessions, 3);
  EXPECT_EQ(split.test_sessions, 2);
  EXPECT_EQ(split.train_events, 5);
  EXPECT_EQ(split.test_events, 4);
  // Written as sessions-tsv: read back, each session's items in time order.
  const Sequences train = read_sequences(split.train_path, CorpusFormat::kSessionsTsv);
  const Sequences test = read_sequences(split.test_path, CorpusFormat::kSessionsTsv);
  ASSERT_EQ(train.size(), 3);
  ASSERT_EQ(test.size(), 2);
  EXPECT_EQ(sentence(train, 0), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(sentence(test, 0), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(sentence(test, 1), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(read_session_log(split.test_path, CorpusFormat::kSessionsTsv).events[1][1].time, log.events[4][1].time);
  EXPECT_THROW((void)write_session_split(log, 10000.0, dir), Error);  // nothing left to train on
  EXPECT_THROW((void)write_session_split(log, 0.0, dir), Error);
  EXPECT_THROW((void)read_session_log(path, CorpusFormat::kText), Error);
}

TEST(Item2vecCorpus, VocabularyByCountWithThresholds) {
  Sequences s;
  s.tokens = {"b", "a", "b", "c", "a", "b", "d"};
  s.offsets = {0, 4, 7};
  const ItemVocabulary v = ItemVocabulary::build(s, 2);
  EXPECT_EQ(v.tokens, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(v.counts, (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(v.lookup("c"), -1);
  EXPECT_EQ(ItemVocabulary::build(s, 1, 3).size(), 3);
  EXPECT_THROW((void)ItemVocabulary::build(s, 4), Error);
  const Corpus c = encode(s, v);
  EXPECT_EQ(c.ids, (std::vector<std::int32_t>{0, 1, 0, 1, 0}));
  EXPECT_EQ(c.offsets, (std::vector<std::int64_t>{0, 3, 5}));
}

KeyedVectors small_vectors() {
  KeyedVectors kv;
  kv.tokens = {"king", "queen", "man", "woman", "apple"};
  kv.dim = 3;
  kv.vectors = {1.0f, 1.0f, 0.0f, 1.0f, -1.0f, 0.0f, 0.0f, 1.0f, 0.1f, 0.0f, -1.0f, 0.1f, 0.0f, 0.0f, 1.0f};
  kv.build_index();
  return kv;
}

TEST(Item2vecVectors, Word2vecFormatsRoundTripAndBadFilesAreClear) {
  const std::string dir = testing::temp_dir("item2vec_vectors");
  KeyedVectors kv = small_vectors();
  kv.vectors[4] = 0.1f + 1e-7f;  // not exactly representable in short decimal
  for (const bool binary : {false, true}) {
    const std::string path = dir + (binary ? "/v.bin" : "/v.txt");
    save_word2vec(kv, path, binary);
    const KeyedVectors back = load_word2vec(path);
    EXPECT_EQ(back.tokens, kv.tokens);
    ASSERT_EQ(back.dim, 3);
    EXPECT_TRUE(testing::bitwise_equal(back.vectors.data(), kv.vectors.data(), kv.vectors.size() * 4)) << binary;
    EXPECT_EQ(back.lookup("woman"), 3);
  }
  auto expect_bad = [&](const std::string& name, const std::string& content, const std::string& needle) {
    try {
      (void)load_word2vec(testing::write_file(dir, name, content));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kDataError) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad("header.txt", "two 3\na 1 2 3\n", "header");
  expect_bad("short.txt", "2 3\na 1 2 3\nb 1 2\n", "short.txt:3: value 3 of 3");
  expect_bad("long.txt", "1 3\na 1 2 3 4\n", "more than 3");
  expect_bad("nan.txt", "1 2\na 1 nan\n", "not finite");
  expect_bad("dup.txt", "2 1\na 1\na 2\n", "twice");
  expect_bad("huge.txt", "99999999999 2\nw 1 2\n", "promises 99999999999 vectors");  // nothing sized by it
  std::string truncated = "2 4\na ";
  const float values[4] = {1, 2, 3, 4};
  truncated.append(reinterpret_cast<const char*>(values), 16).append("\nb ").append(reinterpret_cast<const char*>(values), 7);
  expect_bad("truncated.bin", truncated, "record 2: truncated");
}

TEST(Item2vecQueries, TopKMatchesBruteForceAndExcludes) {
  Context ctx(Device::cpu());
  const std::int64_t V = 500, D = 16;
  KeyedVectors kv;
  kv.dim = D;
  kv.vectors = testing::random_floats(static_cast<std::size_t>(V * D), -1, 1, 4);
  for (std::int64_t i = 0; i < V; ++i) kv.tokens.push_back(std::string("i").append(std::to_string(i)));
  kv.build_index();
  const SimilarityIndex index(ctx, kv);
  const auto found = index.most_similar({3, 77}, 7);
  for (int q = 0; q < 2; ++q) {
    const std::int32_t item = q == 0 ? 3 : 77;
    std::vector<std::pair<double, std::int32_t>> all;
    for (std::int32_t j = 0; j < V; ++j) {
      if (j == item) continue;
      double xy = 0, xx = 0, yy = 0;
      for (std::int64_t d = 0; d < D; ++d) {
        const double x = kv.vectors[static_cast<std::size_t>(item * D + d)], y = kv.vectors[static_cast<std::size_t>(j * D + d)];
        xy += x * y;
        xx += x * x;
        yy += y * y;
      }
      all.push_back({-xy / std::sqrt(xx * yy), j});
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(found[static_cast<std::size_t>(q)].size(), 7u);
    for (int j = 0; j < 7; ++j) {
      EXPECT_EQ(found[static_cast<std::size_t>(q)][static_cast<std::size_t>(j)].id, all[static_cast<std::size_t>(j)].second);
      EXPECT_NEAR(found[static_cast<std::size_t>(q)][static_cast<std::size_t>(j)].score, -all[static_cast<std::size_t>(j)].first, 1e-5);
    }
  }
  const auto rec = index.recommend({{1, 2, 3}}, 10);
  for (const Neighbor& n : rec[0]) EXPECT_TRUE(n.id != 1 && n.id != 2 && n.id != 3);
  EXPECT_THROW((void)index.most_similar({int(V)}, 3), Error);
  EXPECT_THROW((void)index.recommend({{}}, 3), Error);
}

// Known answers for the next-item protocols: p is the most popular row; a and b point the same way, c away.
TEST(Item2vecEvaluate, NextItemRanksTheSessionsOwnItemsByDefault) {
  Context ctx(Device::cpu());
  KeyedVectors kv;
  kv.dim = 2;
  kv.tokens = {"p", "a", "b", "c"};
  kv.vectors = {0, 1, 1, 0, 1, 0.2f, -1, 0};
  kv.build_index();
  Sequences sessions;
  sessions.tokens = {"a", "a", "a", "b", "zz", "b"};
  sessions.offsets = {0, 2, 4, 6};
  const SimilarityIndex index(ctx, kv);
  NextItemOptions field;
  field.k = 2;
  // The session evaluator's protocol: every position is a query. a -> a: rank 1 (the query itself); a -> b: rank 2
  // behind a; zz -> b: no known context, every row scores alike, so b ranks behind p and a (3: a miss).
  // Popularity (rows p, a, b, c): a at 2, b at 3 twice.
  const NextItemResult f = evaluate_next_item(index, kv, sessions, field);
  EXPECT_EQ(f.queries, 3);
  EXPECT_EQ(f.skipped, 0);  // every target is a known row
  EXPECT_DOUBLE_EQ(f.hit_rate, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(f.mrr, 1.5 / 3.0);
  EXPECT_DOUBLE_EQ(f.popularity_hit_rate, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(f.popularity_mrr, 0.5 / 3.0);
  EXPECT_EQ(describe(field), "last item; all items ranked");
  // Excluding the session's items: a -> a cannot be hit; a -> b is rank 1 for the model, 2 for popularity (p, b).
  NextItemOptions seen = field;
  seen.exclude_seen = true;
  const NextItemResult e = evaluate_next_item(index, kv, sessions, seen);
  EXPECT_DOUBLE_EQ(e.hit_rate, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.mrr, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.popularity_hit_rate, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(e.popularity_mrr, 0.5 / 3.0);
  EXPECT_EQ(describe(seen), "last item; the session's items excluded");
  NextItemOptions all = field;
  all.context_window = 0;
  EXPECT_EQ(describe(all), "mean of all previous items; all items ranked");
  all.context_window = -1;
  EXPECT_THROW(evaluate_next_item(index, kv, sessions, all), Error);
}

TEST(Item2vecEvaluate, AnalogySimilarityAndSpearman) {
  const std::string dir = testing::temp_dir("item2vec_eval");
  Context ctx(Device::cpu());
  const KeyedVectors kv = small_vectors();
  // king − man + woman: (1,1,0) − (0,1,0.1) + (0,−1,0.1) = (1,−1,0): queen.
  const AnalogyResult a = evaluate_analogies(
      ctx, kv, testing::write_file(dir, "q.txt", ": royals\nMan Woman King Queen\nman woman king apple\nman woman king zebra\n"));
  EXPECT_EQ(a.total, 2);
  EXPECT_EQ(a.correct, 1);
  EXPECT_EQ(a.skipped, 1);
  ASSERT_EQ(a.sections.size(), 1u);
  EXPECT_EQ(a.sections[0].name, "royals");
  EXPECT_THROW((void)evaluate_analogies(ctx, kv, testing::write_file(dir, "bad.txt", "a b c\n")), Error);
  const SimilarityResult s = evaluate_similarity(kv, testing::write_file(dir, "s.txt", "w1 w2 score\nking queen 3\nking man 6\nqueen woman 9\nking zebra 1\n"));
  EXPECT_EQ(s.pairs, 4);
  EXPECT_EQ(s.found, 3);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 0.9486832980505138, 1e-9);  // ties get average ranks
}

struct Trained {
  KeyedVectors vectors;
  TrainStats stats;
};

Trained train_synthetic(Context& ctx, const SyntheticSessions& s, SgnsSchedule schedule, int epochs = 5) {
  const Sequences seq = read_sequences(s.train_path, CorpusFormat::kSessionsTsv);
  Item2VecConfig c;
  c.dim = 32;
  c.window = 3;
  c.epochs = epochs;
  c.sample = 0;
  c.schedule = schedule;
  Item2Vec model(ctx, c, ItemVocabulary::build(seq, 1));
  Trained t;
  t.stats = model.train(encode(seq, model.vocabulary()));
  t.vectors.tokens = model.vocabulary().tokens;
  t.vectors.dim = 32;
  t.vectors.vectors = model.input_vectors();
  t.vectors.build_index();
  return t;
}

TEST(Item2vecTraining, PlantedGenresBeatPopularityAndSequentialIsReproducible) {
  const std::string dir = testing::temp_dir("item2vec_train");
  SyntheticSessionsOptions o;
  o.train_sessions = 20000;
  o.test_sessions = 500;
  const SyntheticSessions s = write_synthetic_sessions(dir, o);
  Context ctx(Device::cpu());
  const Trained t = train_synthetic(ctx, s, SgnsSchedule::kHogwild);
  ASSERT_EQ(t.stats.epochs.size(), 5u);
  EXPECT_LT(t.stats.epochs.back().loss, t.stats.epochs.front().loss);
  const SimilarityIndex index(ctx, t.vectors);
  NextItemOptions at10;
  at10.k = 10;
  const NextItemResult r = evaluate_next_item(index, t.vectors, read_sequences(s.test_path, CorpusFormat::kSessionsTsv), at10);
  EXPECT_GT(r.queries, 1000);
  EXPECT_GT(r.hit_rate, 2 * r.popularity_hit_rate) << "item2vec " << r.hit_rate << " popularity " << r.popularity_hit_rate;
  // Nearest songs share the genre (ids are genre · 1000 + rank).
  const std::vector<std::int32_t> songs = {t.vectors.lookup("0"), t.vectors.lookup("5000")};
  const auto near = index.most_similar(songs, 5);
  for (std::size_t q = 0; q < songs.size(); ++q) {
    const int genre = std::stoi(t.vectors.tokens[static_cast<std::size_t>(songs[q])]) / 1000;
    for (const Neighbor& n : near[q]) EXPECT_EQ(std::stoi(t.vectors.tokens[static_cast<std::size_t>(n.id)]) / 1000, genre);
  }
  const Trained a = train_synthetic(ctx, s, SgnsSchedule::kSequential, 1), b = train_synthetic(ctx, s, SgnsSchedule::kSequential, 1);
  EXPECT_TRUE(testing::bitwise_equal(a.vectors.vectors.data(), b.vectors.vectors.data(), a.vectors.vectors.size() * 4));
}

TEST(Item2vecTraining, CheckpointsRoundTripResumeAndRejectBadFiles) {
  const std::string dir = testing::temp_dir("item2vec_checkpoint");
  SyntheticSessionsOptions o;
  o.train_sessions = 500;
  const SyntheticSessions s = write_synthetic_sessions(dir, o);
  const Sequences seq = read_sequences(s.train_path, CorpusFormat::kSessionsTsv);
  Context ctx(Device::cpu());
  Item2VecConfig c;
  c.dim = 8;
  c.epochs = 1;
  Item2Vec model(ctx, c, ItemVocabulary::build(seq, 1));
  (void)model.train(encode(seq, model.vocabulary()));
  const std::string path = dir + "/model.i2v";
  model.save(path);
  Item2Vec back = Item2Vec::load(ctx, path);
  EXPECT_EQ(back.vocabulary().tokens, model.vocabulary().tokens);
  EXPECT_EQ(back.trained_words(), model.trained_words());
  const auto v0 = model.input_vectors(), v1 = back.input_vectors();
  EXPECT_TRUE(testing::bitwise_equal(v0.data(), v1.data(), v0.size() * 4));
  (void)back.train(encode(seq, back.vocabulary()));  // continued training
  EXPECT_EQ(back.trained_words(), 2 * model.trained_words());
  // Continued with other settings: two more epochs at a lower rate with another sampling exponent; the width of
  // the tables cannot change.
  Item2VecConfig more = back.config();
  more.epochs = 2;
  more.learning_rate = 0.01f;
  more.negative_exponent = 0.5;
  back.set_training_config(more);
  const TrainStats continued = back.train(encode(seq, back.vocabulary()));
  ASSERT_EQ(continued.epochs.size(), 2u);
  // The corpus is one batch per epoch: each epoch still samples (and NaN-checks) its loss.
  for (const EpochStats& e : continued.epochs) EXPECT_TRUE(std::isfinite(e.loss) && e.loss > 0.1) << e.epoch;
  EXPECT_EQ(back.trained_words(), 4 * model.trained_words());
  more.dim = 16;
  EXPECT_THROW(back.set_training_config(more), Error);
  more.dim = 8;
  more.window = 0;
  EXPECT_THROW(back.set_training_config(more), Error);
  EXPECT_EQ(back.config().window, c.window);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string corrupted = bytes;
  corrupted[corrupted.size() / 2] ^= 0x40;
  for (const auto& [name, content] : {std::pair<std::string, std::string>{"truncated", bytes.substr(0, bytes.size() / 2)},
                                      {"corrupted", corrupted},
                                      {"foreign", "hello world"}}) {
    EXPECT_THROW((void)Item2Vec::load(ctx, testing::write_file(dir, name, content)), Error) << name;
  }
}

TEST(Item2vecTraining, SharedYoochooseSessionsBeatPopularity) {
  const std::filesystem::path dir = std::filesystem::path(RECKON_SOURCE_DIR) / "../shared/data/sessions";
  if (!std::filesystem::exists(dir / "yoochoose-clicks-100k_train_full.txt")) GTEST_SKIP() << "../shared/data is absent";
  const Sequences train = read_sequences((dir / "yoochoose-clicks-100k_train_full.txt").string(), CorpusFormat::kSessionsTsv);
  const Sequences test = read_sequences((dir / "yoochoose-clicks-100k_test.txt").string(), CorpusFormat::kSessionsTsv);
  Context ctx(Device::cpu());
  Item2VecConfig c;
  c.dim = 64;
  c.window = 3;
  c.epochs = 10;
  c.sample = 0;
  Item2Vec model(ctx, c, ItemVocabulary::build(train, 1));
  (void)model.train(encode(train, model.vocabulary()));
  KeyedVectors kv;
  kv.tokens = model.vocabulary().tokens;
  kv.dim = 64;
  kv.vectors = model.input_vectors();
  kv.build_index();
  const NextItemResult r = evaluate_next_item(SimilarityIndex(ctx, kv), kv, test);
  EXPECT_GT(r.queries, 1000);
  EXPECT_GT(r.hit_rate, r.popularity_hit_rate + 0.1) << "HR@20 " << r.hit_rate << " popularity " << r.popularity_hit_rate;
}

TEST(Item2vecCuda, TrainsAndQueriesLikeTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  const std::string dir = testing::temp_dir("item2vec_cuda");
  SyntheticSessionsOptions o;
  o.train_sessions = 20000;
  o.test_sessions = 500;
  const SyntheticSessions s = write_synthetic_sessions(dir, o);
  Context gpu(Device::cuda(0)), cpu(Device::cpu());
  const Trained t = train_synthetic(gpu, s, SgnsSchedule::kHogwild);
  const SimilarityIndex gi(gpu, t.vectors), ci(cpu, t.vectors);
  const Sequences test = read_sequences(s.test_path, CorpusFormat::kSessionsTsv);
  NextItemOptions at10;
  at10.k = 10;
  const NextItemResult g = evaluate_next_item(gi, t.vectors, test, at10), c = evaluate_next_item(ci, t.vectors, test, at10);
  EXPECT_GT(g.hit_rate, 2 * g.popularity_hit_rate);
  EXPECT_NEAR(g.hit_rate, c.hit_rate, 0.01);  // the same vectors: only score rounding may reorder ties
}

}  // namespace
}  // namespace reckon::item2vec

namespace reckon::item2vec {
namespace {

std::uint64_t tables_hash(const Item2Vec& model) {
  std::string bytes;
  for (const std::vector<float>& t : {model.input_vectors(), model.output_vectors()}) {
    bytes.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
  }
  return fnv1a(bytes);
}

// A checkpoint written by the first checkpoint format (tests/models/data/item2vec_v1.ckpt, `item2vec train --dim 8
// --epochs 1 --min-count 1` on 200 sentences of 30 words) loads with its tables, and saved again in the current
// format loads the same.
TEST(Item2VecCheckpoint, VersionOneFilesStillLoad) {
  Context ctx(Device::cpu());
  const Item2Vec old = Item2Vec::load(ctx, std::string(RECKON_SOURCE_DIR) + "/tests/models/data/item2vec_v1.ckpt");
  EXPECT_EQ(old.vocabulary().size(), 30);
  EXPECT_EQ(old.config().dim, 8);
  EXPECT_EQ(tables_hash(old), 0xa38f5c7b01f58282ull);
  const std::string path = testing::temp_dir("item2vec_legacy") + "/again.ckpt";
  old.save(path);
  const Item2Vec again = Item2Vec::load(ctx, path);
  EXPECT_EQ(tables_hash(again), tables_hash(old));
  EXPECT_EQ(again.vocabulary().tokens, old.vocabulary().tokens);
  EXPECT_EQ(again.vocabulary().counts, old.vocabulary().counts);
}

}  // namespace
}  // namespace reckon::item2vec
