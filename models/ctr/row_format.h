// Internal to the CTR readers (dataset.cpp): how one text format's lines become rows, one class per format behind
// RowFormat. The reader around them (blocks of lines, parsing threads, bad-row reports) is the same for all.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reckon/models/ctr/dataset.h"

namespace reckon::ctr::detail {

// A multi-valued field's items travel through a Row as one token joined by this (a control character no delimited
// text file uses inside a cell).
inline constexpr char kItemSeparator = '\x1f';

// One parsed row: label and one (token, value) per field.
struct Row {
  float label = 0;
  std::vector<std::string> tokens;
  std::vector<float> values;
};

class RowFormat {
 public:
  virtual ~RowFormat() = default;
  // Whether the file's first non-empty line is a header (the format may take its column names).
  virtual bool is_header(const std::string& line) = 0;
  // One line into `row`; false with `reason` for a malformed row. The first data line is parsed alone and may
  // settle the format's state (the label column, the schema's columns); later lines only read it, so they can be
  // parsed on several threads. `cols` is scratch space.
  virtual bool parse(const std::string& line, Row& row, std::vector<std::string_view>& cols, std::string& reason) = 0;
  virtual std::vector<std::string> field_names() const = 0;
  // Each good row in file order, on the reading thread.
  virtual void accept(const Row& row) { (void)row; }
  // Rows may have more fields than seen so far (the vocabulary pass over a sparse format).
  virtual void grow_fields() {}
  // Whether rows have a label (decided on the first data row under LabelColumn::kDetect; true before it).
  bool labeled() const { return labeled_ != 0; }

 protected:
  explicit RowFormat(LabelColumn labels)
      : labeled_(labels == LabelColumn::kPresent ? 1 : labels == LabelColumn::kAbsent ? 0 : -1) {}
  int labeled_;  // 1 yes, 0 no, -1 not yet known
};

// A schema's row from its cells in field order (categorical, numeric, multi-valued, as Schema::field_names): a
// numeric cell parsed (empty: 0), a multi-valued one's distinct items joined by kItemSeparator. False with
// `reason` for a numeric cell that is not a finite number.
bool schema_row(const Schema& schema, std::span<const std::string_view> cells, Row& row, std::string& reason);

// The format of `options`; `origin` names the input in errors; fields_hint: the sparse formats' field count (0
// while building the vocabulary).
std::unique_ptr<RowFormat> make_row_format(const ReadOptions& options, const std::string& origin,
                                           std::int64_t fields_hint);

}  // namespace reckon::ctr::detail
