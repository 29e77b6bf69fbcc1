#include "reckon/models/ctr/synthetic.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "reckon/models/ctr/metrics.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::ctr {
namespace {

constexpr int kCategories = 20, kHours = 24, kAges = 6, kApps = 10'000, kUsers = 50'000, kDevices = 5, kNoise = 100;

struct Zipf {
  std::vector<double> cdf;
  Zipf(int n, double exponent) : cdf(static_cast<std::size_t>(n)) {
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf[static_cast<std::size_t>(i)] = sum += 1.0 / std::pow(i + 1.0, exponent);
    for (double& c : cdf) c /= sum;
  }
  int draw(float u) const {
    return static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), static_cast<double>(u)) - cdf.begin());
  }
};

// The planted model's parameters, drawn from their own Philox stream.
struct Truth {
  float bias = -1.4f;
  float category[kCategories], hour[kHours], device[kDevices];
  std::vector<float> app, user;
  float cat_factor[kCategories][2], hour_factor[kHours][2];
  float sign_category[kCategories];

  explicit Truth(std::uint64_t seed) : app(kApps), user(kUsers) {
    PhiloxStream r(seed, 1);
    auto normal = [&](float sd) {
      const float u1 = uniform_open_from_bits(r.next_u32()), u2 = r.next_uniform();
      return sd * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
    };
    for (float& x : category) x = normal(0.4f);
    for (float& x : hour) x = normal(0.15f);
    for (float& x : device) x = normal(0.2f);
    for (float& x : app) x = normal(0.3f);
    for (float& x : user) x = normal(0.3f);
    for (auto& f : cat_factor) f[0] = normal(0.9f), f[1] = normal(0.9f);
    for (auto& f : hour_factor) f[0] = normal(0.9f), f[1] = normal(0.9f);
    for (int c = 0; c < kCategories; ++c) sign_category[c] = c % 2 == 0 ? 1.0f : -1.0f;  // balanced over uniform categories
  }

  float logit(int cat, int h, int gender, int age, int a, int u, int dev) const {
    float z = bias + category[cat] + hour[h] + app[static_cast<std::size_t>(a)] + user[static_cast<std::size_t>(u)] +
              device[dev];
    // Order 2: delivery (category 0) at dinner, games (category 1) late at night, plus a random rank-2 term.
    if (cat == 0 && h >= 17 && h <= 20) z += 2.0f;
    if (cat == 1 && (h >= 21 || h <= 2)) z += 1.5f;
    z += cat_factor[cat][0] * hour_factor[h][0] + cat_factor[cat][1] * hour_factor[h][1];
    // Order 3 without two-way marginals: balanced signs of gender, age and category.
    const float s_gender = gender == 0 ? 1.0f : -1.0f;
    const float s_age = age % 2 == 0 ? 1.0f : -1.0f;
    z += 2.0f * s_gender * s_age * sign_category[cat];
    return z;
  }
};

}  // namespace

SyntheticResult write_synthetic_click_log(const std::string& directory, const SyntheticOptions& options) {
  RECKON_CHECK_ARG(options.train_rows > 0 && options.test_rows > 0, "synthetic log needs train and test rows");
  std::filesystem::create_directories(directory);
  SyntheticResult result;
  result.train_path = (std::filesystem::path(directory) / "train.txt").string();
  result.test_path = (std::filesystem::path(directory) / "test.txt").string();
  result.bayes_path = (std::filesystem::path(directory) / "bayes.json").string();
  const Truth truth(options.seed);
  const Zipf apps(kApps, 1.05), users(kUsers, 1.05);
  PhiloxStream r(options.seed, 2);
  std::vector<float> test_p, test_y;
  double clicks = 0;
  for (int part = 0; part < 2; ++part) {
    const std::string& path = part == 0 ? result.train_path : result.test_path;
    std::ofstream out(path);
    if (!out) RECKON_THROW(StatusCode::kIoError, "cannot write ", path);
    const std::int64_t rows = part == 0 ? options.train_rows : options.test_rows;
    for (std::int64_t i = 0; i < rows; ++i) {
      const int cat = static_cast<int>(uniform_below(r.next_u32(), kCategories));
      const int h = static_cast<int>(uniform_below(r.next_u32(), kHours));
      const int gender = static_cast<int>(uniform_below(r.next_u32(), 2));
      const int age = static_cast<int>(uniform_below(r.next_u32(), kAges));
      const int a = apps.draw(r.next_uniform());
      const int u = users.draw(r.next_uniform());
      const int dev = static_cast<int>(uniform_below(r.next_u32(), kDevices));
      const float p = 1.0f / (1.0f + std::exp(-truth.logit(cat, h, gender, age, a, u, dev)));
      const int y = r.next_uniform() < p ? 1 : 0;
      clicks += y;
      if (part == 1) {
        test_p.push_back(p);
        test_y.push_back(static_cast<float>(y));
      }
      out << y;
      for (int c = 0; c < 13; ++c) out << '\t';
      out << "\tcat" << cat << "\thour" << h << "\tg" << gender << "\tage" << age << "\tapp" << a << "\tuser" << u
          << "\tdev" << dev;
      for (int n = 0; n < 3; ++n) out << "\tn" << uniform_below(r.next_u32(), kNoise);
      for (int c = 10; c < 26; ++c) out << '\t';
      out << '\n';
    }
    if (!out) RECKON_THROW(StatusCode::kIoError, "error writing ", path);
  }
  result.bayes_auc = auc(test_p, test_y);
  result.bayes_logloss = logloss(test_p, test_y);
  result.click_rate = clicks / static_cast<double>(options.train_rows + options.test_rows);
  std::ofstream bayes(result.bayes_path);
  bayes << nlohmann::json{{"auc", result.bayes_auc}, {"logloss", result.bayes_logloss},
                          {"click_rate", result.click_rate}, {"train_rows", options.train_rows},
                          {"test_rows", options.test_rows}, {"seed", options.seed}}
               .dump(2)
        << '\n';
  return result;
}

}  // namespace reckon::ctr
