// GRU4Rec, with either loss: learns a planted next-click rule, its loss falls, batched scoring is per-prefix scoring, checkpoints
// restore it exactly, bad settings are refused; on a GPU it learns the same rule.
#include <gtest/gtest.h>

#include "reckon/models/session/evaluate.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::session {
namespace {

// Sessions walk a chain i -> i + 1 (mod 30), starting anywhere: the next click follows from the last one.
ClickLog chain_sessions(int count, int seed, double start) {
  ClickLog log;
  ClickLogBuilder builder(log);
  for (int s = 0; s < count; ++s) {
    int item = (s * 7 + seed) % 30;
    for (int p = 0; p < 5; ++p, item = (item + 1) % 30) {
      builder.add(builder.item(std::string(1, 'i').append(std::to_string(item))), start + 1000.0 * s + p);
    }
    builder.end_session(std::to_string(s));
  }
  return log;
}

Gru4RecOptions small(ItemLoss loss = ItemLoss::kCrossEntropy) {
  Gru4RecOptions o;
  o.hidden = 32;
  o.batch = 16;
  o.learning_rate = 0.01f;
  o.dropout = 0.0f;
  o.output.loss = loss;
  o.output.samples = 8;  // with the 16 in-batch targets, about half the 30-item catalogue per step
  return o;
}

double hit_rate_at_1(const SessionRecommender& model, const ClickLog& test) {
  EvalOptions e;
  e.ks = {1};
  return evaluate(model, test, e).all.at[0].hit_rate;
}

void expect_learns(Device device, ItemLoss loss) {
  Context ctx(device);
  const ClickLog train = chain_sessions(600, 0, 0), test = chain_sessions(60, 3, 1e7);
  Gru4Rec model(ctx, small(loss), TrainingSessions::build(train));
  double first_loss = 0, last_loss = 0;
  for (int e = 1; e <= 6; ++e) {
    const EpochStats r = model.train_epoch(e);
    (e == 1 ? first_loss : last_loss) = r.loss;
    EXPECT_GT(r.clicks_per_second, 0.0);
  }
  EXPECT_LT(last_loss, first_loss * 0.5);
  EXPECT_GT(hit_rate_at_1(model, test), 0.9);  // POP gets 1 in 30
}

// fit(): without validation every epoch trains; with it, the kept state is the best epoch's (its validation HR
// reproduced exactly afterwards) and training stops `patience` epochs after it.
TEST(Gru4Rec, FitKeepsTheBestValidationEpoch) {
  Context ctx(Device::cpu());
  const ClickLog train = chain_sessions(300, 0, 0), valid = chain_sessions(40, 3, 1e7);
  Gru4RecOptions o = small();
  o.learning_rate = 0.05f;  // a rate high enough that later epochs may do worse
  FitOptions f;
  f.epochs = 3;
  Gru4Rec plain(ctx, o, TrainingSessions::build(train));
  const FitResult all = fit(plain, f);
  EXPECT_EQ(all.epochs.size(), 3u);
  EXPECT_EQ(all.best_epoch, 3);
  EXPECT_EQ(all.epochs[0].validation_hr, -1);
  Gru4Rec model(ctx, o, TrainingSessions::build(train));
  f.epochs = 8;
  f.patience = 1;
  f.k = 1;
  f.validation = &valid;
  int seen = 0;
  const FitResult r = fit(model, f, {}, [&](const FitEpoch&) { ++seen; });
  ASSERT_GE(r.best_epoch, 1);
  EXPECT_EQ(seen, static_cast<int>(r.epochs.size()));
  double best = -1;
  for (const FitEpoch& e : r.epochs) best = std::max(best, e.validation_hr);
  EXPECT_EQ(r.epochs[static_cast<std::size_t>(r.best_epoch - 1)].validation_hr, best);
  if (static_cast<int>(r.epochs.size()) < f.epochs) {
    EXPECT_EQ(static_cast<int>(r.epochs.size()), r.best_epoch + f.patience);
  }
  EXPECT_EQ(hit_rate_at_1(model, valid), best);
  f.patience = 0;
  EXPECT_THROW(fit(model, f), Error);
}

TEST(Gru4Rec, LearnsAPlantedChain) { expect_learns(Device::cpu(), ItemLoss::kCrossEntropy); }
TEST(Gru4Rec, LearnsAPlantedChainWithBprMax) { expect_learns(Device::cpu(), ItemLoss::kBprMax); }

TEST(Gru4Rec, BatchedScoringIsPerPrefixScoring) {
  Context ctx(Device::cpu());
  Gru4Rec model(ctx, small(), TrainingSessions::build(chain_sessions(100, 0, 0)));
  model.train_epoch(1);
  const Catalog& c = model.training().catalog;
  const std::vector<std::int32_t> a{c.lookup("i3"), c.lookup("i4"), c.lookup("i5")}, b{c.lookup("i9")},
      d{-1, c.lookup("i1"), c.lookup("i2")};
  const std::span<const std::int32_t> prefixes[] = {b, a, d};
  std::vector<float> together(static_cast<std::size_t>(3 * c.size()));
  model.score_batch(prefixes, together.data(), 1);
  for (std::size_t q = 0; q < 3; ++q) {
    std::vector<float> alone(static_cast<std::size_t>(c.size()));
    model.score(prefixes[q], alone);
    EXPECT_EQ(alone, std::vector<float>(together.begin() + static_cast<std::ptrdiff_t>(q * alone.size()),
                                        together.begin() + static_cast<std::ptrdiff_t>((q + 1) * alone.size())))
        << q;
  }
}

void expect_checkpoint_restores(ItemLoss loss, const std::string& dir_name) {
  Context ctx(Device::cpu());
  Gru4RecOptions o = small(loss);
  o.embedding = 8;  // the embedding variant's extra layer is saved too
  Gru4Rec model(ctx, o, TrainingSessions::build(chain_sessions(100, 0, 0)));
  model.train_epoch(1);
  const std::string dir = testing::temp_dir(dir_name);
  model.save(dir + "/g.ckpt");
  const auto loaded = load_any_recommender(ctx, dir + "/g.ckpt");
  EXPECT_EQ(loaded->name(), "gru4rec");
  const std::vector<std::int32_t> prefix{2, 5, 7};
  std::vector<float> want(static_cast<std::size_t>(model.training().catalog.size())), got(want.size());
  model.score(prefix, want);
  loaded->score(prefix, got);
  EXPECT_EQ(got, want);
  const std::string bytes = reckon::read_file(dir + "/g.ckpt");
  testing::write_file(dir, "cut.ckpt", bytes.substr(0, bytes.size() - 100));
  EXPECT_THROW((void)load_any_recommender(ctx, dir + "/cut.ckpt"), Error);
}

TEST(Gru4Rec, CheckpointsRestoreTheModel) { expect_checkpoint_restores(ItemLoss::kCrossEntropy, "gru4rec_ce"); }
TEST(Gru4Rec, CheckpointsRestoreTheBprMaxModel) { expect_checkpoint_restores(ItemLoss::kBprMax, "gru4rec_bpr"); }

TEST(Gru4Rec, BprMaxScoringAfterTrainingSeesTheNewWeights) {
  Context ctx(Device::cpu());
  Gru4Rec model(ctx, small(ItemLoss::kBprMax), TrainingSessions::build(chain_sessions(100, 0, 0)));
  const std::vector<std::int32_t> prefix{2, 5};
  std::vector<float> before(static_cast<std::size_t>(model.training().catalog.size())), after(before.size());
  model.score(prefix, before);
  model.train_epoch(1);
  model.score(prefix, after);
  EXPECT_NE(before, after);
}

TEST(Gru4Rec, BadSettingsAreRefused) {
  Context ctx(Device::cpu());
  const TrainingSessions t = TrainingSessions::build(chain_sessions(10, 0, 0));
  Gru4RecOptions o = small();
  o.hidden = 0;
  EXPECT_THROW(Gru4Rec(ctx, o, t), Error);
  o = small();
  o.dropout = 1.0f;
  EXPECT_THROW(Gru4Rec(ctx, o, t), Error);
  o = small(ItemLoss::kBprMax);
  o.output.samples = -1;
  EXPECT_THROW(Gru4Rec(ctx, o, t), Error);
  EXPECT_THROW((void)parse_item_loss("bpr"), Error);
}

TEST(Gru4RecCuda, LearnsAPlantedChain) {
  RECKON_SKIP_WITHOUT_CUDA();
  expect_learns(Device::cuda(0), ItemLoss::kCrossEntropy);
  expect_learns(Device::cuda(0), ItemLoss::kBprMax);
}

}  // namespace
}  // namespace reckon::session
