// Item sequences for item2vec: sentences of a text, listening or shopping sessions. Readers, the vocabulary
// (items by decreasing count, min-count and max-size), and the corpus of ids the trainer batches from.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace reckon::item2vec {

// text: one sentence per line, tokens separated by whitespace.
// sessions-tsv: YooChoose-style TSV with a header: SessionId, ItemId, Time (unix seconds); a session's items in
//               time order, sessions in order of first appearance.
// diginetica: ';'-separated with a header: session_id;user_id;item_id;timeframe;eventdate; ordered by timeframe.
enum class CorpusFormat : std::uint8_t { kText, kSessionsTsv, kDiginetica };
CorpusFormat parse_corpus_format(const std::string& name);  // text | sessions-tsv | diginetica
const char* to_string(CorpusFormat format) noexcept;

// Sequences of tokens. Sentences longer than max_length are split into consecutive pieces (nothing is dropped;
// windows do not cross a split). Malformed rows are counted and the first messages kept as "file:line: reason".
struct Sequences {
  std::vector<std::string> tokens;
  std::vector<std::int64_t> offsets{0};  // sentence s is tokens[offsets[s], offsets[s + 1])
  std::int64_t skipped_rows = 0;
  std::vector<std::string> first_errors;
  std::int64_t size() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
};
inline constexpr std::int64_t kDefaultMaxSentence = 10000;
Sequences read_sequences(const std::string& path, CorpusFormat format, std::int64_t max_length = kDefaultMaxSentence);

// A session log (sessions-tsv or diginetica) kept with session ids and event times, for splitting it into training
// and held-out sessions, read by the session module's reader (session/clicks.h: times in unix seconds, malformed
// rows as "file:line: reason"). read_sequences reads these formats through it.
struct SessionEvent {
  double time;
  std::string item;
};
struct SessionLog {
  std::vector<std::string> ids;                   // sessions in order of first appearance
  std::vector<std::vector<SessionEvent>> events;  // each session's events in time order (ties keep file order)
  std::int64_t skipped_rows = 0;
  std::vector<std::string> first_errors;
  std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }
  double end_time(std::int64_t session) const { return events[static_cast<std::size_t>(session)].back().time; }
};
SessionLog read_session_log(const std::string& path, CorpusFormat format);

// Held-out sessions by time, the protocol of the session-recommendation literature (GRU4Rec, SR-GNN): a session
// that ends after cutoff = (the log's last event time − test_days days) is a test session, every other one a
// training session. Both halves are written as sessions-tsv (SessionId, ItemId, Time), atomically, to
// directory/train.tsv and directory/test.tsv. Throws kDataError when either half would be empty.
struct SessionSplit {
  std::string train_path, test_path;
  std::int64_t train_sessions = 0, test_sessions = 0, train_events = 0, test_events = 0;
  double cutoff = 0;
};
SessionSplit write_session_split(const SessionLog& log, double test_days, const std::string& directory);

struct ItemVocabulary {
  std::vector<std::string> tokens;   // by decreasing count, ties by token
  std::vector<std::int64_t> counts;
  std::int64_t size() const { return static_cast<std::int64_t>(tokens.size()); }
  std::int32_t lookup(const std::string& token) const;  // -1 when absent
  // Items seen at least min_count times, the max_size most frequent (max_size <= 0: all). Throws kDataError when
  // nothing is left.
  static ItemVocabulary build(const Sequences& sequences, std::int64_t min_count, std::int64_t max_size = 0);
  static ItemVocabulary from_tokens(std::vector<std::string> tokens, std::vector<std::int64_t> counts);

 private:
  std::unordered_map<std::string, std::int32_t> index_;
};

// Sequences as vocabulary ids; out-of-vocabulary tokens are dropped (as word2vec does).
struct Corpus {
  std::vector<std::int32_t> ids;
  std::vector<std::int64_t> offsets{0};
  std::int64_t words() const { return static_cast<std::int64_t>(ids.size()); }
};
Corpus encode(const Sequences& sequences, const ItemVocabulary& vocabulary);

}  // namespace reckon::item2vec
