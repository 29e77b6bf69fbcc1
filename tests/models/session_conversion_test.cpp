// The add-to-cart task: labels from the sessions' cart and buy events, the area under the ROC curve against values
// worked by hand, the last-click baseline's shrunk rates, and the evaluation's refusal of a log without carts.
#include <gtest/gtest.h>

#include <cmath>

#include "reckon/models/session/conversion.h"
#include "reckon/runtime/error.h"

namespace reckon::session {
namespace {

// Sessions: a b c (cart on b), a d (no cart), c a b (cart on a, buy on b).
ClickLog shop_log() {
  ClickLog log;
  ClickLogBuilder builder(log);
  const auto add = [&](const char* item, double time, EventKind kind) { builder.add(builder.item(item), time, kind); };
  add("a", 1, EventKind::kClick);
  add("b", 2, EventKind::kCart);
  add("c", 3, EventKind::kClick);
  builder.end_session("s1");
  add("a", 10, EventKind::kClick);
  add("d", 11, EventKind::kClick);
  builder.end_session("s2");
  add("c", 20, EventKind::kClick);
  add("a", 21, EventKind::kCart);
  add("b", 22, EventKind::kBuy);
  builder.end_session("s3");
  return log;
}

TEST(Conversion, LabelsSayWhetherACartComesAtOrAfterThePosition) {
  const ClickLog log = shop_log();
  EXPECT_EQ(last_conversions(log), (std::vector<std::int64_t>{1, -1, 2}));
  const TrainingSessions t = TrainingSessions::build(log);
  ASSERT_TRUE(t.has_conversions());
  ASSERT_EQ(t.kinds.size(), t.items.size());
  // Sessions in order of their last click: s1, s2, s3.
  EXPECT_TRUE(t.converts_from(0, 1));
  EXPECT_FALSE(t.converts_from(0, 2));
  EXPECT_FALSE(t.converts_from(1, 1));
  EXPECT_TRUE(t.converts_from(2, 2));
  ClickLog clicks_only = log;
  for (EventKind& k : clicks_only.kinds) k = EventKind::kClick;
  EXPECT_FALSE(TrainingSessions::build(clicks_only).has_conversions());
}

TEST(Conversion, AreaUnderTheCurveCountsOrderedPairsAndTiesHalf) {
  const std::vector<float> scores{0.1f, 0.4f, 0.35f, 0.8f};
  const std::vector<std::uint8_t> labels{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(roc_auc(scores, labels), 0.75);  // 3 of the 4 positive-negative pairs ordered
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>(4, 0.5f), labels), 0.5);
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.2f, 0.2f, 0.2f, 0.9f}, labels), 0.75);  // 2 ordered pairs, 2 ties
  EXPECT_DOUBLE_EQ(roc_auc(scores, std::vector<std::uint8_t>(4, 1)), 0.5);
  EXPECT_THROW((void)roc_auc(scores, std::vector<std::uint8_t>(3, 0)), Error);
  EXPECT_THROW((void)roc_auc(std::vector<float>{0.1f, std::nanf(""), 0.2f, 0.3f}, labels), Error);
}

TEST(Conversion, LastClickRatesShrinkTowardsTheOverallRate) {
  const TrainingSessions t = TrainingSessions::build(shop_log());
  // Queries (last click -> label): s1: a -> 1, b -> 0; s2: a -> 0; s3: c -> 1, a -> 1. Overall 3 / 5.
  const LastClickConversion baseline(t, 1.0);
  EXPECT_DOUBLE_EQ(baseline.overall_rate(), 0.6);
  const std::int32_t a = t.catalog.lookup("a"), b = t.catalog.lookup("b"), d = t.catalog.lookup("d");
  const std::vector<std::int32_t> ends_a{b, a}, ends_b{b}, unknown{-1}, ends_d_unknown{d, -1}, ends_a_d{a, d};
  const std::span<const std::int32_t> prefixes[] = {ends_a, ends_b, unknown, ends_d_unknown, ends_a_d};
  float p[5];
  baseline.probabilities(prefixes, p);
  EXPECT_NEAR(p[0], (2 + 0.6) / (3 + 1), 1e-6);  // a: 2 of 3 converting
  EXPECT_NEAR(p[1], (0 + 0.6) / (1 + 1), 1e-6);
  EXPECT_NEAR(p[2], 0.6, 1e-6);                  // nothing known: the overall rate
  EXPECT_NEAR(p[3], 0.6, 1e-6);                  // d never ended a query: passed over
  EXPECT_NEAR(p[4], p[0], 1e-6);                 // ... for the click before
}

TEST(Conversion, EvaluationScoresEveryQueryAndRefusesALogWithoutCarts) {
  const ClickLog test = shop_log();
  const TrainingSessions t = TrainingSessions::build(test);
  // A model that knows the answer for this log's five queries (s1's first, s3's two convert): 0.9 for those.
  const std::int32_t c = t.catalog.lookup("c");
  const ConversionModel oracle = [&](std::span<const std::span<const std::int32_t>> prefixes, float* out) {
    for (std::size_t q = 0; q < prefixes.size(); ++q) {
      const auto& p = prefixes[q];
      const bool s1 = p.size() == 1 && p[0] == t.catalog.lookup("a") && q == 0;
      out[q] = s1 || p[0] == c ? 0.9f : 0.1f;
    }
  };
  const ConversionResult r = evaluate_conversion(oracle, t.catalog, test);
  EXPECT_EQ(r.queries, 5);
  EXPECT_EQ(r.positives, 3);
  EXPECT_DOUBLE_EQ(r.auc, 1.0);
  EXPECT_NEAR(r.log_loss, -std::log(0.9), 1e-6);
  ClickLog clicks_only = test;
  for (EventKind& k : clicks_only.kinds) k = EventKind::kClick;
  EXPECT_THROW((void)evaluate_conversion(oracle, t.catalog, clicks_only), Error);
  const ConversionModel broken = [](std::span<const std::span<const std::int32_t>> prefixes, float* out) {
    for (std::size_t q = 0; q < prefixes.size(); ++q) out[q] = std::nanf("");
  };
  EXPECT_THROW((void)evaluate_conversion(broken, t.catalog, test), Error);
}

}  // namespace
}  // namespace reckon::session
