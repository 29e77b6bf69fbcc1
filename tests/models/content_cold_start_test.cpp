// The cold-start protocol on a small synthetic world: the label oracle and the CNN's vectors rank the cold songs a
// user plays far above random, and the CNN comes close to the oracle.
#include <gtest/gtest.h>

#include <map>

#include "reckon/models/content/cold_start.h"
#include "reckon/runtime/error.h"

namespace reckon::content {
namespace {

TEST(ColdStart, TheCnnsVectorsRecommendSongsNobodyPlayed) {
  Context ctx(Device::cpu());
  ColdStartOptions o;
  o.songs = {4, 25, 3.0, 22050, 1};
  o.users = 150;
  o.k = 5;
  AudioCnnOptions cnn;
  cnn.epochs = 15;
  cnn.filters = 8;
  cnn.hidden = 64;
  cnn.batch = 16;
  cnn.learning_rate = 0.003f;
  const ColdStartResult r = run_cold_start(ctx, o, cnn);
  ASSERT_EQ(r.cold_songs, 20);
  ASSERT_GT(r.test_pairs, 100);
  std::map<std::string, ColdStartRow> by;
  for (const auto& row : r.rows) by[row.method] = row;
  ASSERT_EQ(by.size(), 5u);
  EXPECT_GT(r.cold_genre_accuracy, 0.75);
  EXPECT_GT(by["label oracle"].hit_rate, by["random"].hit_rate + 0.2);
  EXPECT_GT(by["CNN vector"].hit_rate, by["random"].hit_rate + 0.15);
  EXPECT_GT(by["CNN vector"].hit_rate, 0.7 * by["label oracle"].hit_rate);
  EXPECT_GT(by["CNN genre"].hit_rate, 0.7 * by["label oracle"].hit_rate);
  o.cold_every = 1;
  EXPECT_THROW((void)run_cold_start(ctx, o, cnn), Error);
}

}  // namespace
}  // namespace reckon::content
