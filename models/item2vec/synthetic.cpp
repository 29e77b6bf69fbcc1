#include "reckon/models/item2vec/synthetic.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::item2vec {

SyntheticSessions write_synthetic_sessions(const std::string& directory, const SyntheticSessionsOptions& o) {
  RECKON_CHECK_ARG(o.genres >= 1 && o.genres < 1000 && o.songs_per_genre >= 2 && o.songs_per_genre < 1000,
                   "genres and songs per genre must be in [1, 999] and [2, 999]");
  RECKON_CHECK_ARG(o.mean_length >= 2 && o.train_sessions >= 1 && o.test_sessions >= 1, "bad session options");
  std::filesystem::create_directories(directory);
  SyntheticSessions out{(std::filesystem::path(directory) / "train.tsv").string(),
                        (std::filesystem::path(directory) / "test.tsv").string()};
  PhiloxStream rng(o.seed, 0x5e55);
  // Zipf within a genre: rank r (0-based) drawn as floor(n^u) - 1.
  auto song = [&](int genre) {
    const double r = std::floor(std::pow(static_cast<double>(o.songs_per_genre), static_cast<double>(rng.next_uniform())));
    return genre * 1000 + static_cast<int>(std::min<double>(r, o.songs_per_genre) - 1);
  };
  std::int64_t session_id = 0;
  for (const auto& [path, count] : {std::pair{out.train_path, o.train_sessions}, std::pair{out.test_path, o.test_sessions}}) {
    std::ofstream file(path);
    if (!file) RECKON_THROW(StatusCode::kIoError, "cannot write ", path);
    file << "SessionId\tItemId\tTime\n";
    for (std::int64_t s = 0; s < count; ++s, ++session_id) {
      int genre = static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.genres)));
      const int length = 2 + static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(2 * o.mean_length - 3)));
      for (int i = 0; i < length; ++i) {
        if (rng.next_uniform() < o.switch_probability) genre = static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.genres)));
        const bool noise = rng.next_uniform() < o.noise_probability;
        const int item = noise ? song(static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.genres)))) : song(genre);
        file << session_id << '\t' << item << '\t' << 1.6e9 + static_cast<double>(session_id * 100 + i) << '\n';
      }
    }
    if (!file) RECKON_THROW(StatusCode::kIoError, "error while writing ", path);
  }
  return out;
}

}  // namespace reckon::item2vec
