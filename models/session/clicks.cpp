#include "reckon/models/session/clicks.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <string_view>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::session {

namespace {

struct FormatName {
  ClickFormat format;
  const char* name;
};
constexpr FormatName kFormats[] = {
    {ClickFormat::kSessionsTsv, "sessions-tsv"}, {ClickFormat::kYoochoose, "yoochoose"},
    {ClickFormat::kYoochooseBuys, "yoochoose-buys"}, {ClickFormat::kDiginetica, "diginetica"},
    {ClickFormat::kRetailRocket, "retailrocket"}, {ClickFormat::kMovieLens, "movielens"}};

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil); false unless "YYYY-MM-DD".
bool parse_date(std::string_view text, double& days) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!parse_field(text.substr(0, 4), y) || !parse_field(text.substr(5, 2), m) || !parse_field(text.substr(8, 2), d) ||
      m < 1 || m > 12 || d < 1 || d > 31) {
    return false;
  }
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  days = static_cast<double>(era) * 146097.0 + static_cast<double>(doe) - 719468.0;
  return true;
}

bool parse_number(std::string_view text, double& value) { return parse_field(text, value) && std::isfinite(value); }

// "YYYY-MM-DDThh:mm:ss[.fff]Z" as unix seconds.
bool parse_iso_time(std::string_view text, double& seconds) {
  double days = 0, h = 0, m = 0, s = 0;
  if (text.size() < 20 || text[10] != 'T' || text.back() != 'Z' || text[13] != ':' || text[16] != ':') return false;
  if (!parse_date(text.substr(0, 10), days) || !parse_number(text.substr(11, 2), h) ||
      !parse_number(text.substr(14, 2), m) || !parse_number(text.substr(17, text.size() - 18), s)) {
    return false;
  }
  if (h > 23 || m > 59 || s >= 61) return false;
  seconds = days * 86400.0 + h * 3600.0 + m * 60.0 + s;
  return true;
}

// One parsed row: the key that groups it (a session, or a visitor / user to be cut at gaps), the item, the time.
struct Row {
  std::string_view group, item, category;
  double time = 0;
  EventKind kind = EventKind::kClick;
};

struct Layout {
  char delimiter;
  std::size_t columns;
  bool header;
};

Layout layout_of(ClickFormat f) {
  switch (f) {
    case ClickFormat::kSessionsTsv: return {'\t', 3, true};
    case ClickFormat::kYoochoose: return {',', 4, false};
    case ClickFormat::kYoochooseBuys: return {',', 5, false};
    case ClickFormat::kDiginetica: return {';', 5, true};
    case ClickFormat::kRetailRocket: return {',', 5, true};
    case ClickFormat::kMovieLens: return {',', 4, true};
  }
  return {',', 0, false};
}

// sessions-tsv's optional Event column.
constexpr std::pair<std::string_view, EventKind> kEventNames[] = {
    {"click", EventKind::kClick}, {"cart", EventKind::kCart}, {"buy", EventKind::kBuy}};

bool parse_event(std::string_view text, EventKind& kind) {
  for (const auto& [name, k] : kEventNames) {
    if (text == name) {
      kind = k;
      return true;
    }
  }
  return false;
}

std::string_view event_name(EventKind kind) {
  for (const auto& [name, k] : kEventNames) {
    if (k == kind) return name;
  }
  return "click";
}

std::string not_a(std::string_view field, std::string_view value, const char* what) {
  return detail::concat(field, " '", value, "' is not ", what);
}

// The row's fields as a Row, or the reason it is malformed.
std::string parse_row(ClickFormat f, const std::vector<std::string_view>& c, Row& row) {
  switch (f) {
    case ClickFormat::kSessionsTsv:
      row.group = c[0], row.item = c[1];
      if (c.size() == 4 && !parse_event(c[3], row.kind)) return not_a("Event", c[3], "click, cart or buy");
      return parse_number(c[2], row.time) ? "" : not_a("Time", c[2], "a number");
    case ClickFormat::kYoochoose:
    case ClickFormat::kYoochooseBuys:
      row.group = c[0], row.item = c[2];
      if (f == ClickFormat::kYoochoose) row.category = c[3];
      row.kind = f == ClickFormat::kYoochoose ? EventKind::kClick : EventKind::kBuy;
      return parse_iso_time(c[1], row.time) ? "" : not_a("timestamp", c[1], "YYYY-MM-DDThh:mm:ss.fffZ");
    case ClickFormat::kDiginetica: {
      double days = 0;
      row.group = c[0], row.item = c[2];
      if (!parse_number(c[3], row.time)) return not_a("timeframe", c[3], "a number");
      if (!parse_date(c[4], days)) return not_a("eventdate", c[4], "YYYY-MM-DD");
      row.time = days * 86400.0 + row.time / 1000.0;
      return "";
    }
    case ClickFormat::kRetailRocket:
      row.group = c[1], row.item = c[3];
      if (c[2] == "view") row.kind = EventKind::kClick;
      else if (c[2] == "addtocart") row.kind = EventKind::kCart;
      else if (c[2] == "transaction") row.kind = EventKind::kBuy;
      else return not_a("event", c[2], "view, addtocart or transaction");
      if (!parse_number(c[0], row.time)) return not_a("timestamp", c[0], "a number");
      row.time /= 1000.0;
      return "";
    case ClickFormat::kMovieLens:
      row.group = c[0], row.item = c[1];
      return parse_number(c[3], row.time) ? "" : not_a("timestamp", c[3], "a number");
  }
  return "unknown format";
}

// The row's problem, or "" for a good row.
std::string check_row(const Layout& layout, ClickFormat format, const std::vector<std::string_view>& cols, Row& row) {
  const bool event_column = format == ClickFormat::kSessionsTsv && cols.size() == layout.columns + 1;
  if (cols.size() != layout.columns && !event_column) {
    return detail::concat("expected ", layout.columns, " columns, got ", cols.size());
  }
  std::string error = parse_row(format, cols, row);
  if (error.empty() && (row.group.empty() || row.item.empty())) error = "empty session or item";
  return error;
}

// The rows read, before they are grouped into sessions.
struct Rows {
  std::vector<std::string> group_names;
  std::vector<std::int32_t> group;  // per row
  std::vector<std::int32_t> item;
  std::vector<double> time;
  std::vector<EventKind> kind;
};

void add_row(const Row& row, Rows& rows, ClickLogBuilder& builder, ClickLog& log,
             std::unordered_map<std::string, std::int32_t>& groups) {
  const auto [it, added] = groups.emplace(std::string(row.group), static_cast<std::int32_t>(rows.group_names.size()));
  if (added) rows.group_names.emplace_back(row.group);
  const std::int32_t item = builder.item(std::string(row.item));
  if (!row.category.empty()) log.item_categories[static_cast<std::size_t>(item)] = std::string(row.category);
  rows.group.push_back(it->second);
  rows.item.push_back(item);
  rows.time.push_back(row.time);
  rows.kind.push_back(row.kind);
}

Rows read_rows(const std::string& path, const ClickReadOptions& options, ClickLog& log, ClickLogBuilder& builder) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  const Layout layout = layout_of(options.format);
  Rows rows;
  std::unordered_map<std::string, std::int32_t> groups;
  std::vector<std::string_view> cols;
  std::string line;
  for (std::int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    split_fields(line, layout.delimiter, cols);
    Row row;
    const std::string error = check_row(layout, options.format, cols, row);
    if (!error.empty() && layout.header && line_no == 1) continue;  // the header (a first row that parses is data)
    if (!error.empty()) {
      const std::string where = detail::concat(path, ":", line_no, ": ", error);
      if (options.bad_rows == BadRows::kFail) RECKON_THROW(StatusCode::kDataError, where);
      ++log.skipped_rows;
      if (log.first_errors.size() < 10) log.first_errors.push_back(where);
      continue;
    }
    add_row(row, rows, builder, log, groups);
  }
  if (in.bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path);
  return rows;
}

bool cut_at_gaps(ClickFormat f) { return f == ClickFormat::kRetailRocket || f == ClickFormat::kMovieLens; }

// Rows grouped (stable: file order within a group), each group sorted by time and, for gap formats, cut into
// sessions at pauses longer than `gap`.
void group_rows(const Rows& rows, ClickFormat format, double gap, ClickLogBuilder& builder) {
  const std::size_t groups = rows.group_names.size();
  std::vector<std::int64_t> start(groups + 1, 0);
  for (const std::int32_t g : rows.group) ++start[static_cast<std::size_t>(g) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::int64_t> order(rows.group.size()), next(start.begin(), start.end() - 1);
  for (std::size_t r = 0; r < rows.group.size(); ++r) order[static_cast<std::size_t>(next[static_cast<std::size_t>(rows.group[r])]++)] = static_cast<std::int64_t>(r);
  for (std::size_t g = 0; g < groups; ++g) {
    const auto first = order.begin() + start[g], last = order.begin() + start[g + 1];
    std::stable_sort(first, last, [&](std::int64_t a, std::int64_t b) {
      return rows.time[static_cast<std::size_t>(a)] < rows.time[static_cast<std::size_t>(b)];
    });
    int piece = 0;
    for (auto it = first; it != last; ++it) {
      const auto r = static_cast<std::size_t>(*it);
      if (cut_at_gaps(format) && it != first && rows.time[r] - rows.time[static_cast<std::size_t>(*(it - 1))] > gap) {
        builder.end_session(detail::concat(rows.group_names[g], ":", piece++));
      }
      builder.add(rows.item[r], rows.time[r], rows.kind[r]);
    }
    builder.end_session(cut_at_gaps(format) ? detail::concat(rows.group_names[g], ":", piece) : rows.group_names[g]);
  }
}

}  // namespace

ClickFormat parse_click_format(const std::string& name) {
  for (const FormatName& f : kFormats) {
    if (name == f.name) return f.format;
  }
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown click-log format '", name,
               "' (sessions-tsv, yoochoose, yoochoose-buys, diginetica, retailrocket, movielens)");
}

const char* to_string(ClickFormat format) noexcept {
  for (const FormatName& f : kFormats) {
    if (format == f.format) return f.name;
  }
  return "?";
}

double default_session_gap(ClickFormat format) {
  return format == ClickFormat::kMovieLens ? 3600.0 : 1800.0;
}

std::int32_t ClickLogBuilder::item(const std::string& name) {
  const auto [it, added] = item_index_.emplace(name, static_cast<std::int32_t>(log_.item_names.size()));
  if (added) {
    log_.item_names.push_back(name);
    log_.item_categories.emplace_back();
    log_.item_texts.emplace_back();
  }
  return it->second;
}

void ClickLogBuilder::add(std::int32_t item, double time, EventKind kind) {
  log_.items.push_back(item);
  log_.times.push_back(time);
  log_.kinds.push_back(kind);
}

void ClickLogBuilder::end_session(std::string name) {
  const std::int64_t first = log_.offsets.back(), last = log_.clicks();
  if (last == first) return;
  // Time order, equal times in the order added.
  std::vector<std::int64_t> order(static_cast<std::size_t>(last - first));
  std::iota(order.begin(), order.end(), first);
  std::stable_sort(order.begin(), order.end(), [this](std::int64_t a, std::int64_t b) {
    return log_.times[static_cast<std::size_t>(a)] < log_.times[static_cast<std::size_t>(b)];
  });
  const auto permute = [&](auto& v) {
    auto copy = std::vector(v.begin() + first, v.begin() + last);
    for (std::size_t i = 0; i < order.size(); ++i) v[static_cast<std::size_t>(first) + i] = copy[static_cast<std::size_t>(order[i] - first)];
  };
  permute(log_.items);
  permute(log_.times);
  permute(log_.kinds);
  log_.offsets.push_back(last);
  log_.session_names.push_back(std::move(name));
}

ClickLog read_clicks(const std::string& path, const ClickReadOptions& options) {
  const double gap = options.session_gap > 0 ? options.session_gap : default_session_gap(options.format);
  ClickLog log;
  ClickLogBuilder builder(log);
  const Rows rows = read_rows(path, options, log, builder);
  group_rows(rows, options.format, gap, builder);
  return log;
}

void write_sessions_tsv(const ClickLog& log, const std::string& path) {
  const bool events = std::any_of(log.kinds.begin(), log.kinds.end(), [](EventKind k) { return k != EventKind::kClick; });
  write_file_atomically(path, [&](std::ostream& out) {
    out << (events ? "SessionId\tItemId\tTime\tEvent\n" : "SessionId\tItemId\tTime\n");
    out.precision(15);
    for (std::int64_t s = 0; s < log.sessions(); ++s) {
      for (std::int64_t i = log.begin(s); i < log.end(s); ++i) {
        out << log.session_names[static_cast<std::size_t>(s)] << '\t'
            << log.item_names[static_cast<std::size_t>(log.items[static_cast<std::size_t>(i)])] << '\t'
            << log.times[static_cast<std::size_t>(i)];
        if (events) out << '\t' << event_name(log.kinds[static_cast<std::size_t>(i)]);
        out << '\n';
      }
    }
  });
}

}  // namespace reckon::session
