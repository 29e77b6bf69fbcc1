// The synthetic shop sessions of the session demo: reproducible from the seed, new items only in the test period,
// next clicks that follow the items' content as the options say, and files the readers take back.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "reckon/models/session/content.h"
#include "reckon/models/session/synthetic.h"
#include "reckon/runtime/error.h"
#include "testing.h"

namespace reckon::session {
namespace {

bool is_conversion_kind(EventKind k) { return k != EventKind::kClick; }

std::map<std::string, std::size_t> catalogue_index(const ContentSessions& s) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < s.item_names.size(); ++i) index[s.item_names[i]] = i;
  return index;
}

TEST(ContentSessions, SameSeedSameSessionsOtherSeedOthers) {
  ContentSessionsOptions o;
  o.train_sessions = 300;
  o.test_sessions = 50;
  const ContentSessions a = make_content_sessions(o), b = make_content_sessions(o);
  EXPECT_EQ(a.train.items, b.train.items);
  EXPECT_EQ(a.item_names, b.item_names);
  EXPECT_EQ(a.item_texts, b.item_texts);
  o.seed = 2;
  EXPECT_NE(make_content_sessions(o).item_names, a.item_names);
}

TEST(ContentSessions, NewItemsOnlyInTheTestPeriod) {
  ContentSessionsOptions o;
  o.train_sessions = 2000;
  o.test_sessions = 500;
  const ContentSessions s = make_content_sessions(o);
  const auto index = catalogue_index(s);
  for (const std::string& name : s.train.item_names) EXPECT_FALSE(s.item_new[index.at(name)]) << name;
  std::int64_t new_clicks = 0;
  for (const std::int32_t item : s.test.items) new_clicks += s.item_new[index.at(s.test.item_names[static_cast<std::size_t>(item)])];
  EXPECT_GT(new_clicks, 0);
  EXPECT_GE(s.test.start_time(0), s.train.end_time(s.train.sessions() - 1));
}

// Carts come from a stream of their own: the clicks do not change with cart_rate; with cart_rate 0 there are none,
// and otherwise a session converts (a cart on its last click) at its first click's brand's rate: some brands far
// above the mean, some far below.
TEST(ContentSessions, CartsFollowTheFirstClicksBrandAndLeaveTheClicksAlone) {
  ContentSessionsOptions o;
  o.train_sessions = 4000;
  o.test_sessions = 100;
  o.cart_rate = 0;
  const ContentSessions none = make_content_sessions(o);
  o.cart_rate = 0.25;
  const ContentSessions s = make_content_sessions(o);
  EXPECT_EQ(none.train.items, s.train.items);
  EXPECT_EQ(none.test.items, s.test.items);
  EXPECT_TRUE(std::none_of(none.train.kinds.begin(), none.train.kinds.end(), is_conversion_kind));
  const auto index = catalogue_index(s);
  std::map<std::int32_t, std::pair<double, double>> by_group;  // sessions, converting ones
  for (std::int64_t k = 0; k < s.train.sessions(); ++k) {
    for (std::int64_t i = s.train.begin(k); i + 1 < s.train.end(k); ++i) EXPECT_FALSE(is_conversion_kind(s.train.kinds[static_cast<std::size_t>(i)]));
    const std::size_t first = index.at(s.train.item_names[static_cast<std::size_t>(s.train.items[static_cast<std::size_t>(s.train.begin(k))])]);
    auto& [sessions, converting] = by_group[s.item_group[first]];
    sessions += 1;
    converting += is_conversion_kind(s.train.kinds[static_cast<std::size_t>(s.train.end(k) - 1)]) ? 1 : 0;
  }
  double total = 0, total_converting = 0, highest = 0, lowest = 1;
  for (const auto& [group, counts] : by_group) {
    total += counts.first;
    total_converting += counts.second;
    if (counts.first < 40) continue;
    highest = std::max(highest, counts.second / counts.first);
    lowest = std::min(lowest, counts.second / counts.first);
  }
  EXPECT_NEAR(total_converting / total, 0.25, 0.1);
  EXPECT_GT(highest, 0.45);
  EXPECT_LT(lowest, 0.08);
}

// Consecutive clicks share the group with probability same_group plus the chance of a popularity draw landing in
// it; a group's items share their category and their text's first word (the brand); ids say nothing about groups.
TEST(ContentSessions, NextClicksFollowTheContent) {
  ContentSessionsOptions o;
  o.train_sessions = 4000;
  o.test_sessions = 10;
  const ContentSessions s = make_content_sessions(o);
  const auto index = catalogue_index(s);
  std::int64_t pairs = 0, same_group = 0, same_category = 0;
  for (std::int64_t k = 0; k < s.train.sessions(); ++k) {
    for (std::int64_t i = s.train.begin(k) + 1; i < s.train.end(k); ++i) {
      const auto at = [&](std::int64_t c) { return index.at(s.train.item_names[static_cast<std::size_t>(s.train.items[static_cast<std::size_t>(c)])]); };
      const std::size_t a = at(i - 1), b = at(i);
      ++pairs;
      same_group += s.item_group[a] == s.item_group[b];
      same_category += s.item_categories[a] == s.item_categories[b];
      EXPECT_NE(a, b);
    }
  }
  const double group_share = static_cast<double>(same_group) / static_cast<double>(pairs);
  const double category_share = static_cast<double>(same_category) / static_cast<double>(pairs);
  EXPECT_GT(group_share, o.same_group);
  EXPECT_LT(group_share, o.same_group + 0.05);
  EXPECT_GT(category_share, o.same_group + o.same_category);
  std::map<std::int32_t, std::set<std::string>> brands;
  for (std::size_t i = 0; i < s.item_names.size(); ++i) {
    brands[s.item_group[i]].insert(s.item_texts[i].substr(0, s.item_texts[i].find(' ')));
  }
  for (const auto& [group, names] : brands) EXPECT_EQ(names.size(), 1u) << group;
}

TEST(ContentSessions, FilesReadBack) {
  ContentSessionsOptions o;
  o.train_sessions = 200;
  o.test_sessions = 40;
  const ContentSessions s = make_content_sessions(o);
  const ContentSessionFiles files = write_content_sessions(s, testing::temp_dir("session_synthetic_files"));
  const ClickLog train = read_clicks(files.train, {});
  EXPECT_EQ(train.sessions(), 200);
  EXPECT_EQ(train.clicks(), s.train.clicks());
  ItemContent content;
  read_item_content(files.items, ContentFormat::kItemsTsv, BadRows::kFail, content);
  EXPECT_EQ(content.text.size(), s.item_names.size());
  EXPECT_EQ(content.category.at(s.item_names[5]), s.item_categories[5]);
}

TEST(ContentSessions, BadOptionsAreRefused) {
  for (const auto& change : std::vector<void (*)(ContentSessionsOptions&)>{
           [](ContentSessionsOptions& o) { o.categories = 0; }, [](ContentSessionsOptions& o) { o.categories = 99; },
           [](ContentSessionsOptions& o) { o.items_per_group = 1; }, [](ContentSessionsOptions& o) { o.mean_length = 1; },
           [](ContentSessionsOptions& o) { o.same_group = 0.9; }, [](ContentSessionsOptions& o) { o.new_items = 1; },
           [](ContentSessionsOptions& o) { o.test_sessions = 0; }}) {
    ContentSessionsOptions o;
    change(o);
    EXPECT_THROW(make_content_sessions(o), Error);
  }
}

}  // namespace
}  // namespace reckon::session
