// A synthetic app-store click log with planted structure, so the right answer is known.
//
// Fields: app category (20), hour of day (24), gender (2), age bucket (6), app id (Zipf over 10,000), user id
// (Zipf over 50,000), device (5) and three noise fields (no effect). The click logit is
//   bias + first-order effects (category, hour, app, user, device)
//   + an order-2 category × hour interaction (delivery apps at dinner time, games late at night, and a random
//     rank-2 term)
//   + an order-3 gender × age × category term s_g · s_a · s_c with balanced ±1 signs, which has no two-way
//     marginal on the logit: FM alone cannot fit it, a DNN can.
// Files are written in Criteo layout (label, 13 empty integer columns, 26 categorical columns, tab separated), so
// `reckon ctr train --format criteo` reads them; bayes.json holds the AUC and logloss of the true probabilities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reckon::ctr {

// A second log with other planted structure, for choosing defaults that hold across data: every one of the 39
// Criteo columns carries signal (13 counts with smooth effects, 26 categorical fields of 4 to 200,000 values), an
// order-2 term of rank 4 among 8 fields and an order-3 parity term among 3 others (models/ctr/synthetic.cpp).
enum class SyntheticStructure { kAppStore, kAds };
const char* to_string(SyntheticStructure structure) noexcept;
SyntheticStructure parse_synthetic_structure(const std::string& name);  // "app-store" or "ads"

struct SyntheticOptions {
  std::int64_t train_rows = 1'000'000;
  std::int64_t test_rows = 100'000;
  std::uint64_t seed = 1;
  SyntheticStructure structure = SyntheticStructure::kAppStore;
};

struct SyntheticResult {
  std::string train_path, test_path, bayes_path;
  double bayes_auc = 0, bayes_logloss = 0;  // of the true probabilities on the test rows
  double click_rate = 0;
};

SyntheticResult write_synthetic_click_log(const std::string& directory, const SyntheticOptions& options);

}  // namespace reckon::ctr
