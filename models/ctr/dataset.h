// Click logs for CTR models: readers for Criteo (TSV or CSV with header), Avazu CSV, libffm and libsvm, a vocabulary per
// field (min-count threshold with one out-of-vocabulary id, or the hashing trick), and the in-memory dataset the
// trainer batches from.
//
// Every sample has the same F fields, each with one id (0 is the field's out-of-vocabulary / missing id) and a
// value (1 for categorical fields; the feature value for libffm). Criteo's integer features are bucketed as
// floor(ln(x)²) for x > 2 (the public CTR benchmarks' rule), their own value otherwise, so all fields are
// categorical.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reckon::ctr {

// libsvm rows are "label index:value ..." with no fields: the k-th item of a row is field k (the layout of the
// libsvm conversions of Criteo/Avazu that FM/DeepFM implementations read, one item per field in field order).
// Labels 0/1 or -1/+1.
enum class CtrFormat : std::uint8_t { kCriteo, kAvazu, kLibffm, kSchema, kLibsvm };
// "criteo", "avazu", "libffm", "libsvm"; throws kInvalidArgument otherwise
CtrFormat parse_format(const std::string& name);
const char* to_string(CtrFormat format) noexcept;

// A generic delimited format, described by a small text file of `key = value` lines ('#' starts a comment):
//   delimiter = ,                 one character, or "tab"
//   header = true                 the first line names the columns
//   label = click                 the label column (name with a header, else 0-based index); values 0 or 1
//   categorical = site, app       one field per column, the cell is the token
//   numeric = price, age          one field per column: the field's single row scaled by the value (missing: 0)
//   multi = genres:|              multi-valued: a bag of items (split on the character after ':'); the field's
//                                 vector is the mean of its items' (see CtrModelConfig::field_widths)
struct Schema {
  char delimiter = ',';
  bool header = true;
  std::string label;
  std::vector<std::string> categorical, numeric, multi;
  std::vector<char> multi_separators;
  std::string text;  // as read, for saving with a vocabulary
  static Schema parse(const std::string& text, const std::string& origin);
  static Schema load(const std::string& path);
  std::vector<std::string> field_names() const;
};

enum class BadRowPolicy : std::uint8_t { kSkip, kFail };

// Whether rows begin with (or, for a schema, hold) a label. Training and evaluation data do; data to be scored may
// not (Criteo's and Avazu's test files have no label column). kDetect decides from the first data row: Criteo with
// 39 columns, Avazu with 23, libffm/libsvm whose first item has a ':', a schema whose header lacks the label column.
enum class LabelColumn : std::uint8_t { kPresent, kAbsent, kDetect };

// One field's token → id map. Ids 1..size-1 are tokens by decreasing count (ties by token); 0 is everything else.
class FieldVocabulary {
 public:
  std::int32_t lookup(const std::string& token) const;
  std::int32_t size() const { return static_cast<std::int32_t>(tokens_.size()) + 1; }
  const std::vector<std::string>& tokens() const { return tokens_; }
  static FieldVocabulary from_counts(const std::unordered_map<std::string, std::int64_t>& counts,
                                     std::int64_t min_count);
  static FieldVocabulary from_tokens(std::vector<std::string> tokens);

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int32_t> ids_;
};

// The most items a multi-valued field keeps per row. Its width is the most distinct items a training row has, up
// to this; a row with more keeps the `width` most frequent (lowest ids).
inline constexpr int kMaxBagWidth = 64;

// The most fields a libffm or libsvm row may have (libffm field numbers 0 .. kMaxSparseFields - 1): a row's field
// number sizes every row of the data set, so a stray large one must not become a huge allocation.
inline constexpr std::int64_t kMaxSparseFields = 10000;

struct Vocabulary {
  CtrFormat format = CtrFormat::kCriteo;
  std::shared_ptr<const Schema> schema;  // kSchema only
  std::vector<std::string> field_names;
  std::vector<FieldVocabulary> fields;  // empty when hashing
  std::int64_t hash_buckets = 0;        // > 0: id = 1 + hash(token) mod buckets, no token tables
  std::vector<int> widths;              // per field: 1, or a multi-valued field's bag width (empty: all 1)
  std::int64_t field_count() const { return static_cast<std::int64_t>(field_names.size()); }
  std::vector<int> field_widths() const;  // widths, or all 1
  std::int64_t rows(std::int64_t field) const;  // table rows needed for the field
  std::vector<std::int64_t> field_rows() const;  // rows(f) of every field: the table sizes of a CtrModel
  std::int32_t lookup(std::int64_t field, const std::string& token) const;

  void save(std::ostream& out) const;
  static Vocabulary load(std::istream& in);
};

struct CtrDataset {
  std::int64_t fields = 0;
  std::vector<int> widths;           // per field (see BatchLayout in model.h); empty: all 1
  std::vector<float> labels;         // [N], 0 or 1 (all 0 when the rows had no label)
  bool labeled = true;               // false: the rows had no label column (ReadOptions::labels)
  std::vector<std::int32_t> ids;     // [N, columns]: one per single-valued field, `width` per multi-valued one
  std::vector<float> values;         // [N, columns]: feature values; a bag's items weigh 1/length, padding 0
  std::int64_t columns() const;
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  std::int64_t skipped_rows = 0;     // malformed rows skipped while reading
  std::vector<std::string> first_errors;  // up to 10 "file:line: reason" messages
};

struct ReadOptions {
  CtrFormat format = CtrFormat::kCriteo;
  BadRowPolicy bad_rows = BadRowPolicy::kSkip;
  std::int64_t max_rows = -1;  // < 0: all
  std::shared_ptr<const Schema> schema = nullptr;  // kSchema only
  LabelColumn labels = LabelColumn::kPresent;
  // Threads that parse rows (and map them through the vocabulary): 0 = OpenMP's default (all cores unless
  // OMP_NUM_THREADS says otherwise), 1 = the calling thread only. Results do not depend on it.
  int threads = 0;
};

// "criteo", "avazu", "libffm", "libsvm" or "schema:FILE" (the schema is read here).
ReadOptions read_options(const std::string& format, BadRowPolicy bad_rows = BadRowPolicy::kSkip);

// Builds the vocabulary from a training file (min_count > 0), or a hashing vocabulary (hash_buckets > 0).
Vocabulary build_vocabulary(const std::string& path, const ReadOptions& options, std::int64_t min_count,
                            std::int64_t hash_buckets = 0);
// Reads a file with a vocabulary (ids of unseen tokens are 0). Malformed rows (wrong column count, a label that is
// not 0 or 1, an unparsable libffm item) are reported with file and line, and skipped or fatal per options.
CtrDataset read_dataset(const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options);
// The same for rows held in memory (e.g. a serving request: lines in the model's format, with or without the label
// column under LabelColumn::kDetect); `origin` names them in error messages ("origin:line: reason").
CtrDataset parse_rows(std::string_view rows, const Vocabulary& vocabulary, const ReadOptions& options,
                      const std::string& origin = "rows");

// Refuses a file of which no row could be used, almost always the wrong format or the wrong file: kDataError
// "no row of PATH could be USE (N malformed; the first: ...)", or "PATH has no rows to be USE" for a file with no
// rows at all unless `allow_empty`. `use` says what the rows were for ("trained on", "scored").
void require_rows(std::int64_t rows, std::int64_t skipped_rows, const std::vector<std::string>& first_errors,
                  const std::string& path, const char* use, bool allow_empty);
inline void require_rows(const CtrDataset& data, const std::string& path, const char* use, bool allow_empty) {
  require_rows(data.size(), data.skipped_rows, data.first_errors, path, use, allow_empty);
}

// One schema-format row from its cells in field order (as Vocabulary::field_names: a multi-valued field's items
// joined by its separator, a numeric field's number as text, "" for a missing cell), mapped as read_dataset maps
// the same cells into the row's columns() ids and values (e.g. a serving request's features). kInvalidArgument for
// another format's vocabulary or a wrong count, kDataError for a numeric cell that is not a number.
void encode_schema_cells(const Vocabulary& vocabulary, std::span<const std::string> cells, std::span<std::int32_t> ids,
                         std::span<float> values);

// One row mapped through a vocabulary: `columns` ids and values (a bag's padding has id -1 and value 0; an empty
// bag is the field's missing id 0 with value 1).
struct Sample {
  float label;
  const std::int32_t* ids;
  const float* values;
};
// Streams a file's rows through `visit` without keeping them (for files larger than memory). Malformed rows are
// handled as in read_dataset; their count and first messages go to `report` (skipped_rows, first_errors), and
// whether the rows had labels to report.labeled.
std::int64_t for_each_row(const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options,
                          const std::function<void(const Sample&)>& visit, CtrDataset& report);

// Criteo's integer feature → token: "" when missing, floor(ln(x)²) bucket when x > 2, the integer otherwise.
std::string criteo_integer_token(const std::string& raw);

}  // namespace reckon::ctr
