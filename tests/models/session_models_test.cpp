// Session baselines and the evaluator: ranks with ties, each baseline's scores against hand-computed values, the
// models against a planted next-click rule, checkpoints, and the leak refusal.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "reckon/models/session/evaluate.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::session {
namespace {

// A log from sessions of item names; session s's clicks at times 1000·s + position.
ClickLog log_of(const std::vector<std::vector<std::string>>& sessions, double start = 0) {
  ClickLog log;
  ClickLogBuilder builder(log);
  for (std::size_t s = 0; s < sessions.size(); ++s) {
    for (std::size_t p = 0; p < sessions[s].size(); ++p) {
      builder.add(builder.item(sessions[s][p]), start + 1000.0 * static_cast<double>(s) + static_cast<double>(p));
    }
    builder.end_session(std::to_string(s));
  }
  return log;
}

std::vector<float> scores_for(const SessionRecommender& m, const std::vector<std::string>& session) {
  std::vector<std::int32_t> prefix;
  for (const auto& name : session) prefix.push_back(m.training().catalog.lookup(name));
  std::vector<float> scores(static_cast<std::size_t>(m.training().catalog.size()));
  m.score(prefix, scores);
  return scores;
}

float at(const SessionRecommender& m, const std::vector<float>& scores, const std::string& item) {
  return scores[static_cast<std::size_t>(m.training().catalog.lookup(item))];
}

std::unique_ptr<SessionRecommender> fit(ModelKind kind, const ClickLog& train) {
  RecommenderOptions o;
  o.kind = kind;
  return make_recommender(o, TrainingSessions::build(train));
}

TEST(SessionEvaluate, TiesNeverFavourTheTarget) {
  const float s[] = {5, 2, 2, 2, 7, -std::numeric_limits<float>::infinity()};
  EXPECT_EQ(rank_of(s, 6, 0).rank, 2);          // only 7 is higher
  EXPECT_EQ(rank_of(s, 6, 2).rank, 4);          // 7, 5, and item 1 (tied, earlier in the catalogue)
  EXPECT_EQ(rank_of(s, 6, 2).pessimistic, 5);  // ... and item 3 too
  EXPECT_EQ(rank_of(s, 6, 5).rank, 0);          // an excluded target is never ranked
}

TEST(SessionBaselines, CatalogIsByPopularityThenName) {
  const ClickLog train = log_of({{"b", "a"}, {"c", "a"}, {"b", "d"}});
  const Catalog c = Catalog::build(train);
  EXPECT_EQ(c.names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(c.counts, (std::vector<std::int64_t>{2, 2, 1, 1}));
  EXPECT_EQ(c.lookup("zz"), -1);
}

TEST(SessionBaselines, PopAndSessionPop) {
  const ClickLog train = log_of({{"a", "b"}, {"a", "c"}, {"a", "b"}});
  const auto pop = fit(ModelKind::kPop, train);
  const auto p = scores_for(*pop, {"c"});
  EXPECT_EQ(at(*pop, p, "a"), 3.0f);
  EXPECT_EQ(at(*pop, p, "c"), 1.0f);
  const auto spop = fit(ModelKind::kSPop, train);
  const auto s = scores_for(*spop, {"c", "c", "b"});
  EXPECT_GT(at(*spop, s, "c"), at(*spop, s, "b"));  // twice in the session
  EXPECT_GT(at(*spop, s, "b"), at(*spop, s, "a"));  // once beats never, whatever its popularity
  EXPECT_FLOAT_EQ(at(*spop, s, "a"), 3.0f / 4.0f);  // popularity below one click: 3 / (3 + 1)
}

TEST(SessionBaselines, ItemKnnIsTheCosineOfCooccurrence) {
  // Sessions holding a: 3; b: 2; c: 1. co(a, b) = 2, co(a, c) = 1.
  const ClickLog train = log_of({{"a", "b"}, {"b", "a", "a"}, {"a", "c"}, {"d", "e"}});
  const auto knn = fit(ModelKind::kItemKnn, train);
  const auto s = scores_for(*knn, {"d", "a"});  // the last click decides
  EXPECT_FLOAT_EQ(at(*knn, s, "b"), static_cast<float>(2.0 / std::sqrt(3.0 * 2.0)));
  EXPECT_FLOAT_EQ(at(*knn, s, "c"), static_cast<float>(1.0 / std::sqrt(3.0 * 1.0)));
  EXPECT_EQ(at(*knn, s, "a"), 0.0f);  // no self-similarity by default
  EXPECT_EQ(at(*knn, s, "e"), 0.0f);
  RecommenderOptions o;
  o.kind = ModelKind::kItemKnn;
  o.self_similarity = true;
  o.knn_lambda = 20;
  const auto shrunk = make_recommender(o, TrainingSessions::build(train));
  const auto t = scores_for(*shrunk, {"a"});
  EXPECT_EQ(at(*shrunk, t, "a"), 1.0f);
  EXPECT_FLOAT_EQ(at(*shrunk, t, "b"), static_cast<float>(2.0 / (std::sqrt(6.0) + 20.0)));
}

TEST(SessionBaselines, SessionKnnAndItsDecayedVariant) {
  // Neighbours of the session (x, y): n0 = {x, p} shares x, n1 = {y, q, r} shares y, n2 = {z} shares nothing.
  const ClickLog train = log_of({{"x", "p"}, {"y", "q", "r"}, {"z", "w"}});
  const auto sknn = fit(ModelKind::kSknn, train);
  const auto s = scores_for(*sknn, {"x", "y"});
  const double s0 = 1.0 / (std::sqrt(2.0) * std::sqrt(2.0)), s1 = 1.0 / (std::sqrt(2.0) * std::sqrt(3.0));
  EXPECT_FLOAT_EQ(at(*sknn, s, "p"), static_cast<float>(s0));
  EXPECT_FLOAT_EQ(at(*sknn, s, "q"), static_cast<float>(s1));
  EXPECT_EQ(at(*sknn, s, "w"), 0.0f);
  // V-SKNN: x at position 1 of 2 weighs 1/2, y weighs 1; the norm is sqrt(1/4 + 1).
  const auto vsknn = fit(ModelKind::kVsknn, train);
  const auto v = scores_for(*vsknn, {"x", "y"});
  const double norm = std::sqrt(0.25 + 1.0);
  EXPECT_FLOAT_EQ(at(*vsknn, v, "p"), static_cast<float>(0.5 / (norm * std::sqrt(2.0))));
  EXPECT_FLOAT_EQ(at(*vsknn, v, "q"), static_cast<float>(1.0 / (norm * std::sqrt(3.0))));
  // One neighbour: only the most similar session (n0 for SKNN) votes.
  RecommenderOptions o;
  o.kind = ModelKind::kSknn;
  o.neighbors = 1;
  const auto one = make_recommender(o, TrainingSessions::build(train));
  const auto u = scores_for(*one, {"x", "y"});
  EXPECT_GT(at(*one, u, "p"), 0.0f);
  EXPECT_EQ(at(*one, u, "q"), 0.0f);
}

// Sessions walk a chain i -> i + 1 (mod 50) with a popular distractor item "hub" clicked in half of them: the
// next click is predictable from the last one, not from popularity.
ClickLog chain_sessions(int count, int seed, double start) {
  std::vector<std::vector<std::string>> sessions;
  for (int s = 0; s < count; ++s) {
    std::vector<std::string> items;
    int item = (s * 7 + seed) % 50;
    for (int p = 0; p < 4; ++p, item = (item + 1) % 50) items.push_back(std::string(1, 'i').append(std::to_string(item)));
    if (s % 2 == 0) items.insert(items.begin(), "hub");
    sessions.push_back(items);
  }
  return log_of(sessions, start);
}

TEST(SessionEvaluate, NeighbourhoodModelsLearnAPlantedChain) {
  const ClickLog train = chain_sessions(400, 0, 0);
  const ClickLog test = chain_sessions(100, 3, 1e7);
  EvalOptions o;
  o.ks = {1, 5, 20};
  const EvalResult pop = evaluate(*fit(ModelKind::kPop, train), test, o);
  const EvalResult iknn = evaluate(*fit(ModelKind::kItemKnn, train), test, o);
  const EvalResult vsknn = evaluate(*fit(ModelKind::kVsknn, train), test, o);
  EXPECT_EQ(iknn.all.queries, 100 * 3 + 50);  // every position after the first
  EXPECT_LT(pop.all.at[2].hit_rate, 0.6);
  EXPECT_GT(iknn.all.at[1].hit_rate, 0.8);
  EXPECT_GT(vsknn.all.at[1].hit_rate, 0.8);
  EXPECT_GT(vsknn.all.at[1].mrr, pop.all.at[1].mrr);
  // Neighbour sessions vote for the session's own items too, which never come next here: with them left out of
  // the ranking, the next link of the chain is first more often than not (the previous link competes).
  EXPECT_LT(vsknn.all.at[0].hit_rate, 0.1);
  EvalOptions unseen = o;
  unseen.exclude_seen = true;
  EXPECT_GT(evaluate(*fit(ModelKind::kVsknn, train), test, unseen).all.at[0].hit_rate, 0.5);
  for (const EvalResult* r : {&pop, &iknn, &vsknn}) {
    for (std::size_t k = 0; k < o.ks.size(); ++k) {
      EXPECT_LE(r->all.pessimistic[k].hit_rate, r->all.at[k].hit_rate);
      EXPECT_LE(r->all.at[k].mrr, r->all.at[k].hit_rate);
    }
    EXPECT_GT(r->coverage, 0.0);
    EXPECT_LE(r->mean_popularity, 1.0);
  }
  o.last_click_only = true;
  EXPECT_EQ(evaluate(*fit(ModelKind::kPop, train), test, o).all.queries, 100);
}

TEST(SessionEvaluate, UnseenTargetsAreMissesAndLeaksAreRefused) {
  const ClickLog train = log_of({{"a", "b"}, {"a", "b"}});
  const ClickLog test = log_of({{"a", "new"}, {"a", "b"}}, 1e6);
  EvalOptions o;
  o.ks = {1};
  const EvalResult r = evaluate(*fit(ModelKind::kItemKnn, train), test, o);
  EXPECT_EQ(r.all.queries, 2);
  EXPECT_EQ(r.unseen_targets, 1);
  EXPECT_DOUBLE_EQ(r.all.at[0].hit_rate, 0.5);
  const ClickLog early = log_of({{"a", "b"}}, 500);  // begins before training's last click (1001)
  EXPECT_THROW((void)evaluate(*fit(ModelKind::kPop, train), early, o), Error);
  o.allow_leak = true;
  EXPECT_EQ(evaluate(*fit(ModelKind::kPop, train), early, o).all.queries, 1);
  o.exclude_seen = true;  // "b" follows "a"; "a" itself leaves the ranking
  EXPECT_DOUBLE_EQ(evaluate(*fit(ModelKind::kPop, train), early, o).all.at[0].hit_rate, 1.0);
  o.ks = {0};
  EXPECT_THROW((void)evaluate(*fit(ModelKind::kPop, train), test, o), Error);
}

TEST(SessionBaselines, CheckpointsRebuildTheSameModel) {
  const ClickLog train = chain_sessions(60, 1, 0);
  const std::string dir = testing::temp_dir("session_models");
  for (const ModelKind kind : {ModelKind::kPop, ModelKind::kSPop, ModelKind::kItemKnn, ModelKind::kSknn, ModelKind::kVsknn}) {
    SCOPED_TRACE(to_string(kind));
    const auto model = fit(kind, train);
    save_recommender(*model, dir + "/m.ckpt");
    const auto loaded = load_recommender(dir + "/m.ckpt");
    EXPECT_EQ(loaded->options().kind, kind);
    EXPECT_EQ(loaded->training().end_time, model->training().end_time);
    EXPECT_EQ(scores_for(*loaded, {"i3", "hub", "i4"}), scores_for(*model, {"i3", "hub", "i4"}));
  }
  const std::string bytes = reckon::read_file(dir + "/m.ckpt");
  testing::write_file(dir, "cut.ckpt", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW((void)load_recommender(dir + "/cut.ckpt"), Error);
  EXPECT_THROW((void)parse_model_kind("gru"), Error);
}

}  // namespace
}  // namespace reckon::session
