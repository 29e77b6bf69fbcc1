#include "reckon/models/ctr/dataset.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <fstream>
#include <functional>
#include <istream>
#include <limits>
#include <memory>
#include <new>
#include <ostream>
#include <sstream>
#include <string_view>

#include "reckon/models/ctr/row_format.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::ctr {

CtrFormat parse_format(const std::string& name) {
  if (name == "criteo") return CtrFormat::kCriteo;
  if (name == "avazu") return CtrFormat::kAvazu;
  if (name == "libffm") return CtrFormat::kLibffm;
  if (name == "libsvm") return CtrFormat::kLibsvm;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown CTR format '", name,
               "': expected criteo, avazu, libffm, libsvm or schema:FILE");
}

const char* to_string(CtrFormat format) noexcept {
  switch (format) {
    case CtrFormat::kCriteo: return "criteo";
    case CtrFormat::kAvazu: return "avazu";
    case CtrFormat::kLibffm: return "libffm";
    case CtrFormat::kSchema: return "schema";
    case CtrFormat::kLibsvm: return "libsvm";
  }
  return "?";
}

namespace {
std::string trim(const std::string& s) {
  const std::size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}
std::vector<std::string> comma_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!trim(item).empty()) out.push_back(trim(item));
  }
  return out;
}
}  // namespace

Schema Schema::parse(const std::string& text, const std::string& origin) {
  Schema s;
  s.text = text;
  std::stringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string body = trim(line.substr(0, line.find('#')));
    if (body.empty()) continue;
    const std::size_t eq = body.find('=');
    if (eq == std::string::npos) RECKON_THROW(StatusCode::kDataError, origin, ":", line_no, ": expected key = value");
    const std::string key = trim(body.substr(0, eq)), value = trim(body.substr(eq + 1));
    if (key == "delimiter") {
      if (value == "tab") {
        s.delimiter = '\t';
      } else if (value.size() == 1) {
        s.delimiter = value[0];
      } else {
        RECKON_THROW(StatusCode::kDataError, origin, ":", line_no, ": delimiter must be one character or 'tab'");
      }
    } else if (key == "header") {
      s.header = value == "true" || value == "1" || value == "yes";
    } else if (key == "label") {
      s.label = value;
    } else if (key == "categorical") {
      s.categorical = comma_list(value);
    } else if (key == "numeric") {
      s.numeric = comma_list(value);
    } else if (key == "multi") {
      for (const std::string& item : comma_list(value)) {
        const std::size_t colon = item.rfind(':');
        if (colon == std::string::npos || colon + 2 != item.size()) {
          RECKON_THROW(StatusCode::kDataError, origin, ":", line_no, ": multi-valued column '", item,
                       "' needs a one-character separator, as genres:|");
        }
        s.multi.push_back(item.substr(0, colon));
        s.multi_separators.push_back(item.back());
      }
    } else {
      RECKON_THROW(StatusCode::kDataError, origin, ":", line_no, ": unknown key '", key, "'");
    }
  }
  if (s.label.empty()) RECKON_THROW(StatusCode::kDataError, origin, ": the schema names no label column");
  if (s.categorical.empty() && s.numeric.empty() && s.multi.empty()) {
    RECKON_THROW(StatusCode::kDataError, origin, ": the schema names no feature columns");
  }
  return s;
}

Schema Schema::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open schema ", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::vector<std::string> Schema::field_names() const {
  std::vector<std::string> names = categorical;
  names.insert(names.end(), numeric.begin(), numeric.end());
  names.insert(names.end(), multi.begin(), multi.end());
  return names;
}

ReadOptions read_options(const std::string& format, BadRowPolicy bad_rows) {
  ReadOptions o;
  o.bad_rows = bad_rows;
  if (format.rfind("schema:", 0) == 0) {
    o.format = CtrFormat::kSchema;
    o.schema = std::make_shared<const Schema>(Schema::load(format.substr(7)));
  } else {
    o.format = parse_format(format);
  }
  return o;
}

std::int32_t FieldVocabulary::lookup(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? 0 : it->second;
}

FieldVocabulary FieldVocabulary::from_tokens(std::vector<std::string> tokens) {
  FieldVocabulary v;
  v.tokens_ = std::move(tokens);
  for (std::size_t i = 0; i < v.tokens_.size(); ++i) v.ids_.emplace(v.tokens_[i], static_cast<std::int32_t>(i + 1));
  return v;
}

FieldVocabulary FieldVocabulary::from_counts(const std::unordered_map<std::string, std::int64_t>& counts,
                                             std::int64_t min_count) {
  std::vector<std::pair<std::int64_t, std::string>> kept;
  for (const auto& [token, count] : counts) {
    if (count >= min_count) kept.emplace_back(-count, token);
  }
  std::sort(kept.begin(), kept.end());
  std::vector<std::string> tokens;
  tokens.reserve(kept.size());
  for (auto& [negative_count, token] : kept) tokens.push_back(std::move(token));
  return from_tokens(std::move(tokens));
}

std::vector<int> Vocabulary::field_widths() const {
  return widths.empty() ? std::vector<int>(field_names.size(), 1) : widths;
}

std::int64_t CtrDataset::columns() const {
  std::int64_t c = 0;
  for (int w : widths) c += w;
  return widths.empty() ? fields : c;
}

std::int64_t Vocabulary::rows(std::int64_t field) const {
  if (hash_buckets > 0) return hash_buckets + 1;
  return fields[static_cast<std::size_t>(field)].size();
}

std::vector<std::int64_t> Vocabulary::field_rows() const {
  std::vector<std::int64_t> out;
  for (std::int64_t f = 0; f < field_count(); ++f) out.push_back(rows(f));
  return out;
}

std::int32_t Vocabulary::lookup(std::int64_t field, const std::string& token) const {
  if (token.empty()) return 0;
  if (hash_buckets > 0) {
    // FNV-1a with the field mixed in: stable across platforms and runs, unlike std::hash.
    std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(field + 1) * 0x9E3779B97F4A7C15ull;
    for (unsigned char c : token) h = (h ^ c) * 1099511628211ull;
    return static_cast<std::int32_t>(1 + h % static_cast<std::uint64_t>(hash_buckets));
  }
  return fields[static_cast<std::size_t>(field)].lookup(token);
}

void Vocabulary::save(std::ostream& out) const {
  // Version 2 adds each field's width.
  out << "reckon-vocabulary 2\n" << to_string(format) << ' ' << hash_buckets << ' ' << field_names.size() << '\n';
  if (format == CtrFormat::kSchema) out << schema->text.size() << '\n' << schema->text;
  const std::vector<int> w = field_widths();
  for (std::size_t f = 0; f < field_names.size(); ++f) {
    const std::size_t n = hash_buckets > 0 ? 0 : fields[f].tokens().size();
    out << field_names[f] << ' ' << n << ' ' << w[f] << '\n';
    if (hash_buckets == 0) {
      for (const std::string& t : fields[f].tokens()) out << t << '\n';
    }
  }
}

Vocabulary Vocabulary::load(std::istream& in) {
  std::string magic, format;
  int version = 0;
  std::size_t count = 0;
  Vocabulary v;
  if (!(in >> magic >> version) || magic != "reckon-vocabulary" || version < 1 || version > 2) {
    RECKON_THROW(StatusCode::kDataError, "not a reckon vocabulary (version 1 or 2)");
  }
  if (!(in >> format >> v.hash_buckets >> count) || v.hash_buckets < 0) {
    RECKON_THROW(StatusCode::kDataError, "truncated or damaged vocabulary header");
  }
  // Counts read from the stream size nothing up front: a damaged count runs into the end of the stream instead.
  if (format == "schema") {
    v.format = CtrFormat::kSchema;
    std::size_t n = 0;
    if (!(in >> n)) RECKON_THROW(StatusCode::kDataError, "truncated vocabulary schema");
    in.ignore(1);
    std::string text;
    char chunk[4096];
    while (text.size() < n) {
      const std::size_t want = std::min(sizeof(chunk), n - text.size());
      if (!in.read(chunk, static_cast<std::streamsize>(want))) {
        RECKON_THROW(StatusCode::kDataError, "truncated vocabulary schema");
      }
      text.append(chunk, want);
    }
    v.schema = std::make_shared<const Schema>(Schema::parse(text, "saved schema"));
  } else {
    v.format = parse_format(format);
  }
  for (std::size_t f = 0; f < count; ++f) {
    std::string name;
    std::size_t n = 0;
    int width = 1;
    if (!(in >> name >> n) || (version >= 2 && !(in >> width))) {
      RECKON_THROW(StatusCode::kDataError, "truncated vocabulary at field ", f);
    }
    if (width < 1 || width > kMaxBagWidth) RECKON_THROW(StatusCode::kDataError, "field ", name, ": bad width ", width);
    in.ignore(1);
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < n; ++i) {
      std::string token;
      if (!std::getline(in, token)) RECKON_THROW(StatusCode::kDataError, "truncated vocabulary in field ", name);
      tokens.push_back(std::move(token));
    }
    v.field_names.push_back(name);
    v.widths.push_back(width);
    if (v.hash_buckets == 0) v.fields.push_back(FieldVocabulary::from_tokens(std::move(tokens)));
  }
  return v;
}

std::string criteo_integer_token(const std::string& raw) {
  if (raw.empty()) return "";
  double x = 0;
  if (!parse_field(raw, x)) return std::string("?").append(raw);  // not a number
  if (x > 2) {
    const double l = std::log(x);
    return std::string("b").append(std::to_string(static_cast<long long>(std::floor(l * l))));
  }
  return std::to_string(static_cast<long long>(std::floor(x)));
}

namespace {

using detail::kItemSeparator;
using detail::Row;

// Split a multi-valued field's token into its items.
std::vector<std::string> split_items(const std::string& token) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start < token.size()) {
    const std::size_t end = std::min(token.find(kItemSeparator, start), token.size());
    if (end > start) items.push_back(token.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// The first field index of the schema's multi-valued fields (fields are categorical, numeric, then multi).
std::size_t first_multi_field(const Vocabulary& v) {
  if (v.format != CtrFormat::kSchema || !v.schema) return static_cast<std::size_t>(v.field_count());
  return static_cast<std::size_t>(v.field_count()) - v.schema->multi.size();
}

// Streams a file's rows through `visit(row, where)`; returns the field names (from the header or the format).
// fields_hint: libffm's or libsvm's field count (0 while building the vocabulary: then it grows with the data).
class RowReader {
 public:
  RowReader(const std::string& path, const ReadOptions& options, std::int64_t fields_hint)
      : RowReader(std::make_unique<std::ifstream>(path), path, options, fields_hint) {
    if (!*in_) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  }
  // Rows from any stream (e.g. a request held in memory); `origin` stands for the file name in messages.
  RowReader(std::unique_ptr<std::istream> in, const std::string& origin, const ReadOptions& options,
            std::int64_t fields_hint)
      : path_(origin), options_(options), in_(std::move(in)), format_(detail::make_row_format(options, origin, fields_hint)) {
    // The stream's length, for expected_rows(); a stream that cannot seek (a pipe) is read as it is.
    if (*in_) {
      in_->seekg(0, std::ios::end);
      const std::streamoff end = in_->tellg();
      in_->seekg(0, std::ios::beg);
      if (end < 0 || !*in_) {
        in_->clear();
      } else {
        total_bytes_ = end;
      }
    }
  }

  // The stream's length in bytes (-1 when it cannot seek).
  std::int64_t stream_bytes() const { return total_bytes_; }
  // Rows the whole stream should hold, from the length of the lines read so far (-1 when unknown); lets a
  // reader size its arrays once instead of growing them.
  std::int64_t expected_rows() const {
    if (total_bytes_ < 0 || bytes_read_ == 0) return -1;
    return static_cast<std::int64_t>(static_cast<double>(total_bytes_) * static_cast<double>(lines_read_) /
                                     static_cast<double>(bytes_read_));
  }

  // Whether the rows have labels (decided on the first data row under LabelColumn::kDetect; true before it).
  bool labeled() const { return format_->labeled(); }
  // Rows may have more fields than seen so far: the vocabulary pass over a sparse format.
  void grow_fields() { format_->grow_fields(); }

  // The threads run() parses on; map's `worker` argument is below this.
  int threads() const { return options_.threads > 0 ? options_.threads : std::max(1, omp_get_max_threads()); }

  // One line of a block: its text and number, and once parsed, the row (or why not) and what `map` made of it.
  template <typename Slot>
  struct Line {
    std::string text;
    std::int64_t number = 0;
    bool ok = false;
    std::string reason;
    Row row;
    Slot slot;
  };

  // Parses every line and calls visit(row, slot) for each good row in file order; counts and reports bad ones
  // (or throws at the first under BadRowPolicy::kFail). Returns the number of rows read.
  // Lines are read in blocks and parsed on threads() threads, where map(row, slot, worker) also runs: it may only
  // read shared state (a vocabulary lookup) and write what belongs to its slot or its worker (0 <= worker <
  // threads(), one thread per worker at a time). visit runs on the calling thread. The first data line is parsed
  // alone, since it settles what every later line is parsed by (the label column, the schema's columns); past it,
  // parse() only reads the reader's state, so lines can be parsed in any order with the same result.
  template <typename Slot, typename Map, typename Visit>
  std::int64_t run(Map map, Visit visit, CtrDataset* report) {
    constexpr std::size_t kBlockLines = 4096;
    constexpr std::size_t kParallelLines = 256;  // below this, starting threads costs more than it saves
    const int threads = this->threads();
    std::vector<Line<Slot>> block;  // grows to kBlockLines as lines come, so a short request stays small
    std::int64_t line_no = 0, rows = 0;
    bool settled = false;
    std::vector<std::string_view> cols;
    for (;;) {
      std::size_t n = 0;
      const std::size_t wanted = settled ? kBlockLines : 1;
      while (n < wanted) {
        if (n == block.size()) block.emplace_back();
        if (!std::getline(*in_, block[n].text)) break;
        std::string& text = block[n].text;
        ++line_no;
        ++lines_read_;
        bytes_read_ += static_cast<std::int64_t>(text.size()) + 1;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.empty()) continue;
        if (line_no == 1 && format_->is_header(text)) continue;
        block[n++].number = line_no;
      }
      if (n == 0) break;
      const auto parse_line = [&](Line<Slot>& line, std::vector<std::string_view>& scratch, int worker) {
        line.reason.clear();
        line.ok = format_->parse(line.text, line.row, scratch, line.reason);
        if (line.ok) map(line.row, line.slot, worker);
      };
      if (!settled || threads <= 1 || n < kParallelLines) {
        for (std::size_t i = 0; i < n; ++i) parse_line(block[i], cols, 0);
      } else {
        std::exception_ptr failure;  // an exception must not leave an OpenMP region
#pragma omp parallel num_threads(threads)
        {
          std::vector<std::string_view> scratch;
          const int worker = omp_get_thread_num();  // in this region's team: below `threads`
#pragma omp for schedule(static)
          for (std::size_t i = 0; i < n; ++i) {
            try {
              parse_line(block[i], scratch, worker);
            } catch (...) {
#pragma omp critical(reckon_row_reader)
              if (!failure) failure = std::current_exception();
            }
          }
        }
        if (failure) std::rethrow_exception(failure);
      }
      settled = true;
      for (std::size_t i = 0; i < n; ++i) {
        Line<Slot>& line = block[i];
        if (!line.ok) {
          const std::string where = path_ + ":" + std::to_string(line.number) + ": " + line.reason;
          if (options_.bad_rows == BadRowPolicy::kFail) RECKON_THROW(StatusCode::kDataError, where);
          if (report != nullptr) {
            ++report->skipped_rows;
            if (report->first_errors.size() < 10) report->first_errors.push_back(where);
          }
          continue;
        }
        format_->accept(line.row);
        visit(line.row, line.slot);
        if (++rows == options_.max_rows) return rows;
      }
    }
    if (in_->bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path_);
    return rows;
  }

  std::vector<std::string> field_names() const { return format_->field_names(); }

 private:
  std::string path_;
  ReadOptions options_;
  std::unique_ptr<std::istream> in_;
  std::unique_ptr<detail::RowFormat> format_;
  std::int64_t total_bytes_ = -1, bytes_read_ = 0, lines_read_ = 0;
};

}  // namespace

Vocabulary build_vocabulary(const std::string& path, const ReadOptions& options, std::int64_t min_count,
                            std::int64_t hash_buckets) {
  RECKON_CHECK_ARG(min_count >= 1 || hash_buckets > 0, "min_count must be >= 1, got ", min_count);
  RECKON_CHECK_ARG(options.format != CtrFormat::kSchema || options.schema, "the schema format needs a schema");
  RowReader reader(path, options, 0);
  reader.grow_fields();
  const std::size_t first_multi =
      options.format == CtrFormat::kSchema ? options.schema->field_names().size() - options.schema->multi.size()
                                           : std::numeric_limits<std::size_t>::max();
  // Token counts and bag widths per field, one set per parsing thread, added up at the end (the vocabulary sorts
  // tokens by count, then text, so the order of counting does not matter). With max_rows, rows are counted on the
  // calling thread, in order, since a parsed block may run past the last row to keep.
  struct Counts {
    std::vector<std::unordered_map<std::string, std::int64_t>> tokens;
    std::vector<int> widths;
  };
  const bool count_while_parsing = options.max_rows < 0;
  std::vector<Counts> counts(static_cast<std::size_t>(reader.threads()));
  const auto count = [&](const Row& row, Counts& c) {
    if (c.tokens.size() < row.tokens.size()) c.tokens.resize(row.tokens.size());
    if (c.widths.size() < row.tokens.size()) c.widths.resize(row.tokens.size(), 1);
    for (std::size_t f = 0; f < row.tokens.size(); ++f) {
      if (row.tokens[f].empty()) continue;
      if (f < first_multi) {
        if (hash_buckets == 0) ++c.tokens[f][row.tokens[f]];
        continue;
      }
      const std::vector<std::string> items = split_items(row.tokens[f]);
      c.widths[f] = std::max(c.widths[f], std::min(static_cast<int>(items.size()), kMaxBagWidth));
      if (hash_buckets == 0) {
        for (const std::string& item : items) ++c.tokens[f][item];
      }
    }
  };
  CtrDataset skipped;  // only its skipped-row report is used
  struct Nothing {};
  const std::int64_t rows = reader.run<Nothing>(
      [&](const Row& row, Nothing&, int worker) {
        if (count_while_parsing) count(row, counts[static_cast<std::size_t>(worker)]);
      },
      [&](const Row& row, Nothing&) {
        if (!count_while_parsing) count(row, counts[0]);
      },
      &skipped);
  Counts& total = counts[0];
  for (std::size_t t = 1; t < counts.size(); ++t) {
    if (total.tokens.size() < counts[t].tokens.size()) total.tokens.resize(counts[t].tokens.size());
    if (total.widths.size() < counts[t].widths.size()) total.widths.resize(counts[t].widths.size(), 1);
    for (std::size_t f = 0; f < counts[t].tokens.size(); ++f) {
      for (const auto& [token, n] : counts[t].tokens[f]) total.tokens[f][token] += n;
      counts[t].tokens[f].clear();
    }
    for (std::size_t f = 0; f < counts[t].widths.size(); ++f)
      total.widths[f] = std::max(total.widths[f], counts[t].widths[f]);
  }
  std::vector<int>& widths = total.widths;
  if (rows == 0 && skipped.skipped_rows > 0) {
    // Usually the wrong --format: say what the rows looked like rather than only that none was usable.
    RECKON_THROW(StatusCode::kDataError, path, ": no valid rows to build a vocabulary from (", skipped.skipped_rows,
                 " malformed; the first: ", skipped.first_errors.front(), ")");
  }
  if (rows == 0) RECKON_THROW(StatusCode::kDataError, path, ": no rows to build a vocabulary from");
  Vocabulary v;
  v.format = options.format;
  v.schema = options.schema;
  v.field_names = reader.field_names();
  v.hash_buckets = hash_buckets;
  if (first_multi < v.field_names.size()) {
    widths.resize(v.field_names.size(), 1);
    v.widths = widths;
  }
  if (hash_buckets == 0) {
    total.tokens.resize(v.field_names.size());
    for (const auto& c : total.tokens) v.fields.push_back(FieldVocabulary::from_counts(c, min_count));
  }
  return v;
}

namespace {

// The reading options with the vocabulary's schema filled in, once the format is checked against the vocabulary's.
ReadOptions options_for(const Vocabulary& vocabulary, const ReadOptions& options) {
  RECKON_CHECK_ARG(options.format == vocabulary.format, "file format ", to_string(options.format),
                   " differs from the vocabulary's ", to_string(vocabulary.format));
  ReadOptions with_schema = options;
  if (with_schema.format == CtrFormat::kSchema && !with_schema.schema) with_schema.schema = vocabulary.schema;
  return with_schema;
}

// A row's ids and values through the vocabulary (made on a parsing thread), and a bag's scratch.
struct MappedRow {
  std::vector<std::int32_t> ids, bag;
  std::vector<float> values;
};

// A row's tokens through the vocabulary into `columns` ids and values.
void map_row(const Vocabulary& vocabulary, const std::vector<int>& widths, std::size_t first_multi, std::size_t columns,
             const Row& row, MappedRow& mapped) {
  const std::size_t fields = widths.size();
  std::vector<std::int32_t>& ids = mapped.ids;
  std::vector<std::int32_t>& bag = mapped.bag;
  std::vector<float>& values = mapped.values;
  ids.resize(columns);
  values.resize(columns);
  std::size_t c = 0;
  for (std::size_t f = 0; f < fields; ++f) {
    const auto width = static_cast<std::size_t>(widths[f]);
    if (f < first_multi) {
      ids[c] = vocabulary.lookup(static_cast<std::int64_t>(f), row.tokens[f]);
      values[c++] = row.values[f];
      continue;
    }
    // A bag: its distinct known items by id (most frequent first), unknown ones as the missing id, at most
    // `width`; each weighs 1/length so the field's vector is their mean. Empty: the missing id alone.
    bag.clear();
    for (const std::string& item : split_items(row.tokens[f])) {
      bag.push_back(vocabulary.lookup(static_cast<std::int64_t>(f), item));
    }
    std::sort(bag.begin(), bag.end(), [](std::int32_t a, std::int32_t b) {
      return a != 0 && (b == 0 || a < b);  // 0 (unknown) last
    });
    if (bag.empty()) bag.push_back(0);
    const std::size_t kept = std::min(bag.size(), width);
    for (std::size_t k = 0; k < width; ++k) {
      ids[c + k] = k < kept ? bag[k] : -1;
      values[c + k] = k < kept ? 1.0f / static_cast<float>(kept) : 0.0f;
    }
    c += width;
  }
}

// Maps each good row of `reader` through the vocabulary to `visit`.
std::int64_t map_rows(RowReader& reader, const Vocabulary& vocabulary, const std::function<void(const Sample&)>& visit,
                      CtrDataset& report) {
  const std::vector<int> widths = vocabulary.field_widths();
  const std::size_t first_multi = first_multi_field(vocabulary);
  std::size_t columns = 0;
  for (int w : widths) columns += static_cast<std::size_t>(w);
  const std::int64_t rows = reader.run<MappedRow>(
      [&](const Row& row, MappedRow& mapped, int) {
        map_row(vocabulary, widths, first_multi, columns, row, mapped);
      },
      [&](const Row& row, const MappedRow& mapped) {
        visit(Sample{row.label, mapped.ids.data(), mapped.values.data()});
      },
      &report);
  report.labeled = reader.labeled();
  return rows;
}

CtrDataset dataset_from(RowReader& reader, const Vocabulary& vocabulary) {
  CtrDataset d;
  d.fields = vocabulary.field_count();
  d.widths = vocabulary.widths;
  const auto fields = static_cast<std::size_t>(d.columns());
  map_rows(
      reader, vocabulary,
      [&](const Sample& s) {
        // At the second row the first block of lines has been read: size the arrays for the whole file at once
        // (growing them would copy them and fault in fresh pages at each doubling).
        // An estimate from unusually short first lines could be far too high, so the arrays reserved are capped
        // at four times the file's size.
        if (d.labels.size() == 1) {
          const auto row_bytes =
              static_cast<std::int64_t>(sizeof(float) + fields * (sizeof(std::int32_t) + sizeof(float)));
          const std::int64_t most = std::max<std::int64_t>(0, reader.stream_bytes()) * 4 / row_bytes;
          const auto rows =
              static_cast<std::size_t>(std::min(most, std::max<std::int64_t>(0, reader.expected_rows()) * 21 / 20));
          try {
            d.labels.reserve(rows);
            d.ids.reserve(rows * fields);
            d.values.reserve(rows * fields);
          } catch (const std::bad_alloc&) {
            // Only a hint: the arrays grow as rows come instead.
          }
        }
        d.labels.push_back(s.label);
        d.ids.insert(d.ids.end(), s.ids, s.ids + fields);
        d.values.insert(d.values.end(), s.values, s.values + fields);
      },
      d);
  return d;
}

}  // namespace

void require_rows(std::int64_t rows, std::int64_t skipped_rows, const std::vector<std::string>& first_errors,
                  const std::string& path, const char* use, bool allow_empty) {
  if (rows > 0) return;
  if (skipped_rows > 0) {
    RECKON_THROW(StatusCode::kDataError, "no row of ", path, " could be ", use, " (", skipped_rows,
                 " malformed; the first: ", first_errors.front(), ")");
  }
  if (!allow_empty) RECKON_THROW(StatusCode::kDataError, path, " has no rows to be ", use);
}

std::int64_t for_each_row(const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options,
                          const std::function<void(const Sample&)>& visit, CtrDataset& report) {
  RowReader reader(path, options_for(vocabulary, options), vocabulary.field_count());
  return map_rows(reader, vocabulary, visit, report);
}

CtrDataset read_dataset(const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options) {
  RowReader reader(path, options_for(vocabulary, options), vocabulary.field_count());
  return dataset_from(reader, vocabulary);
}

CtrDataset parse_rows(std::string_view rows, const Vocabulary& vocabulary, const ReadOptions& options,
                      const std::string& origin) {
  RowReader reader(std::make_unique<std::istringstream>(std::string(rows)), origin, options_for(vocabulary, options),
                   vocabulary.field_count());
  return dataset_from(reader, vocabulary);
}

void encode_schema_cells(const Vocabulary& vocabulary, std::span<const std::string> cells, std::span<std::int32_t> ids,
                         std::span<float> values) {
  RECKON_CHECK_ARG(vocabulary.format == CtrFormat::kSchema && vocabulary.schema, "encoding cells needs a schema-format vocabulary");
  RECKON_CHECK_ARG(static_cast<std::int64_t>(cells.size()) == vocabulary.field_count(), "a row of this vocabulary has ",
                   vocabulary.field_count(), " fields, got ", cells.size(), " cells");
  const std::vector<int> widths = vocabulary.field_widths();
  std::size_t columns = 0;
  for (const int w : widths) columns += static_cast<std::size_t>(w);
  RECKON_CHECK_ARG(ids.size() == columns && values.size() == columns, "a row of this vocabulary has ", columns, " columns");
  const std::vector<std::string_view> views(cells.begin(), cells.end());
  Row row;
  std::string reason;
  if (!detail::schema_row(*vocabulary.schema, views, row, reason)) RECKON_THROW(StatusCode::kDataError, reason);
  MappedRow mapped;
  map_row(vocabulary, widths, first_multi_field(vocabulary), columns, row, mapped);
  std::copy(mapped.ids.begin(), mapped.ids.end(), ids.begin());
  std::copy(mapped.values.begin(), mapped.values.end(), values.begin());
}

}  // namespace reckon::ctr
