// Session click logs: every reader on small files with known contents, malformed rows, and the preprocessing's
// steps and time split on a log whose right answer is known.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reckon/models/session/clicks.h"
#include "reckon/models/session/content.h"
#include "reckon/models/session/prepare.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::session {
namespace {

// Session s's items by name.
std::vector<std::string> items_of(const ClickLog& log, std::int64_t s) {
  std::vector<std::string> out;
  for (std::int64_t i = log.begin(s); i < log.end(s); ++i) {
    out.push_back(log.item_names[static_cast<std::size_t>(log.items[static_cast<std::size_t>(i)])]);
  }
  return out;
}

// `text` written to a fresh file and read; the file's path in `path` when asked.
ClickLog read(const std::string& text, ClickFormat format, std::string* path = nullptr) {
  ClickReadOptions o;
  o.format = format;
  // A directory per test: ctest runs the tests of this file in parallel processes.
  static int calls = 0;
  const std::string dir = testing::temp_dir(std::string("session_data_") +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                                            std::to_string(++calls));
  const std::string file = testing::write_file(dir, "log.txt", text);
  if (path != nullptr) *path = file;
  return read_clicks(file, o);
}

TEST(SessionClicks, SessionsTsvInTimeOrder) {
  const ClickLog log = read("SessionId\tItemId\tTime\n7\ta\t30\n9\tb\t5\n7\tc\t10\n7\td\t10\n", ClickFormat::kSessionsTsv);
  ASSERT_EQ(log.sessions(), 2);
  EXPECT_EQ(log.session_names, (std::vector<std::string>{"7", "9"}));
  EXPECT_EQ(items_of(log, 0), (std::vector<std::string>{"c", "d", "a"}));  // equal times keep file order
  EXPECT_DOUBLE_EQ(log.start_time(0), 10.0);
  EXPECT_DOUBLE_EQ(log.end_time(0), 30.0);
}

TEST(SessionClicks, YoochooseIsoTimesAndCategories) {
  const ClickLog log = read("1,2014-04-07T10:54:09.868Z,214536500,0\n1,2014-04-07T10:51:09.277Z,214536502,S\n",
                            ClickFormat::kYoochoose);
  ASSERT_EQ(log.sessions(), 1);
  EXPECT_EQ(items_of(log, 0), (std::vector<std::string>{"214536502", "214536500"}));
  // 2014-04-07 is day 16167 after the epoch.
  EXPECT_DOUBLE_EQ(log.start_time(0), 16167.0 * 86400.0 + 10 * 3600 + 51 * 60 + 9.277);
  EXPECT_EQ(log.item_categories[1], "S");
  const ClickLog buys = read("1,2014-04-07T10:54:09.868Z,214536500,1046,2\n", ClickFormat::kYoochooseBuys);
  EXPECT_EQ(buys.kinds[0], EventKind::kBuy);
}

TEST(SessionClicks, DigineticaOrdersByTimeframe) {
  const ClickLog log = read("sessionId;userId;itemId;timeframe;eventdate\n1;NA;a;526309;2016-05-09\n"
                            "1;NA;b;1031;2016-05-09\n2;5;c;0;2016-05-10\n",
                            ClickFormat::kDiginetica);
  ASSERT_EQ(log.sessions(), 2);
  EXPECT_EQ(items_of(log, 0), (std::vector<std::string>{"b", "a"}));
  EXPECT_DOUBLE_EQ(log.start_time(1), 16931.0 * 86400.0);
}

TEST(SessionClicks, GapFormatsCutVisitorsIntoSessions) {
  // Visitor 5: two events 10 minutes apart, then one 2 hours later; visitor 6 one transaction.
  const ClickLog rr = read("timestamp,visitorid,event,itemid,transactionid\n1433221332117,5,view,a,\n"
                           "1433221932117,5,addtocart,b,\n1433229132117,5,view,c,\n1433221000000,6,transaction,d,9\n",
                           ClickFormat::kRetailRocket);
  ASSERT_EQ(rr.sessions(), 3);
  EXPECT_EQ(rr.session_names, (std::vector<std::string>{"5:0", "5:1", "6:0"}));
  EXPECT_EQ(items_of(rr, 0), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(rr.kinds[1], EventKind::kCart);
  EXPECT_EQ(rr.kinds[3], EventKind::kBuy);
  std::string path;
  const ClickLog ml = read("userId,movieId,rating,timestamp\n1,10,4.0,1000\n1,20,3.5,2000\n1,30,5.0,9000\n",
                           ClickFormat::kMovieLens, &path);
  EXPECT_EQ(ml.sessions(), 2);  // 7,000 s > the one-hour default gap
  ClickReadOptions wide;
  wide.format = ClickFormat::kMovieLens;
  wide.session_gap = 10000;
  EXPECT_EQ(read_clicks(path, wide).sessions(), 1);
}

// A RetailRocket log's cart and purchase events survive sessions-tsv (an Event column); a log of clicks alone is
// written in three columns, as before; a bad Event value is a malformed row.
TEST(SessionClicks, SessionsTsvKeepsEventKinds) {
  const ClickLog rr = read("timestamp,visitorid,event,itemid,transactionid\n1433221332117,5,view,a,\n"
                           "1433221932117,5,addtocart,b,\n1433221000000,6,transaction,d,9\n",
                           ClickFormat::kRetailRocket);
  const std::string dir = testing::temp_dir("session_data_events");
  write_sessions_tsv(rr, dir + "/events.tsv");
  EXPECT_EQ(reckon::read_file(dir + "/events.tsv").substr(0, 31), "SessionId\tItemId\tTime\tEvent\n5:0");
  const ClickLog back = read_clicks(dir + "/events.tsv", {});
  EXPECT_EQ(back.kinds, rr.kinds);
  EXPECT_EQ(back.items.size(), rr.items.size());
  const ClickLog clicks = read("SessionId\tItemId\tTime\n7\ta\t30\n", ClickFormat::kSessionsTsv);
  write_sessions_tsv(clicks, dir + "/clicks.tsv");
  EXPECT_EQ(reckon::read_file(dir + "/clicks.tsv"), "SessionId\tItemId\tTime\n7\ta\t30\n");
  const ClickLog bad = read("SessionId\tItemId\tTime\tEvent\n7\ta\t30\tview\n7\tb\t31\tcart\n", ClickFormat::kSessionsTsv);
  EXPECT_EQ(bad.skipped_rows, 1);
  ASSERT_EQ(bad.first_errors.size(), 1u);
  EXPECT_NE(bad.first_errors[0].find(":2: Event 'view' is not click, cart or buy"), std::string::npos);
  EXPECT_EQ(bad.kinds, std::vector<EventKind>{EventKind::kCart});
}

TEST(SessionClicks, MalformedRowsAreSkippedWithFileAndLineOrFatal) {
  const std::string text = "SessionId\tItemId\tTime\n1\ta\t1\n1\tb\tlate\n2\tc\n\t d\t3\n2\te\t4\n";
  std::string path;
  const ClickLog log = read(text, ClickFormat::kSessionsTsv, &path);
  EXPECT_EQ(log.clicks(), 2);
  EXPECT_EQ(log.skipped_rows, 3);
  ASSERT_EQ(log.first_errors.size(), 3u);
  EXPECT_NE(log.first_errors[0].find("log.txt:3: Time 'late' is not a number"), std::string::npos) << log.first_errors[0];
  EXPECT_NE(log.first_errors[1].find("log.txt:4: expected 3 columns, got 2"), std::string::npos);
  ClickReadOptions strict;
  strict.bad_rows = BadRows::kFail;
  try {
    (void)read_clicks(path, strict);
    FAIL() << "a malformed row passed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kDataError);
    EXPECT_NE(e.message().find("log.txt:3"), std::string::npos) << e.message();
  }
  EXPECT_THROW((void)read_clicks("/nonexistent/clicks.tsv", strict), Error);
  EXPECT_THROW((void)parse_click_format("csv"), Error);
}

TEST(SessionContent, SideFilesGiveItemsCategoriesAndTexts) {
  std::string path;
  ClickLog log = read("sessionId;userId;itemId;timeframe;eventdate\n1;NA;81766;0;2016-05-09\n1;NA;31331;5;2016-05-09\n",
                      ClickFormat::kDiginetica, &path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  ItemContent content;
  read_item_content(testing::write_file(dir, "cats.csv", "itemId;categoryId\n81766;1098\n31331;\nbroken\n"),
                    ContentFormat::kDigineticaCategories, BadRows::kSkip, content);
  read_item_content(testing::write_file(dir, "products.csv", "itemId;pricelog2;product.name.tokens\n81766;8;4,5,6\n"),
                    ContentFormat::kDigineticaProducts, BadRows::kSkip, content);
  EXPECT_EQ(content.skipped_rows, 1);
  EXPECT_NE(content.first_errors[0].find("cats.csv:4: expected 2 columns, got 1"), std::string::npos);
  const ContentCoverage c = attach_content(log, content);
  EXPECT_EQ(c.items, 2);
  EXPECT_EQ(c.with_category, 1);  // 31331's category is empty
  EXPECT_EQ(c.with_text, 1);
  EXPECT_EQ(log.item_categories[0], "1098");
  EXPECT_EQ(log.item_texts[0], "4,5,6");
  ItemContent movies;
  read_item_content(testing::write_file(dir, "movies.csv", "movieId,title,genres\n11,\"American President, The (1995)\",Comedy|Drama\n"),
                    ContentFormat::kMovieLensMovies, BadRows::kFail, movies);
  EXPECT_EQ(movies.text.at("11"), "American President, The (1995)");
  EXPECT_EQ(movies.category.at("11"), "Comedy|Drama");
  ItemContent rr;
  read_item_content(testing::write_file(dir, "props.csv", "timestamp,itemid,property,value\n20,7,categoryid,300\n"
                                                          "10,7,categoryid,100\n5,7,888,n552.000\n"),
                    ContentFormat::kRetailRocketProperties, BadRows::kFail, rr);
  EXPECT_EQ(rr.category.at("7"), "300");  // the latest value, whatever the file order
  EXPECT_THROW(read_item_content(dir + "/cats.csv", ContentFormat::kDigineticaCategories, BadRows::kFail, content), Error);
  EXPECT_THROW((void)parse_content_format("csv"), Error);
  write_items_tsv(log, dir + "/items.tsv");
  EXPECT_EQ(reckon::read_file(dir + "/items.tsv"), "ItemId\tCategory\tText\n81766\t1098\t4,5,6\n31331\t\t\n");
}

// A log with a known answer: days 0-2.4 training, the last day (after day 2.6) test. Item "rare" is seen 3 times;
// session "single" has one click; "straddle" starts before training's last click (day 2.4) and ends in the test
// days; test session "t2" has an item never seen in training.
std::string planted_log() {
  std::ostringstream s;
  s << "SessionId\tItemId\tTime\n";
  const auto add = [&](const std::string& session, const std::string& item, double day, double seconds) {
    s << session << '\t' << item << '\t' << std::to_string(day * 86400 + seconds) << '\n';
  };
  for (int i = 0; i < 6; ++i) {  // six training sessions over days 0-2: a, b, c each seen often
    const std::string id = std::string(1, 'r') + std::to_string(i);
    add(id, "a", i / 3, 10 * i);
    add(id, "b", i / 3, 10 * i + 1);
    add(id, i % 2 ? "c" : "rare", i / 3, 10 * i + 2);
  }
  add("single", "a", 1, 500);
  add("late", "a", 2.4, 0);
  add("late", "b", 2.4, 1);
  add("straddle", "b", 2.3, 0);
  add("straddle", "c", 3.5, 0);
  add("t1", "c", 3.5, 10);
  add("t1", "a", 3.5, 20);
  add("t2", "new", 3.6, 0);  // "new" is seen 5 times in test only
  add("t2", "new", 3.6, 1);
  add("t2", "new", 3.6, 2);
  add("t2", "new", 3.6, 3);
  add("t2", "new", 3.6, 4);
  add("t2", "b", 3.6, 5);
  return s.str();
}

TEST(SessionPrepare, StepsAndTimeSplitOnAPlantedLog) {
  const ClickLog log = read(planted_log(), ClickFormat::kSessionsTsv);
  PrepareOptions o;
  o.validation_days = 0;
  const PreparedSessions p = prepare_sessions(log, o);
  EXPECT_EQ(p.dropped.short_sessions, 1);       // "single"
  EXPECT_EQ(p.dropped.rare_item_clicks, 3);     // "rare" 3 times (sessions r0, r2, r4)
  EXPECT_EQ(p.dropped.straddling_sessions, 1);  // "straddle"
  EXPECT_EQ(p.dropped.unseen_test_clicks, 5);   // "new" in t2
  EXPECT_EQ(p.dropped.short_test_sessions, 1);  // t2 is left with one click
  EXPECT_EQ(p.train_full.sessions(), 7);
  ASSERT_EQ(p.test.sessions(), 1);
  EXPECT_EQ(items_of(p.test, 0), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(leaking_sessions(p.train_full, p.test), 0);
  // GRU4Rec's rule puts "straddle" in the test split: it begins before training ends, so it is refused...
  o.straddling = Straddling::kTest;
  EXPECT_THROW((void)prepare_sessions(log, o), Error);
  // ...unless allowed.
  o.allow_leak = true;
  EXPECT_EQ(prepare_sessions(log, o).test.sessions(), 2);
}

TEST(SessionPrepare, FractionValidationAndSummary) {
  const ClickLog log = read(planted_log(), ClickFormat::kSessionsTsv);
  PrepareOptions o;
  o.train_fraction = 0.5;  // the four most recent of seven training sessions (day 1 and "late")
  o.validation_days = 0;
  const PreparedSessions half = prepare_sessions(log, o);
  EXPECT_EQ(half.dropped.fraction_sessions, 3);
  EXPECT_EQ(half.train_full.session_names, (std::vector<std::string>{"r3", "r4", "r5", "late"}));
  o = PrepareOptions{};
  const PreparedSessions p = prepare_sessions(log, o);  // validation: after day 1.4, the last day of training
  EXPECT_EQ(p.train.sessions() + p.validation.sessions(), p.train_full.sessions());
  EXPECT_EQ(p.validation.session_names, (std::vector<std::string>{"late"}));
  const std::string dir = testing::temp_dir("session_prepare");
  const auto j = nlohmann::json::parse(write_prepared(p, o, dir));
  EXPECT_EQ(j["splits"]["train_full"]["sessions"], 7);
  EXPECT_EQ(j["splits"]["validation"]["sessions"], 1);
  EXPECT_DOUBLE_EQ(j["splits"]["test"]["average_length"].get<double>(), 2.0);
  for (const char* name : {"train_full.tsv", "train.tsv", "valid.tsv", "test.tsv", "summary.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + name)) << name;
  }
  ClickReadOptions tsv;
  EXPECT_EQ(read_clicks(dir + "/test.tsv", tsv).clicks(), p.test.clicks());
  o.test_days = 0;
  EXPECT_THROW((void)prepare_sessions(log, o), Error);
  o.test_days = 100;  // nothing left to train on
  EXPECT_THROW((void)prepare_sessions(log, o), Error);
}

TEST(SessionPrepare, SharedSamples) {
  const std::filesystem::path dir = std::filesystem::path(RECKON_SOURCE_DIR) / "../shared/data";
  if (!std::filesystem::exists(dir / "sessions")) GTEST_SKIP() << "../shared/data is absent";
  ClickReadOptions r;
  r.format = ClickFormat::kDiginetica;
  const ClickLog dig = read_clicks((dir / "sessions/diginetica_sample_train-item-views.csv").string(), r);
  EXPECT_EQ(dig.clicks(), 12391);  // the README says 12,390; the file has 12,391 rows
  EXPECT_EQ(dig.sessions(), 2986);
  EXPECT_EQ(dig.skipped_rows, 0);
  PrepareOptions o = default_prepare_options(ClickFormat::kDiginetica);
  o.min_item_support = 1;  // the sample is too small for 5
  const PreparedSessions p = prepare_sessions(dig, o);
  EXPECT_GT(p.test.sessions(), 0);
  EXPECT_EQ(leaking_sessions(p.train_full, p.test), 0);
  r.format = ClickFormat::kMovieLens;
  const ClickLog ml = read_clicks((dir / "movielens/ratings.csv").string(), r);
  EXPECT_EQ(ml.clicks(), 100836);
  EXPECT_GT(ml.sessions(), 610);  // users' ratings cut at pauses
}

}  // namespace
}  // namespace reckon::session
