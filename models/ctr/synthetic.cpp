#include "reckon/models/ctr/synthetic.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
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

// A tab, then prefix and value: one column of a row.
void append_field(std::string& cols, const char* prefix, long long value) {
  cols.append(1, '\t').append(prefix).append(std::to_string(value));
}

// The app-store log's rows: features written after the label, the true click probability returned.
class AppStoreLog {
 public:
  explicit AppStoreLog(std::uint64_t seed) : truth_(seed), apps_(kApps, 1.05), users_(kUsers, 1.05) {}
  float row(PhiloxStream& r, std::string& cols) const {
    const int cat = static_cast<int>(uniform_below(r.next_u32(), kCategories));
    const int h = static_cast<int>(uniform_below(r.next_u32(), kHours));
    const int gender = static_cast<int>(uniform_below(r.next_u32(), 2));
    const int age = static_cast<int>(uniform_below(r.next_u32(), kAges));
    const int a = apps_.draw(r.next_uniform());
    const int u = users_.draw(r.next_uniform());
    const int dev = static_cast<int>(uniform_below(r.next_u32(), kDevices));
    cols.assign(13, '\t');
    append_field(cols, "cat", cat);
    append_field(cols, "hour", h);
    append_field(cols, "g", gender);
    append_field(cols, "age", age);
    append_field(cols, "app", a);
    append_field(cols, "user", u);
    append_field(cols, "dev", dev);
    return 1.0f / (1.0f + std::exp(-truth_.logit(cat, h, gender, age, a, u, dev)));
  }
  // The columns drawn after the label (the noise fields), as the log has always been written.
  void after_label(PhiloxStream& r, std::string& cols) const {
    for (int n = 0; n < 3; ++n) append_field(cols, "n", static_cast<long long>(uniform_below(r.next_u32(), kNoise)));
    cols.append(16, '\t');
  }

 private:
  Truth truth_;
  Zipf apps_, users_;
};

// The ads log: every one of Criteo's 39 columns carries signal. 13 counts (log-normal, 20% missing) with smooth
// effects of log(1 + x); 26 categorical fields of 4 to 200,000 values drawn by Zipf(1.1) (10% missing) with
// first-order effects; an order-2 term of rank 4 among fields 3-10 (the form FM fits); an order-3 term
// s_0 · s_1 · s_2 of the parities of fields 0-2 (4, 6 and 9 values drawn uniformly, never missing: balanced signs,
// so no two-way marginal and only an MLP fits it).
class AdsLog {
 public:
  static constexpr int kCounts = 13, kCategorical = 26, kRank = 4, kFirstInteracting = 3, kInteracting = 8;
  explicit AdsLog(std::uint64_t seed) {
    PhiloxStream r(seed, 3);
    const auto normal = [&](float sd) {
      const float u1 = uniform_open_from_bits(r.next_u32()), u2 = r.next_uniform();
      return sd * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
    };
    for (int c = 0; c < kCounts; ++c) count_weight_[c] = normal(0.35f), count_shift_[c] = 1.0f + 2.0f * r.next_uniform();
    for (int f = 0; f < kCategorical; ++f) {
      const auto n = static_cast<int>(4.0 * std::pow(50'000.0, static_cast<double>(f) / (kCategorical - 1)));
      zipf_.emplace_back(n, 1.1);
      std::vector<float> w(static_cast<std::size_t>(n));
      for (float& x : w) x = normal(f % 3 == 0 ? 0.5f : 0.2f);
      first_.push_back(std::move(w));
      if (f >= kFirstInteracting && f < kFirstInteracting + kInteracting) {
        std::vector<float> v(static_cast<std::size_t>(n) * kRank);
        for (float& x : v) x = normal(0.45f);
        factors_.push_back(std::move(v));
      }
    }
  }

  void after_label(PhiloxStream&, std::string&) const {}
  float row(PhiloxStream& r, std::string& cols) const {
    float z = -1.6f;
    cols.clear();
    for (int c = 0; c < kCounts; ++c) {
      const float u1 = uniform_open_from_bits(r.next_u32()), u2 = r.next_uniform();
      const float g = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
      const bool missing = r.next_uniform() < 0.2f;
      cols += '\t';
      if (missing) continue;
      const auto x = static_cast<long long>(std::exp(1.0f + 1.5f * g));
      cols.append(std::to_string(x));
      z += count_weight_[c] * std::tanh(std::log1p(static_cast<float>(x)) - count_shift_[c]);
    }
    int value[kCategorical];
    float sum[kRank] = {}, sum_sq = 0;
    for (int f = 0; f < kCategorical; ++f) {
      const Zipf& zipf = zipf_[static_cast<std::size_t>(f)];
      if (f < kFirstInteracting) {
        value[f] = static_cast<int>(uniform_below(r.next_u32(), static_cast<std::uint32_t>(zipf.cdf.size())));
      } else {
        value[f] = r.next_uniform() < 0.1f ? -1 : zipf.draw(r.next_uniform());
      }
      cols += '\t';
      if (value[f] < 0) continue;
      cols.append("f").append(std::to_string(f)).append("v").append(std::to_string(value[f]));
      z += first_[static_cast<std::size_t>(f)][static_cast<std::size_t>(value[f])];
      if (f < kFirstInteracting || f >= kFirstInteracting + kInteracting) continue;
      const float* v = &factors_[static_cast<std::size_t>(f - kFirstInteracting)][static_cast<std::size_t>(value[f]) * kRank];
      for (int k = 0; k < kRank; ++k) sum[k] += v[k], sum_sq += v[k] * v[k];
    }
    float pairs = -sum_sq;
    for (float x : sum) pairs += x * x;
    z += 0.5f * pairs;
    const auto sign = [&](int f) { return value[f] % 2 == 1 ? -1.0f : 1.0f; };
    z += 1.5f * sign(0) * sign(1) * sign(2);
    return 1.0f / (1.0f + std::exp(-z));
  }

 private:
  float count_weight_[kCounts], count_shift_[kCounts];
  std::vector<Zipf> zipf_;
  std::vector<std::vector<float>> first_, factors_;
};

// Writes the train and test files of one log, and the true probabilities' figures.
template <typename Log>
void write_rows(const Log& log, const SyntheticOptions& options, SyntheticResult& result) {
  PhiloxStream r(options.seed, 2);
  std::vector<float> test_p, test_y;
  double clicks = 0;
  std::string cols;
  for (int part = 0; part < 2; ++part) {
    const std::string& path = part == 0 ? result.train_path : result.test_path;
    std::ofstream out(path);
    if (!out) RECKON_THROW(StatusCode::kIoError, "cannot write ", path);
    const std::int64_t rows = part == 0 ? options.train_rows : options.test_rows;
    for (std::int64_t i = 0; i < rows; ++i) {
      const float p = log.row(r, cols);
      const int y = r.next_uniform() < p ? 1 : 0;
      log.after_label(r, cols);
      clicks += y;
      if (part == 1) {
        test_p.push_back(p);
        test_y.push_back(static_cast<float>(y));
      }
      out << y << cols << '\n';
    }
    if (!out) RECKON_THROW(StatusCode::kIoError, "error writing ", path);
  }
  result.bayes_auc = auc(test_p, test_y);
  result.bayes_logloss = logloss(test_p, test_y);
  result.click_rate = clicks / static_cast<double>(options.train_rows + options.test_rows);
}

}  // namespace

const char* to_string(SyntheticStructure structure) noexcept {
  return structure == SyntheticStructure::kAds ? "ads" : "app-store";
}

SyntheticStructure parse_synthetic_structure(const std::string& name) {
  if (name == "app-store") return SyntheticStructure::kAppStore;
  if (name == "ads") return SyntheticStructure::kAds;
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown synthetic structure '", name, "': expected app-store or ads");
}

SyntheticResult write_synthetic_click_log(const std::string& directory, const SyntheticOptions& options) {
  RECKON_CHECK_ARG(options.train_rows > 0 && options.test_rows > 0, "synthetic log needs train and test rows");
  std::filesystem::create_directories(directory);
  SyntheticResult result;
  result.train_path = (std::filesystem::path(directory) / "train.txt").string();
  result.test_path = (std::filesystem::path(directory) / "test.txt").string();
  result.bayes_path = (std::filesystem::path(directory) / "bayes.json").string();
  if (options.structure == SyntheticStructure::kAds) {
    write_rows(AdsLog(options.seed), options, result);
  } else {
    write_rows(AppStoreLog(options.seed), options, result);
  }
  std::ofstream bayes(result.bayes_path);
  bayes << nlohmann::json{{"auc", result.bayes_auc}, {"logloss", result.bayes_logloss},
                          {"click_rate", result.click_rate}, {"train_rows", options.train_rows},
                          {"test_rows", options.test_rows}, {"seed", options.seed},
                          {"structure", to_string(options.structure)}}
               .dump(2)
        << '\n';
  return result;
}

}  // namespace reckon::ctr
