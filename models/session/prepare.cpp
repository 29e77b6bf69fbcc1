#include "reckon/models/session/prepare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::session {

namespace {

// The sessions of `log` that `keep_session(s)` accepts, with the clicks `keep_click(i)` accepts, dropping sessions
// left shorter than `min_length` (counted in `short_sessions`).
template <typename KeepSession, typename KeepClick>
ClickLog select(const ClickLog& log, KeepSession keep_session, KeepClick keep_click, std::int64_t min_length,
                std::int64_t* short_sessions = nullptr) {
  ClickLog out;
  out.item_names = log.item_names;
  out.item_categories = log.item_categories;
  out.item_texts = log.item_texts;
  for (std::int64_t s = 0; s < log.sessions(); ++s) {
    if (!keep_session(s)) continue;
    const std::int64_t before = out.clicks();
    for (std::int64_t i = log.begin(s); i < log.end(s); ++i) {
      if (!keep_click(i)) continue;
      const auto at = static_cast<std::size_t>(i);
      out.items.push_back(log.items[at]);
      out.times.push_back(log.times[at]);
      out.kinds.push_back(log.kinds[at]);
    }
    if (out.clicks() - before < min_length) {
      out.items.resize(static_cast<std::size_t>(before));
      out.times.resize(static_cast<std::size_t>(before));
      out.kinds.resize(static_cast<std::size_t>(before));
      if (short_sessions != nullptr) ++*short_sessions;
      continue;
    }
    out.offsets.push_back(out.clicks());
    out.session_names.push_back(log.session_names[static_cast<std::size_t>(s)]);
  }
  return out;
}

double last_time(const ClickLog& log) {
  double t = -std::numeric_limits<double>::infinity();
  for (const double x : log.times) t = std::max(t, x);
  return t;
}

struct TimeSplit {
  ClickLog before, after;
};

// The most recent `fraction` of the sessions, by end time (ties by position).
ClickLog most_recent(const ClickLog& log, double fraction, PrepareCounts& dropped) {
  if (fraction >= 1) return log;
  std::vector<std::int64_t> order(static_cast<std::size_t>(log.sessions()));
  for (std::int64_t s = 0; s < log.sessions(); ++s) order[static_cast<std::size_t>(s)] = s;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return log.end_time(a) < log.end_time(b); });
  const auto keep = static_cast<std::int64_t>(std::ceil(fraction * static_cast<double>(log.sessions())));
  std::vector<char> kept(order.size(), 0);
  for (std::int64_t r = log.sessions() - keep; r < log.sessions(); ++r) kept[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] = 1;
  dropped.fraction_sessions = log.sessions() - keep;
  return select(log, [&](std::int64_t s) { return kept[static_cast<std::size_t>(s)] != 0; },
                [](std::int64_t) { return true; }, 1);
}

// Sessions ending at or before `cutoff` before it (the most recent `fraction` of them), those starting after it
// after; the ones spanning it dropped or put after, as asked. The later part keeps only items the earlier part has.
TimeSplit split_at(const ClickLog& log, double cutoff, double fraction, const PrepareOptions& o,
                   PrepareCounts& dropped) {
  TimeSplit split;
  const auto all = [](std::int64_t) { return true; };
  split.before = most_recent(select(log, [&](std::int64_t s) { return log.end_time(s) <= cutoff; }, all, 1), fraction,
                             dropped);
  std::vector<char> seen(log.item_names.size(), 0);
  for (const std::int32_t item : split.before.items) seen[static_cast<std::size_t>(item)] = 1;
  const auto later = [&](std::int64_t s) {
    if (log.end_time(s) <= cutoff) return false;
    if (log.start_time(s) > cutoff || o.straddling == Straddling::kTest) return true;
    ++dropped.straddling_sessions;
    return false;
  };
  const auto known = [&](std::int64_t i) {
    if (seen[static_cast<std::size_t>(log.items[static_cast<std::size_t>(i)])] != 0) return true;
    ++dropped.unseen_test_clicks;
    return false;
  };
  split.after = select(log, later, known, o.min_session_length, &dropped.short_test_sessions);
  return split;
}

void validate(const PrepareOptions& o) {
  RECKON_CHECK_ARG(o.min_session_length >= 1, "the minimum session length must be at least 1, got ", o.min_session_length);
  RECKON_CHECK_ARG(o.min_item_support >= 1, "the minimum item support must be at least 1, got ", o.min_item_support);
  RECKON_CHECK_ARG(o.test_days > 0 && std::isfinite(o.test_days), "test days must be positive, got ", o.test_days);
  RECKON_CHECK_ARG(o.validation_days >= 0 && std::isfinite(o.validation_days), "validation days must be >= 0, got ",
                   o.validation_days);
  RECKON_CHECK_ARG(o.train_fraction > 0 && o.train_fraction <= 1, "the training fraction must be in (0, 1], got ",
                   o.train_fraction);
}

// Steps 1-4: events, short sessions, rare items, sessions left short.
ClickLog filter_log(const ClickLog& log, const PrepareOptions& o, PrepareCounts& dropped) {
  const auto all = [](std::int64_t) { return true; };
  const ClickLog clicks = select(log, all, [&](std::int64_t i) {
    if (!o.clicks_only || log.kinds[static_cast<std::size_t>(i)] == EventKind::kClick) return true;
    ++dropped.non_click_events;
    return false;
  }, 1);
  const ClickLog long_enough = select(clicks, all, all, o.min_session_length, &dropped.short_sessions);
  std::vector<std::int64_t> support(log.item_names.size(), 0);
  for (const std::int32_t item : long_enough.items) ++support[static_cast<std::size_t>(item)];
  return select(long_enough, all, [&](std::int64_t i) {
    if (support[static_cast<std::size_t>(long_enough.items[static_cast<std::size_t>(i)])] >= o.min_item_support) return true;
    ++dropped.rare_item_clicks;
    return false;
  }, o.min_session_length, &dropped.short_after_items);
}

}  // namespace

PrepareOptions default_prepare_options(ClickFormat format) {
  PrepareOptions o;
  if (format == ClickFormat::kDiginetica) o.test_days = o.validation_days = 7;
  if (format == ClickFormat::kMovieLens) o.test_days = o.validation_days = 365;  // 22 years of sparse ratings
  return o;
}

SplitSummary summarize(const ClickLog& log) {
  SplitSummary s;
  s.sessions = log.sessions();
  s.clicks = log.clicks();
  std::unordered_set<std::int32_t> items(log.items.begin(), log.items.end());
  s.items = static_cast<std::int64_t>(items.size());
  s.average_length = s.sessions == 0 ? 0.0 : static_cast<double>(s.clicks) / static_cast<double>(s.sessions);
  if (!log.times.empty()) {
    s.first_time = *std::min_element(log.times.begin(), log.times.end());
    s.last_time = last_time(log);
  }
  return s;
}

std::int64_t leaking_sessions(const ClickLog& train, const ClickLog& test) {
  if (train.clicks() == 0) return 0;
  const double train_end = last_time(train);
  std::int64_t leaks = 0;
  for (std::int64_t s = 0; s < test.sessions(); ++s) leaks += test.start_time(s) < train_end ? 1 : 0;
  return leaks;
}

void check_no_leak(const ClickLog& train, const ClickLog& test, bool allow_leak) {
  const std::int64_t leaks = leaking_sessions(train, test);
  if (leaks > 0 && !allow_leak) {
    RECKON_THROW(StatusCode::kDataError, leaks, " of ", test.sessions(),
                 " test sessions begin before the training data ends (a model would be tested on the past it was "
                 "trained after); split by time without overlap, or allow it explicitly (--allow-leak)");
  }
}

PreparedSessions prepare_sessions(const ClickLog& log, const PrepareOptions& o) {
  validate(o);
  PreparedSessions p;
  const ClickLog kept = filter_log(log, o, p.dropped);
  if (kept.sessions() == 0) RECKON_THROW(StatusCode::kDataError, "no session is left after filtering");
  p.test_cutoff = last_time(kept) - o.test_days * 86400.0;
  TimeSplit outer = split_at(kept, p.test_cutoff, o.train_fraction, o, p.dropped);
  p.train_full = std::move(outer.before);
  p.test = std::move(outer.after);
  if (p.train_full.sessions() == 0 || p.test.sessions() == 0) {
    RECKON_THROW(StatusCode::kDataError, "splitting off the last ", o.test_days, " days leaves ",
                 p.train_full.sessions(), " training and ", p.test.sessions(), " test sessions: choose other --test-days");
  }
  if (o.validation_days > 0) {
    p.validation_cutoff = last_time(p.train_full) - o.validation_days * 86400.0;
    TimeSplit inner = split_at(p.train_full, p.validation_cutoff, 1.0, o, p.dropped_for_validation);
    p.train = std::move(inner.before);
    p.validation = std::move(inner.after);
    if (p.train.sessions() == 0 || p.validation.sessions() == 0) {
      RECKON_THROW(StatusCode::kDataError, "carving the last ", o.validation_days, " days of training off leaves ",
                   p.train.sessions(), " training and ", p.validation.sessions(),
                   " validation sessions: choose other --validation-days (0: none)");
    }
    check_no_leak(p.train, p.validation, o.allow_leak);
  }
  check_no_leak(p.train_full, p.test, o.allow_leak);
  return p;
}

namespace {

nlohmann::json summary_json(const SplitSummary& s) {
  return {{"sessions", s.sessions}, {"clicks", s.clicks}, {"items", s.items}, {"average_length", s.average_length},
          {"first_time", s.first_time}, {"last_time", s.last_time}};
}

nlohmann::json counts_json(const PrepareCounts& c) {
  return {{"non_click_events", c.non_click_events}, {"short_sessions", c.short_sessions},
          {"rare_item_clicks", c.rare_item_clicks}, {"short_after_item_filter", c.short_after_items},
          {"straddling_sessions", c.straddling_sessions}, {"older_than_fraction", c.fraction_sessions},
          {"unseen_item_clicks", c.unseen_test_clicks}, {"short_held_out_sessions", c.short_test_sessions}};
}

}  // namespace

std::string write_prepared(const PreparedSessions& p, const PrepareOptions& o, const std::string& directory) {
  std::filesystem::create_directories(directory);
  nlohmann::json j;
  j["options"] = {{"clicks_only", o.clicks_only}, {"min_session_length", o.min_session_length},
                  {"min_item_support", o.min_item_support}, {"test_days", o.test_days},
                  {"validation_days", o.validation_days}, {"train_fraction", o.train_fraction},
                  {"straddling", o.straddling == Straddling::kDrop ? "drop" : "test"}, {"allow_leak", o.allow_leak}};
  j["dropped"] = counts_json(p.dropped);
  j["test_cutoff"] = p.test_cutoff;
  j["splits"]["train_full"] = summary_json(summarize(p.train_full));
  j["splits"]["test"] = summary_json(summarize(p.test));
  write_sessions_tsv(p.train_full, directory + "/train_full.tsv");
  write_sessions_tsv(p.test, directory + "/test.tsv");
  if (o.validation_days > 0) {
    j["dropped_for_validation"] = counts_json(p.dropped_for_validation);
    j["validation_cutoff"] = p.validation_cutoff;
    j["splits"]["train"] = summary_json(summarize(p.train));
    j["splits"]["validation"] = summary_json(summarize(p.validation));
    write_sessions_tsv(p.train, directory + "/train.tsv");
    write_sessions_tsv(p.validation, directory + "/valid.tsv");
  }
  const std::string text = j.dump(2);
  write_file_atomically(directory + "/summary.json", text + "\n");
  return text;
}

}  // namespace reckon::session
