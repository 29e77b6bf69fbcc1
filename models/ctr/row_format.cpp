#include "reckon/models/ctr/row_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::ctr::detail {
namespace {

// libsvm's signed labels: -1 is no click, +1 a click.
bool parse_signed_label(std::string_view s, float& label) {
  if (s == "-1" || s == "+1") {
    label = s == "+1" ? 1.0f : 0.0f;
    return true;
  }
  return false;
}

bool parse_label(std::string_view s, float& label) {
  if (s == "0" || s == "0.0" || s == "1" || s == "1.0") {
    label = s[0] == '1' ? 1.0f : 0.0f;
    return true;
  }
  return false;
}

char delimiter_of(const std::string& line) { return line.find('\t') != std::string::npos ? '\t' : ','; }

// Criteo and Avazu: tab- or comma-delimited (by the line), a fixed number of columns, the label (when present) in
// a fixed column.
class FixedColumnsFormat : public RowFormat {
 public:
  bool is_header(const std::string& line) override {
    std::vector<std::string_view> cols;
    split_fields(line, delimiter_of(line), cols);
    if (labeled_ == 1) {
      float label = 0;
      if (cols.size() > label_column_ && parse_label(cols[label_column_], label)) return false;
    } else if (double number = 0; cols.empty() || cols[0].empty() || parse_field(cols[0], number)) {
      // Without a label to test, a header is a first line naming the column where data has a number (Criteo's I1
      // or label, Avazu's id).
      return false;
    }
    // A header has a data row's column count (with or without the label); any other first line is a malformed row,
    // reported as such rather than skipped unseen.
    if (cols.size() != columns_ && cols.size() != columns_ + 1) return false;
    take_header_names(cols);
    return true;
  }

  bool parse(const std::string& line, Row& row, std::vector<std::string_view>& cols, std::string& reason) override {
    split_fields(line, delimiter_of(line), cols);
    if (labeled_ < 0) labeled_ = cols.size() == columns_ ? 0 : 1;
    const std::size_t shift = labeled_ != 0 ? 1 : 0, expected = columns_ + shift;
    if (cols.size() != expected) {
      reason = "expected " + std::to_string(expected) + " columns, got " + std::to_string(cols.size());
      if (labeled_ != 0 && cols.size() == columns_) reason += " (rows without a label column?)";
      return false;
    }
    row.label = 0;
    if (labeled_ != 0 && !parse_label(cols[label_column_], row.label)) {
      reason = "label '" + std::string(cols[label_column_]) + "' is not 0 or 1";
      return false;
    }
    row.tokens.clear();
    take_tokens(cols, shift, row);
    row.values.assign(row.tokens.size(), 1.0f);
    return true;
  }

 protected:
  // columns: a row's without the label.
  FixedColumnsFormat(LabelColumn labels, std::size_t columns, std::size_t label_column)
      : RowFormat(labels), columns_(columns), label_column_(label_column) {}
  virtual void take_header_names(const std::vector<std::string_view>& cols) { (void)cols; }
  // The row's tokens from its columns, the label's column (if any) at `label_column_` and the others shifted by
  // `shift`.
  virtual void take_tokens(const std::vector<std::string_view>& cols, std::size_t shift, Row& row) const = 0;

 private:
  std::size_t columns_, label_column_;
};

// Criteo: [label,] I1..I13 (integers, bucketed by criteo_integer_token), C1..C26.
class CriteoFormat final : public FixedColumnsFormat {
 public:
  static constexpr std::size_t kIntegerColumns = 13, kCategoricalColumns = 26;
  explicit CriteoFormat(LabelColumn labels) : FixedColumnsFormat(labels, kIntegerColumns + kCategoricalColumns, 0) {}
  std::vector<std::string> field_names() const override {
    std::vector<std::string> names;
    for (std::size_t i = 1; i <= kIntegerColumns; ++i) names.push_back(std::string("I").append(std::to_string(i)));
    for (std::size_t i = 1; i <= kCategoricalColumns; ++i) names.push_back(std::string("C").append(std::to_string(i)));
    return names;
  }

 private:
  void take_tokens(const std::vector<std::string_view>& cols, std::size_t shift, Row& row) const override {
    for (std::size_t c = shift; c < shift + kIntegerColumns; ++c) {
      row.tokens.push_back(criteo_integer_token(std::string(cols[c])));
    }
    for (std::size_t c = shift + kIntegerColumns; c < cols.size(); ++c) row.tokens.emplace_back(cols[c]);
  }
};

// Avazu: id, [click,] hour (YYMMDDHH: its hour of day is the field), then the feature columns.
class AvazuFormat final : public FixedColumnsFormat {
 public:
  static constexpr std::size_t kFeatureColumns = 21;
  explicit AvazuFormat(LabelColumn labels) : FixedColumnsFormat(labels, 2 + kFeatureColumns, 1) {
    names_ = {"hour_of_day"};
    for (std::size_t i = 0; i < kFeatureColumns; ++i) names_.push_back(std::string("c").append(std::to_string(i)));
  }
  std::vector<std::string> field_names() const override { return names_; }

 private:
  void take_header_names(const std::vector<std::string_view>& cols) override {
    names_ = {"hour_of_day"};
    for (std::size_t c = cols.size() - kFeatureColumns; c < cols.size(); ++c) names_.emplace_back(cols[c]);
  }
  void take_tokens(const std::vector<std::string_view>& cols, std::size_t shift, Row& row) const override {
    const std::string_view hour = cols[1 + shift];
    row.tokens.emplace_back(hour.size() >= 2 ? hour.substr(hour.size() - 2) : hour);
    for (std::size_t c = 2 + shift; c < cols.size(); ++c) row.tokens.emplace_back(cols[c]);
  }
  std::vector<std::string> names_;
};

// A schema-described delimited file: columns by header name or index; categorical, numeric and multi-valued fields.
bool take_numeric(std::string_view cell, const std::string& name, Row& row, std::string& reason) {
  float value = 0;
  if (!cell.empty() && (!parse_field(cell, value) || !std::isfinite(value))) {
    reason = "numeric column '" + name + "' holds '" + std::string(cell) + "'";
    return false;
  }
  row.tokens.emplace_back(cell.empty() ? "" : "v");
  row.values.push_back(value);
  return true;
}

// The cell's distinct items, sorted and joined by kItemSeparator, as the field's one token.
void take_items(std::string_view cell, char separator, Row& row) {
  std::vector<std::string_view> items;
  split_fields(cell, separator, items);
  std::vector<std::string> sorted(items.begin(), items.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string token;
  for (const std::string& item : sorted) {
    if (item.empty()) continue;
    if (!token.empty()) token += kItemSeparator;
    token += item;
  }
  row.tokens.push_back(token);
  row.values.push_back(1.0f);
}

}  // namespace

bool schema_row(const Schema& schema, std::span<const std::string_view> cells, Row& row, std::string& reason) {
  RECKON_CHECK_ARG(cells.size() == schema.categorical.size() + schema.numeric.size() + schema.multi.size(),
                   "a schema row needs a cell per field: ", schema.field_names().size(), ", got ", cells.size());
  row.tokens.clear();
  row.values.clear();
  std::size_t k = 0;
  for (std::size_t i = 0; i < schema.categorical.size(); ++i, ++k) {
    row.tokens.emplace_back(cells[k]);
    row.values.push_back(1.0f);
  }
  for (std::size_t i = 0; i < schema.numeric.size(); ++i, ++k) {
    if (!take_numeric(cells[k], schema.numeric[i], row, reason)) return false;
  }
  for (std::size_t i = 0; i < schema.multi.size(); ++i, ++k) take_items(cells[k], schema.multi_separators[i], row);
  return true;
}

namespace {

class SchemaFormat final : public RowFormat {
 public:
  SchemaFormat(LabelColumn labels, std::shared_ptr<const Schema> schema, std::string origin)
      : RowFormat(labels), keep_(std::move(schema)), schema_(*keep_), origin_(std::move(origin)) {}

  bool is_header(const std::string& line) override {
    // Without a header, columns are named by index only: the first row's cells are data, not names.
    if (schema_.header) {
      std::vector<std::string_view> cols;
      split_fields(line, schema_.delimiter, cols);
      header_names_.assign(cols.begin(), cols.end());
    }
    return schema_.header;
  }

  bool parse(const std::string& line, Row& row, std::vector<std::string_view>& cols, std::string& reason) override {
    if (columns_.empty()) settle_columns();
    split_fields(line, schema_.delimiter, cols);
    const std::size_t needed =
        std::max(labeled_ != 0 ? columns_[0] : 0, *std::max_element(columns_.begin() + 1, columns_.end())) + 1;
    if (cols.size() < needed) {
      reason = "expected at least " + std::to_string(needed) + " columns, got " + std::to_string(cols.size());
      return false;
    }
    row.label = 0;
    if (labeled_ != 0 && !parse_label(cols[columns_[0]], row.label)) {
      reason = "label '" + std::string(cols[columns_[0]]) + "' is not 0 or 1";
      return false;
    }
    thread_local std::vector<std::string_view> cells;  // parse() runs on several threads
    cells.clear();
    for (std::size_t k = 1; k < columns_.size(); ++k) cells.push_back(cols[columns_[k]]);
    return schema_row(schema_, cells, row, reason);
  }

  std::vector<std::string> field_names() const override { return schema_.field_names(); }

 private:
  // The label's column (kNoColumn when unlabeled), then the fields' columns, from the header read by now.
  void settle_columns() {
    if (labeled_ < 0) {
      labeled_ = !schema_.header ||
                 std::find(header_names_.begin(), header_names_.end(), schema_.label) != header_names_.end();
    }
    columns_.push_back(labeled_ != 0 ? column(schema_.label) : kNoColumn);
    for (const auto& c : schema_.categorical) columns_.push_back(column(c));
    for (const auto& c : schema_.numeric) columns_.push_back(column(c));
    for (const auto& c : schema_.multi) columns_.push_back(column(c));
  }

  // A column by header name, or by 0-based index.
  std::size_t column(const std::string& name) const {
    const auto it = std::find(header_names_.begin(), header_names_.end(), name);
    if (it != header_names_.end()) return static_cast<std::size_t>(it - header_names_.begin());
    std::size_t index = 0;
    if (!parse_field(name, index)) {
      RECKON_THROW(StatusCode::kDataError, origin_, ": the schema's column '", name, "' is not in the header");
    }
    return index;
  }

  static constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);
  std::shared_ptr<const Schema> keep_;
  const Schema& schema_;
  std::string origin_;
  std::vector<std::string> header_names_;
  std::vector<std::size_t> columns_;
};

// One item of a sparse row: its field, index token and value.
struct SparseItem {
  std::int64_t field = -1;
  std::string index;
  float value = 0;
};

// libffm and libsvm: a label, then items separated by spaces; absent fields get the missing id and value 0. The
// field count is the training data's (fields_hint), or grows with the rows while the vocabulary is built.
class SparseFormat : public RowFormat {
 public:
  bool is_header(const std::string&) override { return false; }

  bool parse(const std::string& line, Row& row, std::vector<std::string_view>& cols, std::string& reason) override {
    split_fields(line, ' ', cols);
    if (labeled_ < 0) labeled_ = cols[0].find(':') == std::string_view::npos ? 1 : 0;
    row.label = 0;
    if (labeled_ != 0 && !parse_row_label(cols[0], row.label)) {
      reason = "label '" + std::string(cols[0]) + "' is " + label_words();
      return false;
    }
    std::vector<SparseItem> items;
    std::int64_t max_field = -1;
    for (std::size_t i = labeled_ != 0 ? 1 : 0; i < cols.size(); ++i) {
      if (cols[i].empty()) continue;
      SparseItem item;
      if (!parse_item(cols[i], static_cast<std::int64_t>(items.size()), item, reason)) return false;
      max_field = std::max(max_field, item.field);
      items.push_back(std::move(item));
    }
    // Growing, the field count is what the reader has accepted so far (raised after each row, on one thread): the
    // row's tokens go up to its own highest field.
    if (!growing_ && max_field >= fields_) {
      reason = too_many_fields(max_field) + " the " + std::to_string(fields_) + " fields of the training data";
      return false;
    }
    const auto row_fields = static_cast<std::size_t>(growing_ ? max_field + 1 : fields_);
    row.tokens.assign(row_fields, "");
    row.values.assign(row_fields, 0.0f);
    for (SparseItem& item : items) {
      row.tokens[static_cast<std::size_t>(item.field)] = std::move(item.index);
      row.values[static_cast<std::size_t>(item.field)] = item.value;
    }
    return true;
  }

  std::vector<std::string> field_names() const override {
    std::vector<std::string> names;
    for (std::int64_t f = 0; f < fields_; ++f) names.push_back(std::string("f").append(std::to_string(f)));
    return names;
  }
  void accept(const Row& row) override {
    if (growing_) fields_ = std::max(fields_, static_cast<std::int64_t>(row.tokens.size()));
  }
  void grow_fields() override { growing_ = true; }

 protected:
  SparseFormat(LabelColumn labels, std::int64_t fields) : RowFormat(labels), fields_(fields) {}
  virtual bool parse_row_label(std::string_view cell, float& label) const { return parse_label(cell, label); }
  virtual std::string label_words() const { return "not 0 or 1"; }
  // `position`: the item's place in the row (libsvm's field).
  virtual bool parse_item(std::string_view cell, std::int64_t position, SparseItem& item, std::string& reason) const = 0;
  virtual std::string too_many_fields(std::int64_t max_field) const = 0;

  // The value after the index's colon at `colon`: a finite number.
  static bool parse_value(std::string_view cell, std::size_t colon, float& value) {
    return std::from_chars(cell.data() + colon + 1, cell.data() + cell.size(), value).ec == std::errc() &&
           std::isfinite(value);
  }

 private:
  std::int64_t fields_;
  bool growing_ = false;
};

// libffm: "label field:index:value ...", fields numbered from 0.
class LibffmFormat final : public SparseFormat {
 public:
  LibffmFormat(LabelColumn labels, std::int64_t fields) : SparseFormat(labels, fields) {}

 private:
  bool parse_item(std::string_view cell, std::int64_t, SparseItem& item, std::string& reason) const override {
    const std::size_t a = cell.find(':');
    const std::size_t b = a == std::string_view::npos ? a : cell.find(':', a + 1);
    bool ok = b != std::string_view::npos && b > a + 1 &&
              std::from_chars(cell.data(), cell.data() + a, item.field).ec == std::errc() && item.field >= 0;
    if (ok && item.field >= kMaxSparseFields) {
      reason = "item '" + std::string(cell) + "': field numbers go up to " + std::to_string(kMaxSparseFields - 1);
      return false;
    }
    ok = ok && parse_value(cell, b, item.value);
    if (!ok) {
      reason = "item '" + std::string(cell) + "' is not field:index:value";
      return false;
    }
    item.index = std::string(cell.substr(a + 1, b - a - 1));
    return true;
  }
  std::string too_many_fields(std::int64_t max_field) const override {
    return "field " + std::to_string(max_field) + " beyond";
  }
};

// libsvm: "label index:value ...", the k-th item in field k; labels 0/1 or -1/+1.
class LibsvmFormat final : public SparseFormat {
 public:
  LibsvmFormat(LabelColumn labels, std::int64_t fields) : SparseFormat(labels, fields) {}

 private:
  bool parse_row_label(std::string_view cell, float& label) const override {
    return parse_label(cell, label) || parse_signed_label(cell, label);
  }
  std::string label_words() const override { return "not 0, 1, -1 or +1"; }
  bool parse_item(std::string_view cell, std::int64_t position, SparseItem& item, std::string& reason) const override {
    item.field = position;
    const std::size_t b = cell.find(':');
    bool ok = b != std::string_view::npos && b > 0;
    if (ok && item.field >= kMaxSparseFields) {
      reason = "item '" + std::string(cell) + "': field numbers go up to " + std::to_string(kMaxSparseFields - 1);
      return false;
    }
    if (!(ok && parse_value(cell, b, item.value))) {
      reason = "item '" + std::string(cell) + "' is not index:value";
      return false;
    }
    item.index = std::string(cell.substr(0, b));
    return true;
  }
  std::string too_many_fields(std::int64_t max_field) const override {
    return std::to_string(max_field + 1) + " items, more than";
  }
};

}  // namespace

std::unique_ptr<RowFormat> make_row_format(const ReadOptions& options, const std::string& origin,
                                           std::int64_t fields_hint) {
  switch (options.format) {
    case CtrFormat::kCriteo: return std::make_unique<CriteoFormat>(options.labels);
    case CtrFormat::kAvazu: return std::make_unique<AvazuFormat>(options.labels);
    case CtrFormat::kLibffm: return std::make_unique<LibffmFormat>(options.labels, fields_hint);
    case CtrFormat::kLibsvm: return std::make_unique<LibsvmFormat>(options.labels, fields_hint);
    case CtrFormat::kSchema: break;
  }
  RECKON_CHECK_ARG(options.schema != nullptr, "a schema-described format needs its schema");
  return std::make_unique<SchemaFormat>(options.labels, options.schema, origin);
}

}  // namespace reckon::ctr::detail
