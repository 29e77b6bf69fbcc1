#include "reckon/models/session/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <unordered_map>

#include "reckon/models/session/content.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::session {
namespace {

constexpr std::array<const char*, 16> kCategories = {"audio",  "books", "camera", "garden", "kitchen", "laptops",
                                                     "phones", "shoes", "sports", "toys",   "watches", "beauty",
                                                     "bikes",  "games", "lights", "tools"};
constexpr std::array<const char*, 16> kNouns = {"speaker", "novel",  "lens",  "hose",  "blender", "notebook",
                                                "handset", "sneaker", "racket", "puzzle", "chrono",  "lotion",
                                                "saddle",  "console", "lamp",  "drill"};
constexpr std::array<const char*, 12> kSyllables = {"ka", "zo", "ri", "vel", "mon", "tar", "qui", "lex", "dra", "nu",
                                                    "sor", "fen"};

// Draws index i with probability weights[i] / sum (weights' running sums in `cumulative`).
std::int32_t draw(PhiloxStream& rng, const std::vector<double>& cumulative) {
  const double u = static_cast<double>(rng.next_uniform()) * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return static_cast<std::int32_t>(std::min<std::ptrdiff_t>(it - cumulative.begin(),
                                                            static_cast<std::ptrdiff_t>(cumulative.size()) - 1));
}

std::vector<double> running_sum(const std::vector<double>& weights) {
  std::vector<double> out(weights.size());
  std::partial_sum(weights.begin(), weights.end(), out.begin());
  return out;
}

// Zipf weights 1 / (rank + 1)^exponent over a random order of n.
std::vector<double> zipf_weights(PhiloxStream& rng, std::int64_t n, double exponent) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::swap(order[static_cast<std::size_t>(i)],
              order[uniform_below(rng.next_u32(), static_cast<std::uint32_t>(i + 1))]);
  }
  std::vector<double> w(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    w[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] = std::pow(static_cast<double>(r + 1), -exponent);
  }
  return w;
}

std::string brand_name(PhiloxStream& rng) {
  std::string name;
  for (int s = 0; s < 3; ++s) name += kSyllables[uniform_below(rng.next_u32(), kSyllables.size())];
  name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return name;
}

// The catalogue and its sampling tables.
struct Shop {
  ContentSessionsOptions o;
  std::vector<std::vector<double>> group_items;  // per group: running sums over its items' weights;
  std::vector<std::vector<double>> group_sold;   // the same with the new items at 0 (for training sessions)
  std::vector<double> groups;                    // running sums over groups
  std::vector<double> cart;                      // per group: the probability that a click is a cart event
  std::int32_t item(std::int32_t group, std::int32_t rank) const { return group * o.items_per_group + rank; }
};

Shop make_shop(const ContentSessionsOptions& o, PhiloxStream& rng, PhiloxStream& cart_rng, ContentSessions& out) {
  Shop shop{o, {}, {}, {}, {}};
  const std::int32_t group_count = o.categories * o.brands;
  const std::int64_t n = static_cast<std::int64_t>(group_count) * o.items_per_group;
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(ids[static_cast<std::size_t>(i)], ids[uniform_below(rng.next_u32(), static_cast<std::uint32_t>(i + 1))]);
  shop.groups = running_sum(zipf_weights(rng, group_count, o.group_zipf));
  for (std::int32_t g = 0; g < group_count; ++g) {
    const std::int32_t category = g / o.brands;
    const std::string brand = brand_name(rng);
    const std::vector<double> w = zipf_weights(rng, o.items_per_group, o.item_zipf);
    std::vector<double> sold = w;
    for (std::int32_t r = 0; r < o.items_per_group; ++r) {
      const auto i = static_cast<std::size_t>(shop.item(g, r));
      out.item_names.push_back(std::to_string(100000 + 7 * ids[i]));
      out.item_group.push_back(g);
      out.item_new.push_back(rng.next_uniform() < o.new_items);
      if (out.item_new.back()) sold[static_cast<std::size_t>(r)] = 0;
      out.item_categories.emplace_back(kCategories[static_cast<std::size_t>(category)]);
      out.item_texts.push_back(brand + " " + kNouns[static_cast<std::size_t>(category)] + " " + char('A' + r % 26) +
                           std::to_string(100 + uniform_below(rng.next_u32(), 900)));
    }
    shop.group_items.push_back(running_sum(w));
    const double u = static_cast<double>(cart_rng.next_uniform());
    shop.cart.push_back(std::min(1.0, 3 * o.cart_rate * u * u));
    shop.group_sold.push_back(running_sum(sold));
  }
  return shop;
}

// The next click after `last` (-1: the session's first).
std::int32_t next_item(const Shop& shop, PhiloxStream& rng, std::int32_t last, bool training) {
  const auto& tables = training ? shop.group_sold : shop.group_items;
  for (;;) {
    std::int32_t group = draw(rng, shop.groups);
    const double u = static_cast<double>(rng.next_uniform());
    if (last >= 0 && u < shop.o.same_group + shop.o.same_category) {
      const std::int32_t last_group = last / shop.o.items_per_group;
      group = last_group;
      if (u >= shop.o.same_group && shop.o.brands > 1) {
        const auto other = static_cast<std::int32_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(shop.o.brands - 1)));
        const std::int32_t brand = last_group % shop.o.brands;
        group = last_group - brand + (other >= brand ? other + 1 : other);
      }
    }
    const std::vector<double>& items = tables[static_cast<std::size_t>(group)];
    if (items.back() <= 0) continue;
    // Another item of the chosen group (a group whose only sold item is the last click is chosen again).
    for (int attempt = 0; attempt < 64; ++attempt) {
      const std::int32_t item = shop.item(group, draw(rng, items));
      if (item != last) return item;
    }
  }
}

void add_sessions(const Shop& shop, PhiloxStream& rng, PhiloxStream& cart_rng, const ContentSessions& out,
                  std::int64_t count, bool training, std::int64_t& session_id, ClickLog& log) {
  ClickLogBuilder builder(log);
  for (std::int64_t s = 0; s < count; ++s, ++session_id) {
    const int length = 2 + static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(2 * shop.o.mean_length - 3)));
    std::int32_t last = -1;
    bool converts = false;
    for (int c = 0; c < length; ++c) {
      last = next_item(shop, rng, last, training);
      if (c == 0) converts = static_cast<double>(cart_rng.next_uniform()) < shop.cart[static_cast<std::size_t>(last / shop.o.items_per_group)];
      builder.add(builder.item(out.item_names[static_cast<std::size_t>(last)]),
                  1.6e9 + 600.0 * static_cast<double>(session_id) + 30.0 * c,
                  converts && c == length - 1 ? EventKind::kCart : EventKind::kClick);
    }
    builder.end_session(std::to_string(session_id + 1));
  }
}

// The log's items' categories and texts from the catalogue.
void attach_catalog(const ContentSessions& out, ClickLog& log) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < out.item_names.size(); ++i) index.emplace(out.item_names[i], i);
  log.item_categories.clear();
  log.item_texts.clear();
  for (const std::string& name : log.item_names) {
    const std::size_t i = index.at(name);
    log.item_categories.push_back(out.item_categories[i]);
    log.item_texts.push_back(out.item_texts[i]);
  }
}

}  // namespace

ContentSessions make_content_sessions(const ContentSessionsOptions& o) {
  RECKON_CHECK_ARG(o.categories >= 1 && o.categories <= static_cast<int>(kCategories.size()),
                   "categories must be in [1, ", kCategories.size(), "], got ", o.categories);
  RECKON_CHECK_ARG(o.brands >= 1 && o.brands <= 64 && o.items_per_group >= 2 && o.items_per_group <= 1000,
                   "brands must be in [1, 64] and items per group in [2, 1000]");
  RECKON_CHECK_ARG(o.mean_length >= 2 && o.train_sessions >= 1 && o.test_sessions >= 1 && o.validation_sessions >= 0,
                   "mean length must be at least 2 and the training and test splits must have sessions");
  RECKON_CHECK_ARG(o.same_group >= 0 && o.same_category >= 0 && o.same_group + o.same_category <= 1 &&
                       o.new_items >= 0 && o.new_items < 1 && o.cart_rate >= 0 && o.cart_rate <= 1,
                   "same_group + same_category must be in [0, 1], new_items in [0, 1) and cart_rate in [0, 1]");
  PhiloxStream rng(o.seed, 0x5409), cart_rng(o.seed, 0xca27);
  ContentSessions out;
  const Shop shop = make_shop(o, rng, cart_rng, out);
  out.group_cart = shop.cart;
  std::int64_t session_id = 0;
  add_sessions(shop, rng, cart_rng, out, o.train_sessions, true, session_id, out.train);
  add_sessions(shop, rng, cart_rng, out, o.validation_sessions, true, session_id, out.validation);
  add_sessions(shop, rng, cart_rng, out, o.test_sessions, false, session_id, out.test);
  for (ClickLog* log : {&out.train, &out.validation, &out.test}) attach_catalog(out, *log);
  return out;
}

}  // namespace reckon::session

namespace reckon::session {

ContentSessionFiles write_content_sessions(const ContentSessions& sessions, const std::string& directory) {
  std::filesystem::create_directories(directory);
  const std::filesystem::path dir(directory);
  ContentSessionFiles files{(dir / "train.tsv").string(), (dir / "valid.tsv").string(), (dir / "test.tsv").string(),
                            (dir / "items.tsv").string()};
  write_sessions_tsv(sessions.train, files.train);
  write_sessions_tsv(sessions.validation, files.validation);
  write_sessions_tsv(sessions.test, files.test);
  ClickLog catalog;
  catalog.item_names = sessions.item_names;
  catalog.item_categories = sessions.item_categories;
  catalog.item_texts = sessions.item_texts;
  write_items_tsv(catalog, files.items);
  return files;
}

}  // namespace reckon::session
