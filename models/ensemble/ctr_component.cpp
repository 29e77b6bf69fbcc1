#include "reckon/models/ensemble/ctr_component.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "reckon/models/ctr/trainer.h"
#include "reckon/runtime/error.h"

namespace reckon::ensemble {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    cells.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return cells;
    start = tab + 1;
  }
}

std::size_t field_index(const ctr::Vocabulary& v, const std::string& name, const char* what) {
  const auto it = std::find(v.field_names.begin(), v.field_names.end(), name);
  if (it == v.field_names.end()) {
    std::string known;
    for (const std::string& f : v.field_names) known += (known.empty() ? "" : ", ") + f;
    RECKON_THROW(StatusCode::kInvalidArgument, what, " '", name, "' is not a field of the CTR model (", known, ")");
  }
  return static_cast<std::size_t>(it - v.field_names.begin());
}

}  // namespace

ItemTable read_item_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, path, ": cannot be read");
  ItemTable table;
  std::string line;
  if (!std::getline(in, line)) RECKON_THROW(StatusCode::kDataError, path, ": empty, expected a header");
  std::vector<std::string> header = split_tabs(line);
  table.columns.assign(header.begin() + 1, header.end());
  for (std::int64_t line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::vector<std::string> cells = split_tabs(line);
    if (cells.size() != header.size()) {
      RECKON_THROW(StatusCode::kDataError, path, ":", line_no, ": ", cells.size(), " cells, the header has ", header.size());
    }
    std::string item = std::move(cells.front());
    cells.erase(cells.begin());
    if (!table.rows.emplace(item, std::move(cells)).second) RECKON_THROW(StatusCode::kDataError, path, ":", line_no, ": item '", item, "' again");
  }
  return table;
}

CtrComponent::CtrComponent(std::string name, std::shared_ptr<ctr::LoadedModel> model, const std::string& item_field,
                           const ItemTable& items, const session::Catalog& catalog)
    : name_(std::move(name)), model_(std::move(model)), catalog_size_(catalog.size()) {
  RECKON_CHECK_ARG(model_ && model_->model, name_, ": a CTR component needs a model");
  const ctr::Vocabulary& v = model_->vocabulary;
  RECKON_CHECK_ARG(v.format == ctr::CtrFormat::kSchema, name_, ": a CTR component needs a schema-format model (named fields), got ", ctr::to_string(v.format));
  const std::size_t fields = v.field_names.size(), item = field_index(v, item_field, "the item field");
  std::vector<std::size_t> table_field;
  for (const std::string& c : items.columns) table_field.push_back(field_index(v, c, "the item table's column"));
  widths_ = v.field_widths();
  std::size_t columns = 0;
  for (const int w : widths_) first_column_.push_back(columns), columns += static_cast<std::size_t>(w);
  for (std::size_t f = 0; f < fields; ++f) {
    if (f != item && std::find(table_field.begin(), table_field.end(), f) == table_field.end()) request_fields_.push_back(f);
  }
  rows_.fields = static_cast<std::int64_t>(fields);
  rows_.widths = v.widths;
  std::vector<std::string> cells(fields);
  std::vector<std::int32_t> ids(columns);
  std::vector<float> values(columns);
  for (std::int32_t i = 0; i < catalog.size(); ++i) {
    const std::string& item_name = catalog.names[static_cast<std::size_t>(i)];
    const auto row = items.rows.find(item_name);
    std::fill(cells.begin(), cells.end(), std::string());
    cells[item] = item_name;
    if (row != items.rows.end()) {
      for (std::size_t c = 0; c < table_field.size(); ++c) cells[table_field[c]] = row->second[c];
    }
    if (row == items.rows.end() && v.lookup(static_cast<std::int64_t>(item), item_name) == 0) continue;  // nothing known
    ctr::encode_schema_cells(v, cells, ids, values);
    candidates_.push_back(i);
    rows_.labels.push_back(0);
    rows_.ids.insert(rows_.ids.end(), ids.begin(), ids.end());
    rows_.values.insert(rows_.values.end(), values.begin(), values.end());
  }
  RECKON_CHECK_ARG(!candidates_.empty(), name_, ": the CTR model knows no item of the catalogue");
}

std::vector<std::string> CtrComponent::features() const {
  std::vector<std::string> out;
  for (const std::size_t f : request_fields_) out.push_back(model_->vocabulary.field_names[f]);
  return out;
}

void CtrComponent::score(const Query& query, std::span<float> scores) {
  RECKON_CHECK_ARG(static_cast<std::int32_t>(scores.size()) == catalog_size_, name_, ": ", scores.size(), " scores for a catalogue of ", catalog_size_);
  const ctr::Vocabulary& v = model_->vocabulary;
  std::vector<std::string> cells(v.field_names.size());
  if (query.features != nullptr) {
    for (const std::size_t f : request_fields_) {
      const auto it = query.features->find(v.field_names[f]);
      if (it != query.features->end()) cells[f] = it->second;
    }
  }
  const auto columns = static_cast<std::size_t>(rows_.columns());
  std::vector<std::int32_t> ids(columns);
  std::vector<float> values(columns);
  ctr::encode_schema_cells(v, cells, ids, values);
  ctr::CtrDataset batch = rows_;
  for (std::size_t r = 0; r < candidates_.size(); ++r) {
    for (const std::size_t f : request_fields_) {
      const std::size_t at = r * columns + first_column_[f], width = static_cast<std::size_t>(widths_[f]);
      std::copy_n(ids.begin() + static_cast<std::ptrdiff_t>(first_column_[f]), width, batch.ids.begin() + static_cast<std::ptrdiff_t>(at));
      std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(first_column_[f]), width, batch.values.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }
  std::vector<float> probabilities;
  {
    std::lock_guard lock(mutex_);
    probabilities = ctr::predict(*model_->model, batch);
  }
  std::fill(scores.begin(), scores.end(), -std::numeric_limits<float>::infinity());
  for (std::size_t r = 0; r < candidates_.size(); ++r) scores[static_cast<std::size_t>(candidates_[r])] = probabilities[r];
}

}  // namespace reckon::ensemble
