// `reckon session ...`: session-based recommendation. `prepare` reads a click log in one of the field's formats and
// writes the literature's preprocessing and time split (train_full, train, valid, test and a JSON summary).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "reckon/models/session/clicks.h"
#include "reckon/models/session/prepare.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/error.h"

namespace reckon::cli {
namespace {

using namespace reckon::session;

struct PrepareArgs {
  CommonOptions common;
  std::string input, format = "sessions-tsv", out, bad_rows = "skip", straddling = "drop", fraction = "1";
  double session_gap = 0, test_days = 0, validation_days = -1;
  std::int64_t min_session_length = 2, min_item_support = 5;
  bool all_events = false, allow_leak = false;
};

// "1/64", "0.25" or "1" as a fraction in (0, 1].
double parse_fraction(const std::string& text) {
  double numerator = 0, denominator = 1;
  const auto slash = text.find('/');
  const bool ok = slash == std::string::npos
                      ? parse_field(text, numerator)
                      : parse_field(std::string_view(text).substr(0, slash), numerator) &&
                            parse_field(std::string_view(text).substr(slash + 1), denominator);
  RECKON_CHECK_ARG(ok && denominator > 0 && numerator > 0 && numerator <= denominator,
                   "--train-fraction must be a fraction in (0, 1] such as 1/64 or 0.25, got '", text, "'");
  return numerator / denominator;
}

PrepareOptions prepare_options(const PrepareArgs& a, ClickFormat format) {
  PrepareOptions o = default_prepare_options(format);
  o.clicks_only = !a.all_events;
  o.min_session_length = a.min_session_length;
  o.min_item_support = a.min_item_support;
  if (a.test_days > 0) o.test_days = a.test_days;
  if (a.validation_days >= 0) o.validation_days = a.validation_days;
  o.train_fraction = parse_fraction(a.fraction);
  o.straddling = a.straddling == "test" ? Straddling::kTest : Straddling::kDrop;
  o.allow_leak = a.allow_leak;
  return o;
}

nlohmann::json run_prepare(const PrepareArgs& a) {
  ClickReadOptions r;
  r.format = parse_click_format(a.format);
  r.bad_rows = a.bad_rows == "fail" ? BadRows::kFail : BadRows::kSkip;
  r.session_gap = a.session_gap;
  const ClickLog log = read_clicks(a.input, r);
  const PrepareOptions o = prepare_options(a, r.format);
  const PreparedSessions prepared = prepare_sessions(log, o);
  nlohmann::json j = nlohmann::json::parse(write_prepared(prepared, o, a.out));
  j["input"] = {{"path", a.input}, {"format", a.format}, {"sessions", log.sessions()}, {"clicks", log.clicks()},
                {"items", static_cast<std::int64_t>(log.item_names.size())}, {"skipped_rows", log.skipped_rows},
                {"first_errors", log.first_errors}};
  j["out"] = a.out;
  return j;
}

void print_prepare(const nlohmann::json& j) {
  const auto& in = j["input"];
  fmt::print("read {}: {} sessions, {} clicks, {} items", in["path"].get<std::string>(), in["sessions"].get<std::int64_t>(),
             in["clicks"].get<std::int64_t>(), in["items"].get<std::int64_t>());
  if (in["skipped_rows"].get<std::int64_t>() > 0) {
    fmt::print(" (skipped {} malformed rows; the first: {})", in["skipped_rows"].get<std::int64_t>(),
               in["first_errors"][0].get<std::string>());
  }
  fmt::print("\n{:<11} {:>9} {:>10} {:>8} {:>11}\n", "split", "sessions", "clicks", "items", "avg length");
  for (const char* split : {"train_full", "train", "validation", "test"}) {
    if (!j["splits"].contains(split)) continue;
    const auto& s = j["splits"][split];
    fmt::print("{:<11} {:>9} {:>10} {:>8} {:>11.2f}\n", split, s["sessions"].get<std::int64_t>(),
               s["clicks"].get<std::int64_t>(), s["items"].get<std::int64_t>(), s["average_length"].get<double>());
  }
  fmt::print("dropped: {}\nwritten to {} (summary.json beside the splits)\n", j["dropped"].dump(),
             j["out"].get<std::string>());
}

void add_prepare(CLI::App* cmd) {
  auto a = std::make_shared<PrepareArgs>();
  auto* p = cmd->add_subcommand("prepare", "Preprocess a click log and split it by time (GRU4Rec's / SR-GNN's protocol)");
  p->add_option("--input", a->input, "click log")->required();
  p->add_option("--format", a->format, "sessions-tsv | yoochoose | yoochoose-buys | diginetica | retailrocket | movielens")
      ->check(CLI::IsMember({"sessions-tsv", "yoochoose", "yoochoose-buys", "diginetica", "retailrocket", "movielens"}))
      ->capture_default_str();
  p->add_option("--out", a->out, "directory for train_full.tsv, train.tsv, valid.tsv, test.tsv and summary.json")
      ->required();
  p->add_option("--bad-rows", a->bad_rows, "skip (counted, the first reported) | fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  p->add_option("--session-gap", a->session_gap,
                "seconds of pause that end a session, for logs without session ids (default: retailrocket 1800, "
                "movielens 3600)");
  p->add_option("--min-session-length", a->min_session_length, "shorter sessions are dropped")->capture_default_str();
  p->add_option("--min-item-support", a->min_item_support, "clicks on rarer items are dropped")->capture_default_str();
  p->add_option("--test-days", a->test_days, "the log's last days are the test split (default: diginetica 7, else 1)");
  p->add_option("--validation-days", a->validation_days,
                "the training split's last days are validation; 0: none (default: as --test-days)");
  p->add_option("--train-fraction", a->fraction, "keep the most recent fraction of training sessions (1/64, 1/4)")
      ->capture_default_str();
  p->add_option("--straddling", a->straddling,
                "sessions spanning the test cutoff: drop | test (GRU4Rec's rule: they begin before training ends, "
                "so it needs --allow-leak)")
      ->check(CLI::IsMember({"drop", "test"}))
      ->capture_default_str();
  p->add_flag("--allow-leak", a->allow_leak, "accept test sessions that begin before the training data ends");
  p->add_flag("--all-events", a->all_events, "keep cart and purchase events as clicks");
  add_common_options(p, a->common, kJson);
  set_run(p, &a->common, [a] { return run_prepare(*a); }, print_prepare);
}

}  // namespace

void add_session_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("session", "Session-based recommendation: prepare click logs");
  cmd->require_subcommand(1);
  add_prepare(cmd);
}

}  // namespace reckon::cli
