#include "reckon/models/session/content.h"

#include <fstream>
#include <limits>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::session {

namespace {

struct FormatName {
  ContentFormat format;
  const char* name;
};
constexpr FormatName kFormats[] = {{ContentFormat::kDigineticaCategories, "diginetica-categories"},
                                   {ContentFormat::kDigineticaProducts, "diginetica-products"},
                                   {ContentFormat::kRetailRocketProperties, "retailrocket-properties"},
                                   {ContentFormat::kMovieLensMovies, "movielens-movies"},
                                   {ContentFormat::kItemsTsv, "items-tsv"}};

struct Layout {
  char delimiter;
  std::size_t columns;
};

Layout layout_of(ContentFormat f) {
  switch (f) {
    case ContentFormat::kDigineticaCategories: return {';', 2};
    case ContentFormat::kDigineticaProducts: return {';', 3};
    case ContentFormat::kRetailRocketProperties: return {',', 4};
    case ContentFormat::kMovieLensMovies: return {',', 3};
    case ContentFormat::kItemsTsv: return {'\t', 3};
  }
  return {',', 0};
}

// RetailRocket's properties change over time: the latest value of each item's category wins.
struct Latest {
  std::unordered_map<std::string, double> time;
};

// One row into the content, or the reason it is malformed.
std::string add_row(ContentFormat f, const std::vector<std::string>& c, ItemContent& into, Latest& latest) {
  if (c[0].empty()) return "empty item id";
  switch (f) {
    case ContentFormat::kDigineticaCategories: into.category[c[0]] = c[1]; return "";
    case ContentFormat::kDigineticaProducts: into.text[c[0]] = c[2]; return "";
    case ContentFormat::kMovieLensMovies:
      into.category[c[0]] = c[2];
      into.text[c[0]] = c[1];
      return "";
    case ContentFormat::kItemsTsv:
      if (!c[1].empty()) into.category[c[0]] = c[1];
      if (!c[2].empty()) into.text[c[0]] = c[2];
      return "";
    case ContentFormat::kRetailRocketProperties: {
      if (c[2] != "categoryid") return "";
      double t = 0;
      if (!parse_field(c[0], t)) return detail::concat("timestamp '", c[0], "' is not a number");
      const auto [it, added] = latest.time.emplace(c[1], t);
      if (!added && it->second > t) return "";
      it->second = t;
      into.category[c[1]] = c[3];
      return "";
    }
  }
  return "unknown format";
}

std::string clean(const std::string& value) {
  std::string out = value;
  for (char& ch : out) {
    if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
  }
  return out;
}

}  // namespace

ContentFormat parse_content_format(const std::string& name) {
  for (const FormatName& f : kFormats) {
    if (name == f.name) return f.format;
  }
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown item-content format '", name,
               "' (diginetica-categories, diginetica-products, retailrocket-properties, movielens-movies, items-tsv)");
}

const char* to_string(ContentFormat format) noexcept {
  for (const FormatName& f : kFormats) {
    if (format == f.format) return f.name;
  }
  return "?";
}

void read_item_content(const std::string& path, ContentFormat format, BadRows bad_rows, ItemContent& into) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, "cannot open ", path);
  const Layout layout = layout_of(format);
  Latest latest;
  std::string line;
  std::vector<std::string_view> views;
  for (std::int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 || line.empty() || line == "\r") continue;  // every format has a header
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // items.tsv (written by write_items_tsv) has no quoting: its values may hold quote marks.
    std::vector<std::string> cols;
    if (format == ContentFormat::kItemsTsv) {
      split_fields(line, '\t', views);
      cols.assign(views.begin(), views.end());
    } else {
      cols = split_quoted_fields(line, layout.delimiter);
    }
    const std::string error = cols.size() != layout.columns
                                  ? detail::concat("expected ", layout.columns, " columns, got ", cols.size())
                                  : add_row(format, cols, into, latest);
    if (error.empty()) continue;
    const std::string where = detail::concat(path, ":", line_no, ": ", error);
    if (bad_rows == BadRows::kFail) RECKON_THROW(StatusCode::kDataError, where);
    ++into.skipped_rows;
    if (into.first_errors.size() < 10) into.first_errors.push_back(where);
  }
  if (in.bad()) RECKON_THROW(StatusCode::kIoError, "error while reading ", path);
}

ContentCoverage attach_content(ClickLog& log, const ItemContent& content) {
  log.item_categories.resize(log.item_names.size());
  log.item_texts.resize(log.item_names.size());
  ContentCoverage c;
  c.items = static_cast<std::int64_t>(log.item_names.size());
  for (std::size_t i = 0; i < log.item_names.size(); ++i) {
    if (const auto it = content.category.find(log.item_names[i]); it != content.category.end()) log.item_categories[i] = it->second;
    if (const auto it = content.text.find(log.item_names[i]); it != content.text.end()) log.item_texts[i] = it->second;
    c.with_category += log.item_categories[i].empty() ? 0 : 1;
    c.with_text += log.item_texts[i].empty() ? 0 : 1;
  }
  return c;
}

void write_items_tsv(const ClickLog& log, const std::string& path) {
  write_file_atomically(path, [&](std::ostream& out) {
    out << "ItemId\tCategory\tText\n";
    for (std::size_t i = 0; i < log.item_names.size(); ++i) {
      out << clean(log.item_names[i]) << '\t' << (i < log.item_categories.size() ? clean(log.item_categories[i]) : "")
          << '\t' << (i < log.item_texts.size() ? clean(log.item_texts[i]) : "") << '\n';
    }
  });
}

}  // namespace reckon::session
