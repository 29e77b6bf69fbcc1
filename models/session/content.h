// Item content beside a click log, for models that read what an item is (the 3D-CNN's character features, cold
// items): a category and a text per item, from each data set's side files. Malformed rows are reported as
// "file:line: reason" (skipped and counted, or fatal), as the click readers do.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "reckon/models/session/clicks.h"

namespace reckon::session {

// diginetica-categories: product-categories.csv, itemId;categoryId (header).
// diginetica-products:   products.csv, itemId;pricelog2;product.name.tokens (hashed name tokens, comma-separated).
// retailrocket-properties: item_properties_part*.csv, timestamp,itemid,property,value; the latest "categoryid"
//                        value is the category (other properties are hashed and left out).
// movielens-movies:      movies.csv, movieId,title,genres (RFC 4180 quoting); genres the category, title the text.
// items-tsv:             ItemId<TAB>Category<TAB>Text with a header, as `session prepare` writes items.tsv.
enum class ContentFormat : std::uint8_t {
  kDigineticaCategories,
  kDigineticaProducts,
  kRetailRocketProperties,
  kMovieLensMovies,
  kItemsTsv
};
ContentFormat parse_content_format(const std::string& name);
const char* to_string(ContentFormat format) noexcept;

struct ItemContent {
  std::unordered_map<std::string, std::string> category, text;  // by item name
  std::int64_t skipped_rows = 0;
  std::vector<std::string> first_errors;
};

// Adds the file's content to `into` (several files may fill one ItemContent: categories and products).
void read_item_content(const std::string& path, ContentFormat format, BadRows bad_rows, ItemContent& into);

// The log's items' categories and texts from the content (items it lacks keep what they have); returns how many
// of the log's items have a category and how many a text.
struct ContentCoverage {
  std::int64_t items = 0, with_category = 0, with_text = 0;
};
ContentCoverage attach_content(ClickLog& log, const ItemContent& content);

// ItemId<TAB>Category<TAB>Text for every item of the log (tabs and line breaks in values become spaces).
void write_items_tsv(const ClickLog& log, const std::string& path);

}  // namespace reckon::session
