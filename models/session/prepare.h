// The session-recommendation literature's preprocessing (GRU4Rec's and SR-GNN's scripts), each step an option with
// the field's default, and the time split into training, validation and test sessions that never leak.
#pragma once

#include <cstdint>
#include <string>

#include "reckon/models/session/clicks.h"

namespace reckon::session {

// Sessions that span the test cutoff (a click before it and one after). GRU4Rec's script makes them test sessions,
// so some test sessions begin before the training data ends; reckon drops them unless asked.
enum class Straddling : std::uint8_t { kDrop, kTest };

struct PrepareOptions {
  bool clicks_only = true;               // drop cart and purchase events (RetailRocket, YooChoose buys)
  std::int64_t min_session_length = 2;   // shorter sessions are dropped, before and after the item filter
  std::int64_t min_item_support = 5;     // clicks on items seen fewer times are dropped
  double test_days = 1;                  // the last days are the test split (YooChoose 1, DIGINETICA 7)
  double validation_days = 1;            // the last days of training are validation; 0: none
  double train_fraction = 1;             // (0, 1]: keep the most recent fraction of training sessions (1/64, 1/4)
  Straddling straddling = Straddling::kDrop;
  bool allow_leak = false;               // accept test sessions that begin before training ends
};
// The field's defaults for a format: DIGINETICA's test and validation spans are 7 days, MovieLens's 365 (its
// ratings span 22 years), the others' 1 day.
PrepareOptions default_prepare_options(ClickFormat format);

struct SplitSummary {
  std::int64_t sessions = 0, clicks = 0, items = 0;
  double average_length = 0;
  double first_time = 0, last_time = 0;
};
SplitSummary summarize(const ClickLog& log);

// What each step removed, in order.
struct PrepareCounts {
  std::int64_t non_click_events = 0, short_sessions = 0, rare_item_clicks = 0, short_after_items = 0;
  std::int64_t straddling_sessions = 0, fraction_sessions = 0, unseen_test_clicks = 0, short_test_sessions = 0;
};

// train_full is every training session; train and validation split it again by time (when validation_days > 0),
// for choosing settings; the final model trains on train_full and is tested on test. Every split keeps the whole
// item table, so item indices agree between them.
struct PreparedSessions {
  ClickLog train_full, train, validation, test;
  PrepareCounts dropped, dropped_for_validation;
  double test_cutoff = 0, validation_cutoff = 0;
};
PreparedSessions prepare_sessions(const ClickLog& log, const PrepareOptions& options);

// Test sessions whose first click is before the last training click. prepare_sessions and the evaluator throw
// kDataError when there are any, unless leaks are allowed.
std::int64_t leaking_sessions(const ClickLog& train, const ClickLog& test);
void check_no_leak(const ClickLog& train, const ClickLog& test, bool allow_leak);

// directory/{train_full,test}.tsv, with a validation split also {train,valid}.tsv (sessions-tsv), and summary.json
// (the options, the counts dropped, and sessions / clicks / items / average length per split). Returns the JSON.
std::string write_prepared(const PreparedSessions& prepared, const PrepareOptions& options,
                           const std::string& directory);

}  // namespace reckon::session
