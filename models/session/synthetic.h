// Synthetic shop sessions whose transitions follow the items' content, for the session demo and tests: the right
// answer is known, and it is written in the items' text rather than in their ids.
//
// The catalogue: `categories` categories × `brands` brands per category, `items_per_group` items per (category,
// brand) group. An item's id is a random number (nothing about it in its characters); its category is the
// category's word and its text "<brand> <category noun> <model code>". Groups are drawn with Zipf weights over a
// random order (exponent group_zipf), items within a group with Zipf weights (item_zipf), so every group has a
// tail of rarely clicked items. A share `new_items` of each group's items never appear in the training sessions
// (they are on sale from the test period on).
// A session starts at an item drawn by popularity; each next click is, with probability same_group, an item of the
// last click's group, else with probability same_category one of another group of its category, else any item by
// popularity (never the last click itself). Lengths are uniform in [2, 2 · mean_length - 2].
// Add-to-cart: each brand (group) has a propensity 3 · cart_rate · u² (u uniform, so the mean is cart_rate, capped at
// 1); a session converts with the propensity of its first click's brand (the shopper came for it), and then its last
// click is a cart event. The carts are drawn from a stream of their own, so the clicks are the same whatever
// cart_rate is (0: no cart events).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reckon/models/session/clicks.h"

namespace reckon::session {

struct ContentSessionsOptions {
  std::int64_t train_sessions = 8000, validation_sessions = 1000, test_sessions = 1500;
  int categories = 12, brands = 8, items_per_group = 16;
  int mean_length = 6;
  double same_group = 0.6, same_category = 0.25;
  double group_zipf = 0.5, item_zipf = 1.5;
  double new_items = 0.1;
  double cart_rate = 0.25;
  std::uint64_t seed = 1;
};

struct ContentSessions {
  ClickLog train, validation, test;      // in time order, with their items' categories and texts; validation
                                         // sessions are drawn as training ones (no new items)
  std::vector<std::string> item_names;   // the whole catalogue, new items included
  std::vector<std::string> item_categories, item_texts;
  std::vector<std::int32_t> item_group;  // per item: category · brands + brand
  std::vector<bool> item_new;            // per item: never in a training session
  std::vector<double> group_cart;        // per group: the probability that a session starting there converts
};

ContentSessions make_content_sessions(const ContentSessionsOptions& options);

// The sessions and the catalogue's content as files: train.tsv, valid.tsv and test.tsv (sessions-tsv) and items.tsv
// (every item, new ones included: ItemId, Category, Text) in `directory`.
struct ContentSessionFiles {
  std::string train, validation, test, items;
};
ContentSessionFiles write_content_sessions(const ContentSessions& sessions, const std::string& directory);

}  // namespace reckon::session
