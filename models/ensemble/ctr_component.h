// A CTR model (LR, FM, DNN, DeepFM; ctr/model.h) as an ensemble component. Each catalogue item is a candidate row:
// the item's name is the token of the model's item field, the item's other fields come from an item table (e.g. a
// movie's genres and year), and the remaining fields from the request's features (e.g. the user); the item's score
// is the model's click probability. Schema-format models only, whose fields have names.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/ensemble/component.h"

namespace reckon::ensemble {

struct ItemTable {
  std::vector<std::string> columns;  // the fields it gives, after the item's name
  std::unordered_map<std::string, std::vector<std::string>> rows;  // item name -> a cell per column
};
// Tab-separated with a header: the item field's name, then field names; a row per item. kIoError when unreadable,
// kDataError naming the file and line for a row with another cell count or an item given twice.
ItemTable read_item_table(const std::string& path);

class CtrComponent final : public Component {
 public:
  // kInvalidArgument when the model is not schema-format, `item_field` is not one of its fields or the table names
  // a column the model lacks.
  CtrComponent(std::string name, std::shared_ptr<ctr::LoadedModel> model, const std::string& item_field,
               const ItemTable& items, const session::Catalog& catalog);
  std::string name() const override { return name_; }
  // Items the model's vocabulary does not know and the table does not describe score -inf.
  void score(const Query& query, std::span<float> scores) override;
  std::vector<std::string> features() const override;  // the fields neither the item nor the table gives
  std::int64_t candidates() const { return static_cast<std::int64_t>(candidates_.size()); }

 private:
  std::string name_;
  std::shared_ptr<ctr::LoadedModel> model_;
  std::mutex mutex_;  // one prediction at a time: the model's buffers are its own
  std::int32_t catalog_size_ = 0;
  std::vector<std::int32_t> candidates_;  // catalogue indices, in rows_' order
  ctr::CtrDataset rows_;                  // a row per candidate, the request's fields missing
  std::vector<std::size_t> request_fields_;
  std::vector<std::size_t> first_column_;  // per field
  std::vector<int> widths_;                // per field
};

}  // namespace reckon::ensemble
