#include "reckon/models/item2vec/corpus.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <string_view>
#include <unordered_map>

#include "reckon/models/session/clicks.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::item2vec {

CorpusFormat parse_corpus_format(const std::string& name) {
  if (name == "text") return CorpusFormat::kText;
  if (name == "sessions-tsv") return CorpusFormat::kSessionsTsv;
  if (name == "diginetica") return CorpusFormat::kDiginetica;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown corpus format '", name, "': expected text, sessions-tsv or diginetica");
}

const char* to_string(CorpusFormat format) noexcept {
  switch (format) {
    case CorpusFormat::kText: return "text";
    case CorpusFormat::kSessionsTsv: return "sessions-tsv";
    case CorpusFormat::kDiginetica: return "diginetica";
  }
  return "?";
}

namespace {

void append_sentence(Sequences& s, const std::vector<std::string>& tokens, std::int64_t max_length) {
  for (std::size_t start = 0; start < tokens.size(); start += static_cast<std::size_t>(max_length)) {
    const std::size_t end = std::min(tokens.size(), start + static_cast<std::size_t>(max_length));
    s.tokens.insert(s.tokens.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start),
                    tokens.begin() + static_cast<std::ptrdiff_t>(end));
    s.offsets.push_back(static_cast<std::int64_t>(s.tokens.size()));
  }
}

}  // namespace

Sequences read_sequences(const std::string& path, CorpusFormat format, std::int64_t max_length) {
  RECKON_CHECK_ARG(max_length >= 2, "maximum sentence length must be >= 2, got ", max_length);
  Sequences s;
  std::vector<std::string> tokens;
  if (format == CorpusFormat::kText) {
    std::ifstream in(path);
    if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
    std::string line;
    while (std::getline(in, line)) {
      tokens.clear();
      std::size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        const std::size_t start = i;
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i > start) tokens.emplace_back(line, start, i - start);
      }
      append_sentence(s, tokens, max_length);
    }
    if (in.bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path);
  } else {
    SessionLog log = read_session_log(path, format);
    s.skipped_rows = log.skipped_rows;
    s.first_errors = std::move(log.first_errors);
    for (auto& session : log.events) {
      tokens.clear();
      for (SessionEvent& e : session) tokens.push_back(std::move(e.item));
      append_sentence(s, tokens, max_length);
    }
  }
  if (s.tokens.empty() && s.skipped_rows > 0) {
    // Usually the wrong --format: show what the rows looked like.
    RECKON_THROW(StatusCode::kDataError, path, ": no items in the corpus (", to_string(format), " format; ",
                 s.skipped_rows, " malformed rows, the first: ", s.first_errors.front(), ")");
  }
  if (s.tokens.empty()) RECKON_THROW(StatusCode::kDataError, path, ": no items in the corpus (", to_string(format), " format)");
  return s;
}

SessionLog read_session_log(const std::string& path, CorpusFormat format) {
  RECKON_CHECK_ARG(format == CorpusFormat::kSessionsTsv || format == CorpusFormat::kDiginetica,
                   "a session log is sessions-tsv or diginetica, not ", to_string(format));
  session::ClickReadOptions options;
  options.format = format == CorpusFormat::kSessionsTsv ? session::ClickFormat::kSessionsTsv
                                                        : session::ClickFormat::kDiginetica;
  const session::ClickLog clicks = session::read_clicks(path, options);
  SessionLog log;
  log.ids = clicks.session_names;
  log.skipped_rows = clicks.skipped_rows;
  log.first_errors = clicks.first_errors;
  log.events.resize(log.ids.size());
  for (std::int64_t s = 0; s < clicks.sessions(); ++s) {
    for (std::int64_t i = clicks.begin(s); i < clicks.end(s); ++i) {
      const auto at = static_cast<std::size_t>(i);
      log.events[static_cast<std::size_t>(s)].push_back(
          {clicks.times[at], clicks.item_names[static_cast<std::size_t>(clicks.items[at])]});
    }
  }
  return log;
}

SessionSplit write_session_split(const SessionLog& log, double test_days, const std::string& directory) {
  RECKON_CHECK_ARG(test_days > 0 && std::isfinite(test_days), "test days must be positive, got ", test_days);
  if (log.size() == 0) RECKON_THROW(StatusCode::kDataError, "the session log is empty");
  double last = log.end_time(0);
  for (std::int64_t s = 1; s < log.size(); ++s) last = std::max(last, log.end_time(s));
  SessionSplit split;
  split.cutoff = last - test_days * 86400.0;
  split.train_path = directory + "/train.tsv";
  split.test_path = directory + "/test.tsv";
  const auto write = [&](const std::string& path, bool test, std::int64_t& sessions, std::int64_t& events) {
    write_file_atomically(path, [&](std::ostream& out) {
      out << "SessionId\tItemId\tTime\n";
      out.precision(15);
      for (std::int64_t s = 0; s < log.size(); ++s) {
        if ((log.end_time(s) > split.cutoff) != test) continue;
        ++sessions;
        for (const SessionEvent& e : log.events[static_cast<std::size_t>(s)]) {
          out << log.ids[static_cast<std::size_t>(s)] << '\t' << e.item << '\t' << e.time << '\n';
          ++events;
        }
      }
    });
  };
  write(split.train_path, false, split.train_sessions, split.train_events);
  write(split.test_path, true, split.test_sessions, split.test_events);
  if (split.train_sessions == 0 || split.test_sessions == 0) {
    RECKON_THROW(StatusCode::kDataError, "splitting off the last ", test_days, " days leaves ", split.train_sessions,
                 " training and ", split.test_sessions, " test sessions: choose another number of days");
  }
  return split;
}

std::int32_t ItemVocabulary::lookup(const std::string& token) const {
  const auto it = index_.find(token);
  return it == index_.end() ? -1 : it->second;
}

ItemVocabulary ItemVocabulary::from_tokens(std::vector<std::string> tokens, std::vector<std::int64_t> counts) {
  RECKON_CHECK_ARG(tokens.size() == counts.size(), "tokens and counts differ in number");
  RECKON_CHECK_ARG(tokens.size() < (std::size_t{1} << 31), "vocabulary too large");
  ItemVocabulary v;
  v.tokens = std::move(tokens);
  v.counts = std::move(counts);
  for (std::size_t i = 0; i < v.tokens.size(); ++i) {
    if (!v.index_.emplace(v.tokens[i], static_cast<std::int32_t>(i)).second) {
      RECKON_THROW(StatusCode::kDataError, "token '", v.tokens[i], "' appears twice in the vocabulary");
    }
  }
  return v;
}

ItemVocabulary ItemVocabulary::build(const Sequences& sequences, std::int64_t min_count, std::int64_t max_size) {
  RECKON_CHECK_ARG(min_count >= 1, "min_count must be >= 1, got ", min_count);
  std::unordered_map<std::string, std::int64_t> counts;
  for (const std::string& t : sequences.tokens) ++counts[t];
  std::vector<std::pair<std::int64_t, std::string>> kept;
  for (auto& [token, count] : counts) {
    if (count >= min_count) kept.emplace_back(-count, token);
  }
  std::sort(kept.begin(), kept.end());
  if (max_size > 0 && static_cast<std::int64_t>(kept.size()) > max_size) kept.resize(static_cast<std::size_t>(max_size));
  if (kept.empty()) {
    RECKON_THROW(StatusCode::kDataError, "no item occurs at least ", min_count, " times: the vocabulary is empty");
  }
  std::vector<std::string> tokens;
  std::vector<std::int64_t> c;
  for (auto& [negative, token] : kept) {
    tokens.push_back(std::move(token));
    c.push_back(-negative);
  }
  return from_tokens(std::move(tokens), std::move(c));
}

Corpus encode(const Sequences& sequences, const ItemVocabulary& vocabulary) {
  Corpus c;
  c.ids.reserve(sequences.tokens.size());
  for (std::int64_t s = 0; s < sequences.size(); ++s) {
    for (std::int64_t i = sequences.offsets[static_cast<std::size_t>(s)]; i < sequences.offsets[static_cast<std::size_t>(s) + 1]; ++i) {
      const std::int32_t id = vocabulary.lookup(sequences.tokens[static_cast<std::size_t>(i)]);
      if (id >= 0) c.ids.push_back(id);
    }
    if (static_cast<std::int64_t>(c.ids.size()) > c.offsets.back()) c.offsets.push_back(static_cast<std::int64_t>(c.ids.size()));
  }
  return c;
}

}  // namespace reckon::item2vec
