// The 3D-CNN session recommender: learns a planted next-click rule from the ids' characters, carries a rule to
// items it never saw followed through their content (where item-kNN cannot), batched scoring is per-prefix scoring,
// checkpoints restore it exactly, bad settings are refused; on a GPU it learns the same rule.
#include <gtest/gtest.h>

#include "reckon/models/session/cnn3d.h"
#include "reckon/models/session/conversion.h"
#include "reckon/models/session/evaluate.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/models/session/synthetic.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::session {
namespace {

std::string name_of(char prefix, int n) { return std::string(1, prefix).append(std::to_string(n)); }

// Sessions walk a chain i -> i + 1 (mod 30), starting anywhere.
ClickLog chain_sessions(int count, int seed, double start) {
  ClickLog log;
  ClickLogBuilder builder(log);
  for (int s = 0; s < count; ++s) {
    int item = (s * 7 + seed) % 30;
    for (int p = 0; p < 4; ++p, item = (item + 1) % 30) builder.add(builder.item(name_of('i', item)), start + 1000.0 * s + p);
    builder.end_session(std::to_string(s));
  }
  return log;
}

Cnn3dOptions small() {
  Cnn3dOptions o;
  o.clicks = 3;
  o.id_chars = 4;
  o.category_chars = 4;
  o.text_chars = 0;
  o.char_embedding = 8;
  o.filters = 16;
  o.hidden = 32;
  o.batch = 32;
  o.epochs = 6;
  o.learning_rate = 0.005f;
  o.dropout = 0.0f;
  o.output.samples = 8;
  return o;
}

double hit_rate_at_1(const SessionRecommender& model, const ClickLog& test) {
  EvalOptions e;
  e.ks = {1};
  return evaluate(model, test, e).all.at[0].hit_rate;
}

void expect_learns_chain(Device device) {
  Context ctx(device);
  const ClickLog train = chain_sessions(600, 0, 0), test = chain_sessions(60, 3, 1e7);
  const TrainingSessions t = TrainingSessions::build(train);
  Cnn3dRecommender model(ctx, small(), t, catalog_content(train, t.catalog));
  double first = 0, last = 0;
  for (int e = 1; e <= small().epochs; ++e) {
    const EpochStats r = model.train_epoch(e);
    (e == 1 ? first : last) = r.loss;
    EXPECT_GT(r.clicks_per_second, 0.0);
  }
  EXPECT_LT(last, first * 0.5);
  EXPECT_GT(hit_rate_at_1(model, test), 0.9);  // POP gets 1 in 30
}

TEST(Cnn3d, LearnsAPlantedChainFromTheIdsCharacters) { expect_learns_chain(Device::cpu()); }

// Ten categories; an item of category c is followed by category c + 1's hub item. Members 0-9 of each category show
// the rule in training; members 10-14 appear in training only as the last click of a session (never followed), and
// are the test's queries: only their category can tell what comes next.
struct ContentWorld {
  ClickLog train, test;
};

ContentWorld content_world() {
  ContentWorld w;
  ClickLogBuilder train(w.train), test(w.test);
  const auto member = [](ClickLogBuilder& b, int c, int j) { return b.item(name_of('m', c * 100 + j)); };
  const auto hub = [](ClickLogBuilder& b, int c) { return b.item(name_of('h', c)); };
  double time = 0;
  for (int rep = 0; rep < 40; ++rep) {
    for (int c = 0; c < 10; ++c) {
      train.add(member(train, c, rep % 10), ++time);
      train.add(hub(train, (c + 1) % 10), ++time);
      if (rep < 5) train.add(member(train, c, 10 + rep), ++time);  // seen, never followed
      train.end_session(name_of('s', rep * 10 + c));
    }
  }
  for (int c = 0; c < 10; ++c) {
    for (int j = 10; j < 15; ++j) {
      test.add(member(test, c, j), 1e7 + time);
      test.add(hub(test, (c + 1) % 10), 1e7 + time + 1);
      test.end_session(name_of('t', c * 100 + j));
      ++time;
    }
  }
  for (ClickLog* log : {&w.train, &w.test}) {
    log->item_categories.resize(log->item_names.size());
    for (std::size_t i = 0; i < log->item_names.size(); ++i) {
      const int n = std::stoi(log->item_names[i].substr(1));
      log->item_categories[i] = name_of('c', log->item_names[i][0] == 'h' ? (n + 9) % 10 : n / 100);
    }
  }
  return w;
}

TEST(Cnn3d, ContentCarriesTheRuleToItemsNeverSeenFollowed) {
  Context ctx(Device::cpu());
  const ContentWorld w = content_world();
  const TrainingSessions t = TrainingSessions::build(w.train);
  Cnn3dOptions o = small();
  o.id_chars = 0;  // the category alone: ids would let it memorise the members it saw
  o.id_token = false;
  o.last_click = false;
  o.epochs = 8;
  Cnn3dRecommender model(ctx, o, t, catalog_content(w.train, t.catalog));
  for (int e = 1; e <= o.epochs; ++e) model.train_epoch(e);
  RecommenderOptions knn;
  knn.kind = ModelKind::kItemKnn;
  const auto iknn = make_recommender(knn, t);
  EXPECT_GT(hit_rate_at_1(model, w.test), 0.8);
  EXPECT_LT(hit_rate_at_1(*iknn, w.test), 0.3);
}

TEST(Cnn3d, BatchedScoringIsPerPrefixScoringAndCheckpointsRestoreIt) {
  Context ctx(Device::cpu());
  ClickLog train = chain_sessions(100, 0, 0);
  train.item_categories.resize(train.item_names.size());
  for (std::size_t i = 0; i < train.item_names.size(); ++i) train.item_categories[i] = name_of('c', static_cast<int>(i % 3));
  const TrainingSessions t = TrainingSessions::build(train);
  ASSERT_GT(content_features(catalog_content(train, t.catalog)).vocabulary, 0);  // the output layer reads content
  Cnn3dRecommender model(ctx, small(), t, catalog_content(train, t.catalog));
  model.train_epoch(1);
  const Catalog& c = model.training().catalog;
  const std::vector<std::int32_t> a{c.lookup("i3"), c.lookup("i4"), c.lookup("i5"), c.lookup("i6")}, b{c.lookup("i9")},
      d{-1, c.lookup("i1"), c.lookup("i2")};
  const std::span<const std::int32_t> prefixes[] = {b, a, d};
  std::vector<float> together(static_cast<std::size_t>(3 * c.size()));
  model.score_batch(prefixes, together.data(), 1);
  const std::string dir = testing::temp_dir("cnn3d_checkpoint");
  model.save(dir + "/m.ckpt");
  const auto loaded = load_any_recommender(ctx, dir + "/m.ckpt");
  EXPECT_EQ(loaded->name(), "cnn3d");
  for (std::size_t q = 0; q < 3; ++q) {
    std::vector<float> alone(static_cast<std::size_t>(c.size())), restored(alone.size());
    model.score(prefixes[q], alone);
    loaded->score(prefixes[q], restored);
    const std::vector<float> slice(together.begin() + static_cast<std::ptrdiff_t>(q * alone.size()),
                                   together.begin() + static_cast<std::ptrdiff_t>((q + 1) * alone.size()));
    EXPECT_EQ(alone, slice) << q;
    EXPECT_EQ(restored, alone) << q;
  }
  const std::string bytes = reckon::read_file(dir + "/m.ckpt");
  testing::write_file(dir, "cut.ckpt", bytes.substr(0, bytes.size() - 100));
  EXPECT_THROW((void)load_any_recommender(ctx, dir + "/cut.ckpt"), Error);
}

TEST(Cnn3d, ContentFeaturesAreTheWordsItemsShare) {
  CatalogContent c;
  c.categories = {"Shoes", "shoes", "Toys|Games", "games"};
  c.texts = {"Acme Runner-2", "acme walker", "Zed Blocks", "shoes"};
  const ItemFeatures f = content_features(c);
  // c:shoes (items 0, 1), c:games (2, 3), t:acme (0, 1); "shoes" in a text is another word than in a category.
  ASSERT_EQ(f.vocabulary, 3);
  EXPECT_EQ(f.offsets, (std::vector<std::int32_t>{0, 2, 4, 5, 6}));
  EXPECT_EQ(f.features[0], f.features[2]);
  EXPECT_NE(f.features[4], f.features[0]);
  EXPECT_EQ(f.features[4], f.features[5]);
  EXPECT_EQ(content_features(c, 3).vocabulary, 0);
}

TEST(Cnn3d, ContentItemsJoinTheCatalogueWithoutClicks) {
  const ClickLog train = chain_sessions(20, 0, 0);
  TrainingSessions t = TrainingSessions::build(train);
  const std::int32_t before = t.catalog.size();
  ItemContent content;
  content.category = {{"i3", "x"}, {"zz", "y"}, {"new", "y"}};
  content.text = {{"new", "a text"}};
  EXPECT_EQ(add_content_items(t, content), 2);
  ASSERT_EQ(t.catalog.size(), before + 2);
  EXPECT_EQ(t.catalog.lookup("new"), before);
  EXPECT_EQ(t.catalog.lookup("zz"), before + 1);
  EXPECT_EQ(t.catalog.counts.back(), 0);
  const CatalogContent c = catalog_content(train, t.catalog, &content);
  EXPECT_EQ(c.texts[static_cast<std::size_t>(before)], "a text");
  EXPECT_EQ(c.categories[static_cast<std::size_t>(t.catalog.lookup("i3"))], "x");
}

// Synthetic shop sessions: items new in the test period were never clicked in training, and only their content
// (category, brand) says which sessions they belong to; the content output layer ranks them, the id vectors alone
// cannot.
TEST(Cnn3d, ContentOutputRecommendsItemsWithoutTrainingClicks) {
  ContentSessionsOptions s;
  s.categories = 4;
  s.brands = 4;
  s.items_per_group = 8;
  s.train_sessions = 1500;
  s.test_sessions = 300;
  s.new_items = 0.2;
  const ContentSessions data = make_content_sessions(s);
  ItemContent content;
  for (std::size_t i = 0; i < data.item_names.size(); ++i) {
    content.category[data.item_names[i]] = data.item_categories[i];
    content.text[data.item_names[i]] = data.item_texts[i];
  }
  TrainingSessions t = TrainingSessions::build(data.train);
  ASSERT_GT(add_content_items(t, content), 0);
  EvalOptions e;
  e.ks = {20};
  double cold[2] = {0, 0};
  for (const bool with_content : {false, true}) {
    Context ctx(Device::cpu());
    Cnn3dOptions o = small();
    o.text_chars = 12;
    o.epochs = 3;
    o.content_output = with_content;
    Cnn3dRecommender model(ctx, o, t, catalog_content(data.train, t.catalog, &content));
    for (int epoch = 1; epoch <= o.epochs; ++epoch) model.train_epoch(epoch);
    const EvalResult r = evaluate(model, data.test, e);
    ASSERT_GT(r.cold.queries, 50);
    EXPECT_EQ(r.unseen_targets, 0);
    cold[with_content ? 1 : 0] = r.cold.at[0].hit_rate;
  }
  EXPECT_GT(cold[1], 0.5);  // 20 of 128 items at random: 0.16
  EXPECT_GT(cold[1], cold[0] + 0.2);
}

// The ablations: one-hot characters keep their rows at the identity through training (the id tokens learn), and
// both settings survive a checkpoint.
TEST(Cnn3d, OneHotCharactersStayOneHotAndAblationsRestore) {
  Context ctx(Device::cpu());
  const ClickLog train = chain_sessions(100, 0, 0);
  const TrainingSessions t = TrainingSessions::build(train);
  Cnn3dOptions o = small();
  o.one_hot_chars = true;
  o.masked_pooling = false;
  Cnn3dRecommender model(ctx, o, t, catalog_content(train, t.catalog));
  model.train_epoch(1);
  const std::int64_t E = model.cnn_options().char_embedding;
  ASSERT_EQ(E, model.alphabet_size());
  const layers::NamedTensor chars = model.state().front();
  ASSERT_EQ(chars.name, "chars.0");
  const auto* table = static_cast<const float*>(chars.view.data);
  for (std::int64_t r = 0; r < E; ++r) {
    for (std::int64_t c = 0; c < E; ++c) ASSERT_EQ(table[r * chars.view.row_stride() + c], r == c ? 1.0f : 0.0f);
  }
  const float* token = table + E * chars.view.row_stride();  // the first item's id token learned
  EXPECT_NE(std::vector<float>(token, token + E), std::vector<float>(static_cast<std::size_t>(E), 0.0f));
  const std::string dir = testing::temp_dir("cnn3d_ablations");
  model.save(dir + "/m.ckpt");
  const auto loaded = Cnn3dRecommender::load(ctx, dir + "/m.ckpt");
  EXPECT_TRUE(loaded->cnn_options().one_hot_chars);
  EXPECT_FALSE(loaded->cnn_options().masked_pooling);
  const std::vector<std::int32_t> prefix{t.catalog.lookup("i3"), t.catalog.lookup("i4")};
  std::vector<float> a(static_cast<std::size_t>(t.catalog.size())), b(a.size());
  model.score(prefix, a);
  loaded->score(prefix, b);
  EXPECT_EQ(a, b);
}

// Chain sessions as above; items i0-i9 are in category "hot", the rest "cold", and a session that starts at a hot
// item ends with a cart event: its queries convert, the others do not.
ClickLog cart_sessions(int count, int seed, double start) {
  ClickLog log;
  ClickLogBuilder builder(log);
  for (int s = 0; s < count; ++s) {
    const int first = (s * 7 + seed) % 30;
    for (int p = 0; p < 4; ++p) {
      const EventKind kind = p == 3 && first < 10 ? EventKind::kCart : EventKind::kClick;
      builder.add(builder.item(name_of('i', (first + p) % 30)), start + 1000.0 * s + p, kind);
    }
    builder.end_session(std::to_string(s));
  }
  log.item_categories.resize(log.item_names.size());
  for (std::size_t i = 0; i < log.item_names.size(); ++i) {
    log.item_categories[i] = std::stoi(log.item_names[i].substr(1)) < 10 ? "hot" : "cold";
  }
  return log;
}

std::vector<float> cart_probabilities(const Cnn3dRecommender& model, const ClickLog& test) {
  std::vector<float> out;
  const ConversionResult r = evaluate_conversion(
      [&](std::span<const std::span<const std::int32_t>> prefixes, float* p) {
        model.cart_probabilities(prefixes, p);
        out.insert(out.end(), p, p + prefixes.size());
      },
      model.training().catalog, test);
  EXPECT_GT(r.auc, 0.9) << "log loss " << r.log_loss;
  return out;
}

TEST(Cnn3d, CartHeadLearnsWhichSessionsConvertAndCheckpointsKeepIt) {
  Context ctx(Device::cpu());
  const ClickLog train = cart_sessions(600, 0, 0), test = cart_sessions(60, 3, 1e7);
  const TrainingSessions t = TrainingSessions::build(train);
  Cnn3dRecommender model(ctx, small(), t, catalog_content(train, t.catalog));
  ASSERT_TRUE(model.has_cart_head());
  double first = 0, last = 0;
  for (int e = 1; e <= small().epochs; ++e) (e == 1 ? first : last) = model.train_epoch(e).cart_loss;
  EXPECT_LT(last, first);
  const std::vector<float> p = cart_probabilities(model, test);
  const std::string dir = testing::temp_dir("cnn3d_cart");
  model.save(dir + "/m.ckpt");
  const auto loaded = Cnn3dRecommender::load(ctx, dir + "/m.ckpt");
  ASSERT_TRUE(loaded->has_cart_head());
  EXPECT_EQ(cart_probabilities(*loaded, test), p);
  // One prefix alone scores as in its batch.
  const std::vector<std::int32_t> prefix{t.catalog.lookup("i4"), t.catalog.lookup("i5")};
  const std::span<const std::int32_t> one(prefix);
  float alone = 0;
  model.cart_probabilities({&one, 1}, &alone);
  EXPECT_GT(alone, 0.5f);
}

TEST(Cnn3d, NoCartHeadWithoutCartsOrWithWeightZero) {
  Context ctx(Device::cpu());
  const ClickLog clicks = chain_sessions(20, 0, 0), carts = cart_sessions(20, 0, 0);
  const TrainingSessions t = TrainingSessions::build(clicks), tc = TrainingSessions::build(carts);
  const Cnn3dRecommender without(ctx, small(), t, catalog_content(clicks, t.catalog));
  EXPECT_FALSE(without.has_cart_head());
  const std::vector<std::int32_t> prefix{0};
  const std::span<const std::int32_t> one(prefix);
  float p = 0;
  EXPECT_THROW(without.cart_probabilities({&one, 1}, &p), Error);
  Cnn3dOptions o = small();
  o.cart_weight = 0;
  EXPECT_FALSE(Cnn3dRecommender(ctx, o, tc, catalog_content(carts, tc.catalog)).has_cart_head());
  o.cart_weight = -1;
  EXPECT_THROW(Cnn3dRecommender(ctx, o, tc, catalog_content(carts, tc.catalog)), Error);
}

TEST(Cnn3d, BadSettingsAreRefused) {
  Context ctx(Device::cpu());
  const ClickLog train = chain_sessions(10, 0, 0);
  const TrainingSessions t = TrainingSessions::build(train);
  const CatalogContent content = catalog_content(train, t.catalog);
  Cnn3dOptions o = small();
  o.clicks = 0;
  EXPECT_THROW(Cnn3dRecommender(ctx, o, t, content), Error);
  o = small();
  o.id_chars = o.category_chars = 1;
  EXPECT_THROW(Cnn3dRecommender(ctx, o, t, content), Error);  // fewer than 4 characters
  CatalogContent short_content = content;
  short_content.texts.pop_back();
  EXPECT_THROW(Cnn3dRecommender(ctx, small(), t, short_content), Error);
}

TEST(Cnn3dCuda, LearnsAPlantedChainFromTheIdsCharacters) {
  RECKON_SKIP_WITHOUT_CUDA();
  expect_learns_chain(Device::cuda(0));
}

// The same initial values, samples and negatives on both devices: after a few steps (with content words in the
// output layer) the scores agree to float rounding carried through the steps.
TEST(Cnn3dCuda, TrainingStepsMatchTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  ClickLog train = chain_sessions(40, 0, 0);
  train.item_categories.resize(train.item_names.size());
  for (std::size_t i = 0; i < train.item_names.size(); ++i) train.item_categories[i] = name_of('c', static_cast<int>(i % 3));
  const TrainingSessions t = TrainingSessions::build(train);
  const CatalogContent content = catalog_content(train, t.catalog);
  std::vector<std::vector<float>> scores;
  for (const Device device : {Device::cpu(), Device::cuda(0)}) {
    Context ctx(device);
    Cnn3dRecommender model(ctx, small(), t, content);
    model.train_epoch(1);
    const std::vector<std::int32_t> prefix{t.catalog.lookup("i3"), t.catalog.lookup("i4")};
    scores.emplace_back(static_cast<std::size_t>(t.catalog.size()));
    model.score(prefix, scores.back());
  }
  for (std::size_t i = 0; i < scores[0].size(); ++i) {
    EXPECT_NEAR(scores[1][i], scores[0][i], 1e-3f + 1e-3f * std::abs(scores[0][i])) << i;
  }
}

// The add-to-cart head's probabilities after the same steps on both devices.
TEST(Cnn3dCuda, CartHeadMatchesTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  const ClickLog train = cart_sessions(60, 0, 0);
  const TrainingSessions t = TrainingSessions::build(train);
  const CatalogContent content = catalog_content(train, t.catalog);
  std::vector<float> p;
  for (const Device device : {Device::cpu(), Device::cuda(0)}) {
    Context ctx(device);
    Cnn3dRecommender model(ctx, small(), t, content);
    model.train_epoch(1);
    const std::vector<std::int32_t> a{t.catalog.lookup("i3"), t.catalog.lookup("i4")}, b{t.catalog.lookup("i20")};
    const std::span<const std::int32_t> prefixes[] = {a, b};
    p.resize(p.size() + 2);
    model.cart_probabilities(prefixes, p.data() + p.size() - 2);
  }
  EXPECT_NEAR(p[2], p[0], 1e-4f);
  EXPECT_NEAR(p[3], p[1], 1e-4f);
}

}  // namespace
}  // namespace reckon::session
