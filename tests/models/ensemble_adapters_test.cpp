// The ensemble's adapters beyond the session models: a CTR model scoring the catalogue from the request's features
// and an item table (planted user tastes), and item vectors (item2vec's, the content CNN's) from a word2vec file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/ctr/trainer.h"
#include "reckon/models/ensemble/config.h"
#include "reckon/models/ensemble/ctr_component.h"
#include "reckon/models/ensemble/ensemble.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"
#include "testing.h"

namespace reckon::ensemble {
namespace {

constexpr int kGenres = 3, kItems = 30, kUsers = 30;

std::string numbered(const char* prefix, int i) {
  std::string s(prefix);
  s.append(std::to_string(i));
  return s;
}

// User u likes genre u % 3 (clicks 80% of its items shown, 10% of the others'); item i is of genre i % 3.
std::string planted_clicks(int rows) {
  std::ostringstream text;
  text << "user\titem\tgenre\tclick\n";
  PhiloxStream draws(7, 0);
  for (int r = 0; r < rows; ++r) {
    const int u = static_cast<int>(draws.next_uniform() * kUsers) % kUsers, i = static_cast<int>(draws.next_uniform() * kItems) % kItems;
    const bool click = draws.next_uniform() < (i % kGenres == u % kGenres ? 0.8f : 0.1f);
    text << 'u' << u << "\ti" << i << "\tg" << i % kGenres << '\t' << (click ? 1 : 0) << '\n';
  }
  return text.str();
}

std::shared_ptr<ctr::LoadedModel> trained_fm(const std::string& dir) {
  const std::string schema = testing::write_file(dir, "schema.txt", "delimiter = tab\nheader = true\nlabel = click\ncategorical = user, item\nmulti = genre:|\n");
  const std::string data = testing::write_file(dir, "clicks.tsv", planted_clicks(12000));
  const ctr::ReadOptions read = ctr::read_options("schema:" + schema);
  const ctr::Vocabulary vocabulary = ctr::build_vocabulary(data, read, 1);
  const ctr::CtrDataset rows = ctr::read_dataset(data, vocabulary, read);
  Context ctx(Device::cpu());
  ctr::CtrModelConfig config;
  config.kind = ctr::CtrModelKind::kFm;
  config.embed_dim = 8;
  config.sparse_learning_rate = 0.02f;
  config.field_widths = vocabulary.field_widths();
  ctr::CtrModel model(ctx, config, vocabulary.field_rows());
  ctr::TrainOptions t;
  t.epochs = 8;
  t.batch_size = 256;
  (void)ctr::train(model, rows, ctr::CtrDataset{}, t);
  ctr::save_checkpoint(dir + "/fm.ckpt", model, vocabulary);
  static Context serving(Device::cpu());
  return std::make_shared<ctr::LoadedModel>(ctr::load_checkpoint(dir + "/fm.ckpt", serving));
}

session::Catalog adapter_catalog() {
  std::vector<std::string> names;
  for (int i = 0; i < kItems; ++i) names.push_back(numbered("i", i));
  names.push_back("new1");     // no clicks, genre g1 from the item table
  names.push_back("unknown");  // neither clicked nor in the table
  return session::Catalog::from_names(names, std::vector<std::int64_t>(names.size(), 1));
}

TEST(CtrComponent, RanksTheRequestUsersGenreFirstAndScoresNewItemsByTheirAttributes) {
  const std::string dir = testing::temp_dir("ensemble_ctr");
  std::ostringstream table;
  table << "item\tgenre\n";
  for (int i = 0; i < kItems; ++i) table << 'i' << i << "\tg" << i % kGenres << '\n';
  table << "new1\tg1\n";
  const session::Catalog catalog = adapter_catalog();
  CtrComponent fm("fm", trained_fm(dir), "item", read_item_table(testing::write_file(dir, "items.tsv", table.str())), catalog);
  EXPECT_EQ(fm.features(), std::vector<std::string>{"user"});
  EXPECT_EQ(fm.candidates(), kItems + 1);
  std::vector<float> scores(static_cast<std::size_t>(catalog.size()));
  for (int u = 0; u < 6; ++u) {
    const Features features{{"user", numbered("u", u)}};
    fm.score({{}, &features}, scores);
    EXPECT_EQ(scores.back(), -INFINITY);  // "unknown"
    std::vector<int> order(kItems);
    for (int i = 0; i < kItems; ++i) order[static_cast<std::size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)]; });
    int liked = 0;
    for (int r = 0; r < kItems / kGenres; ++r) liked += order[static_cast<std::size_t>(r)] % kGenres == u % kGenres;
    EXPECT_GE(liked, 9) << "user u" << u;
    const float fresh = scores[kItems];  // "new1": ranked by its genre alone
    const float other = scores[static_cast<std::size_t>(order.back())];
    if (u % kGenres == 1) {
      EXPECT_GT(fresh, other) << "user u" << u;
    }
  }
  // Features the CTR model reads pass through the ensemble; one nobody reads is refused.
  std::vector<std::unique_ptr<Component>> components;
  components.push_back(std::make_unique<CtrComponent>("fm", trained_fm(dir), "item", ItemTable{}, catalog));
  Ensemble e(std::move(components), Blend::equal(1, 20), catalog.size(), EnsembleOptions{});
  const Response r = e.recommend({{3}, 5, {{"user", "u2"}}});
  ASSERT_EQ(r.answered, 1) << r.components[0].message;
  for (const ScoredItem& s : r.items) EXPECT_EQ(s.item % kGenres, 2) << s.item;
  EXPECT_EQ(e.recommend({{3}, 5}).answered, 1);  // no features: the user is the missing id
  EXPECT_THROW((void)e.recommend({{3}, 5, {{"colour", "red"}}}), Error);
}

TEST(CtrComponent, RefusesWhatItCannotUse) {
  const std::string dir = testing::temp_dir("ensemble_ctr_bad");
  const auto model = trained_fm(dir);
  const session::Catalog catalog = adapter_catalog();
  EXPECT_THROW(CtrComponent("fm", model, "movie", ItemTable{}, catalog), Error);  // no such field
  ItemTable wrong;
  wrong.columns = {"year"};
  EXPECT_THROW(CtrComponent("fm", model, "item", wrong, catalog), Error);
  try {
    (void)read_item_table(testing::write_file(dir, "bad.tsv", "item\tgenre\ni1\tg1\ni2\n"));
    ADD_FAILURE() << "a short row was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kDataError);
    EXPECT_NE(e.message().find("bad.tsv:3"), std::string::npos) << e.message();
  }
  EXPECT_THROW((void)read_item_table(testing::write_file(dir, "twice.tsv", "item\tgenre\ni1\tg1\ni1\tg2\n")), Error);
  EXPECT_THROW((void)read_item_table(dir + "/absent.tsv"), Error);
}

// A config with the three kinds: a session model, item vectors in word2vec's format and a CTR model with its item
// table; the catalogue is the first two's union, and the request's user reaches the CTR model.
TEST(EnsembleConfig, LoadsSessionVectorAndCtrComponents) {
  const std::string dir = testing::temp_dir("ensemble_kinds");
  (void)trained_fm(dir);  // dir/fm.ckpt
  session::ClickLog log;
  session::ClickLogBuilder builder(log);
  for (int s = 0; s < 20; ++s) {
    for (int c = 0; c < 3; ++c) builder.add(builder.item(numbered("i", (s + c * kGenres) % kItems)), s * 10.0 + c);
    builder.end_session(numbered("s", s));
  }
  session::RecommenderOptions o;
  o.kind = session::ModelKind::kPop;
  session::save_recommender(*session::make_recommender(o, session::TrainingSessions::build(log)), dir + "/pop.ckpt");
  item2vec::KeyedVectors vectors;
  vectors.dim = 2;
  for (int i = 0; i < kItems; ++i) {
    vectors.tokens.push_back(numbered("i", i));
    vectors.vectors.insert(vectors.vectors.end(), {std::cos(static_cast<float>(i % kGenres)), std::sin(static_cast<float>(i % kGenres))});
  }
  item2vec::save_word2vec(vectors, dir + "/items.vec", false);
  (void)testing::write_file(dir, "items.tsv", "item\tgenre\ni4\tg1\n");
  EnsembleConfig config;
  config.components = {{"pop", "pop.ckpt"}, {"genre", "items.vec", ComponentKind::kVectors}, {"fm", "fm.ckpt", ComponentKind::kCtr}};
  config.components[2].item_field = "item";
  config.components[2].items = "items.tsv";
  config.blend = Blend::equal(3, 20);
  config.blend.weights[0] = 0.1;  // popularity breaks ties only
  write_config(config, dir + "/ensemble.json");
  const EnsembleConfig back = read_config(dir + "/ensemble.json");
  ASSERT_EQ(back.components.size(), 3u);
  EXPECT_EQ(back.components[1].kind, ComponentKind::kVectors);
  EXPECT_EQ(back.components[2].item_field, "item");
  EXPECT_EQ(back.components[2].items, "items.tsv");
  LoadedEnsemble e = load_ensemble(dir + "/ensemble.json", Device::cpu(), {});
  EXPECT_EQ(e.catalog.size(), kItems);
  EXPECT_EQ(e.models[2], nullptr);
  EXPECT_EQ(e.ensemble->features(), std::vector<std::string>{"user"});
  const Response r = e.ensemble->recommend({{e.catalog.lookup("i1")}, 10, {{"user", "u1"}}});
  EXPECT_EQ(r.answered, 3);
  for (const ComponentReport& c : r.components) EXPECT_EQ(c.outcome, Outcome::kAnswered) << c.name << ": " << c.message;
  // Genre 1 is the session's (vectors) and the user's (CTR): the blend's top 5 are all of it.
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string& name = e.catalog.names[static_cast<std::size_t>(r.items[i].item)];
    EXPECT_EQ(std::stoi(name.substr(1)) % kGenres, 1) << name;
  }
  config.components[2].item_field = "";
  nlohmann::json j = to_json(config);
  j["components"][2].erase("item_field");
  EXPECT_THROW((void)config_from_json(j), Error);
  j["components"][2]["kind"] = "recurrent";
  EXPECT_THROW((void)config_from_json(j), Error);
}

}  // namespace
}  // namespace reckon::ensemble
