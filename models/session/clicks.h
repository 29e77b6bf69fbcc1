// Click logs for session-based recommendation: the readers of the field's data sets, each reporting malformed rows
// as "file:line: reason" (skipped and counted, or fatal), and the log they produce: sessions of time-ordered clicks
// on items, with the items' names and, where the data has them, their categories.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace reckon::session {

// sessions-tsv: SessionId<TAB>ItemId<TAB>Time (unix seconds), a header line (GRU4Rec's and session-rec's prepared
//               files, what ../shared/data/sessions holds); optionally a fourth column, Event: click, cart or buy
//               (as write_sessions_tsv writes a log that has cart or buy events).
// yoochoose:    yoochoose-clicks.dat, session,timestamp,item,category with ISO timestamps
//               (2014-04-07T10:51:09.277Z), no header.
// yoochoose-buys: yoochoose-buys.dat, session,timestamp,item,price,quantity: purchase events.
// diginetica:   train-item-views.csv, sessionId;userId;itemId;timeframe;eventdate with a header; clicks ordered by
//               timeframe (milliseconds) inside a session, time = eventdate + timeframe.
// retailrocket: events.csv, timestamp,visitorid,event,itemid,transactionid (timestamp in ms; event view, addtocart
//               or transaction); a visitor's events cut into sessions at gaps longer than session_gap.
// movielens:    ratings.csv, userId,movieId,rating,timestamp; a user's ratings cut into sessions at gaps longer than
//               session_gap (ratings come in bursts), each rating a click.
enum class ClickFormat : std::uint8_t {
  kSessionsTsv,
  kYoochoose,
  kYoochooseBuys,
  kDiginetica,
  kRetailRocket,
  kMovieLens
};
ClickFormat parse_click_format(const std::string& name);
const char* to_string(ClickFormat format) noexcept;

enum class EventKind : std::uint8_t { kClick, kCart, kBuy };
enum class BadRows : std::uint8_t { kSkip, kFail };

struct ClickReadOptions {
  ClickFormat format = ClickFormat::kSessionsTsv;
  BadRows bad_rows = BadRows::kSkip;
  // The longest pause inside one session, in seconds, for formats without session ids (retailrocket: 30 minutes,
  // the usual web-analytics session; movielens: 1 hour). <= 0: the format's default.
  double session_gap = 0;
};
double default_session_gap(ClickFormat format);

// Sessions of clicks, each session's clicks in time order (equal times keep file order), sessions in order of
// their first click in the file.
struct ClickLog {
  std::vector<std::string> session_names;
  std::vector<std::int64_t> offsets{0};  // session s is clicks [offsets[s], offsets[s + 1])
  std::vector<std::int32_t> items;       // indices into item_names
  std::vector<double> times;             // unix seconds
  std::vector<EventKind> kinds;
  std::vector<std::string> item_names;
  std::vector<std::string> item_categories;  // per item; empty where the data has none
  std::vector<std::string> item_texts;       // per item (a name, a title: session/content.h); may be empty
  std::int64_t skipped_rows = 0;
  std::vector<std::string> first_errors;  // up to 10 "file:line: reason"

  std::int64_t sessions() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::int64_t clicks() const { return static_cast<std::int64_t>(items.size()); }
  std::int64_t begin(std::int64_t s) const { return offsets[static_cast<std::size_t>(s)]; }
  std::int64_t end(std::int64_t s) const { return offsets[static_cast<std::size_t>(s) + 1]; }
  std::int64_t length(std::int64_t s) const { return end(s) - begin(s); }
  double start_time(std::int64_t s) const { return times[static_cast<std::size_t>(begin(s))]; }
  double end_time(std::int64_t s) const { return times[static_cast<std::size_t>(end(s) - 1)]; }
};

ClickLog read_clicks(const std::string& path, const ClickReadOptions& options);

// Builds a log one session at a time: add() clicks of one session (any order), end_session() sorts them by time.
class ClickLogBuilder {
 public:
  explicit ClickLogBuilder(ClickLog& log) : log_(log) {}
  std::int32_t item(const std::string& name);  // the item's index, added when new
  void add(std::int32_t item, double time, EventKind kind = EventKind::kClick);
  void end_session(std::string name);

 private:
  ClickLog& log_;
  std::unordered_map<std::string, std::int32_t> item_index_;
};

// The log as sessions-tsv (SessionId, ItemId, Time, and Event when the log has cart or buy events), written
// atomically.
void write_sessions_tsv(const ClickLog& log, const std::string& path);

}  // namespace reckon::session
