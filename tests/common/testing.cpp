#include "testing.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace reckon::testing {

std::uint64_t test_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("RECKON_TEST_SEED");
    if (env != nullptr && env[0] != '\0') return static_cast<std::uint64_t>(std::strtoull(env, nullptr, 0));
    return std::uint64_t{20261128};
  }();
  return seed;
}

std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint64_t stream) {
  std::vector<float> out(n);
  PhiloxStream rng(test_seed(), 0x7e57'0000'0000ull + stream);
  for (float& x : out) x = lo + (hi - lo) * rng.next_uniform();
  return out;
}

std::vector<std::int64_t> random_ints(std::size_t n, std::int64_t lo, std::int64_t hi, std::uint64_t stream) {
  std::vector<std::int64_t> out(n);
  PhiloxStream rng(test_seed(), 0x7e57'0001'0000ull + stream);
  const auto span = static_cast<std::uint64_t>(hi - lo);
  for (auto& x : out) {
    const std::uint64_t wide = (static_cast<std::uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
    x = lo + static_cast<std::int64_t>(span == 0 ? 0 : wide % span);
  }
  return out;
}

Tolerance fp32_tolerance(std::int64_t length, double scale) {
  // Each of `length` fp32 roundings contributes at most 2^-24 relative error of a term; sqrt growth is typical but
  // the linear bound is the safe one for ordered (non-pairwise) summation.
  return Tolerance{1e-5, 6e-8 * static_cast<double>(length > 0 ? length : 1) * scale};
}

::testing::AssertionResult all_close(const float* got, const double* ref, std::size_t n, Tolerance tol) {
  std::size_t bad = 0;
  std::ostringstream detail;
  for (std::size_t i = 0; i < n; ++i) {
    const double g = got[i];
    const double r = ref[i];
    const bool ok = std::isfinite(g) == std::isfinite(r) && (std::isnan(r) ? false : std::abs(g - r) <= tol.atol + tol.rtol * std::abs(r));
    const bool both_inf = std::isinf(g) && std::isinf(r) && (g > 0) == (r > 0);
    if (!ok && !both_inf) {
      if (bad < 8) detail << "\n  [" << i << "] got " << g << ", expected " << r << " (diff " << std::abs(g - r) << ")";
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements differ beyond atol " << tol.atol
                                       << " + rtol " << tol.rtol << " * |ref|:" << detail.str();
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& ref, Tolerance tol) {
  if (got.size() != ref.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != expected " << ref.size();
  }
  return all_close(got.data(), ref.data(), got.size(), tol);
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& ref, Tolerance tol) {
  return all_close(got, std::vector<double>(ref.begin(), ref.end()), tol);
}

::testing::AssertionResult bitwise_equal(const void* a, const void* b, std::size_t bytes) {
  const auto* pa = static_cast<const unsigned char*>(a);
  const auto* pb = static_cast<const unsigned char*>(b);
  for (std::size_t i = 0; i < bytes; ++i) {
    if (pa[i] != pb[i]) {
      return ::testing::AssertionFailure() << "first differing byte at offset " << i << " of " << bytes;
    }
  }
  return ::testing::AssertionSuccess();
}

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / std::string("reckon_test_").append(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace reckon::testing
