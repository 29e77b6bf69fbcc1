#include "reckon/models/item2vec/corpus.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

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

void report(Sequences& s, const std::string& where) {
  ++s.skipped_rows;
  if (s.first_errors.size() < 10) s.first_errors.push_back(where);
}

}  // namespace

Sequences read_sequences(const std::string& path, CorpusFormat format, std::int64_t max_length) {
  RECKON_CHECK_ARG(max_length >= 2, "maximum sentence length must be >= 2, got ", max_length);
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  Sequences s;
  std::string line;
  std::int64_t line_no = 0;
  if (format == CorpusFormat::kText) {
    std::vector<std::string> tokens;
    while (std::getline(in, line)) {
      ++line_no;
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
  } else {
    // Sessions: (session, time, item) rows, grouped by session in order of first appearance, then time order
    // (stable, so equal times keep file order).
    const bool tsv = format == CorpusFormat::kSessionsTsv;
    const char delimiter = tsv ? '\t' : ';';
    const std::size_t session_col = 0, item_col = tsv ? 1 : 2, time_col = tsv ? 2 : 3, columns = tsv ? 3 : 5;
    std::unordered_map<std::string, std::size_t> session_index;
    std::vector<std::vector<std::pair<double, std::string>>> sessions;
    std::vector<std::string_view> cols;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      split_fields(line, delimiter, cols);
      if (line_no == 1) {
        double unused = 0;
        const auto time_text = cols.size() > time_col ? cols[time_col] : std::string_view();
        if (std::from_chars(time_text.data(), time_text.data() + time_text.size(), unused).ec != std::errc()) continue;  // header
      }
      const std::string where = path + ":" + std::to_string(line_no) + ": ";
      if (cols.size() != columns) {
        report(s, where + "expected " + std::to_string(columns) + " columns, got " + std::to_string(cols.size()));
        continue;
      }
      double time = 0;
      const auto [end, ec] = std::from_chars(cols[time_col].data(), cols[time_col].data() + cols[time_col].size(), time);
      if (ec != std::errc() || end != cols[time_col].data() + cols[time_col].size() || !std::isfinite(time) ||
          cols[session_col].empty() || cols[item_col].empty()) {
        report(s, where + "needs a session, an item and a numeric time");
        continue;
      }
      const auto [it, added] = session_index.emplace(std::string(cols[session_col]), sessions.size());
      if (added) sessions.emplace_back();
      sessions[it->second].emplace_back(time, std::string(cols[item_col]));
    }
    std::vector<std::string> tokens;
    for (auto& session : sessions) {
      std::stable_sort(session.begin(), session.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      tokens.clear();
      for (auto& [time, item] : session) tokens.push_back(std::move(item));
      append_sentence(s, tokens, max_length);
    }
  }
  if (in.bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path);
  if (s.tokens.empty()) RECKON_THROW(StatusCode::kDataError, path, ": no items in the corpus (", to_string(format), " format)");
  return s;
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
