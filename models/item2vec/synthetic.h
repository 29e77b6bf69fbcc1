// Synthetic listening sessions with planted genres, for the demo and tests: songs of a genre co-occur, so the
// right answer is known. Each session follows one genre (switching to another with a small probability per song),
// draws songs of its genre with Zipf popularity, and plays a random song of any genre now and then.
#pragma once

#include <cstdint>
#include <string>

namespace reckon::item2vec {

struct SyntheticSessionsOptions {
  std::int64_t train_sessions = 20000;
  std::int64_t test_sessions = 2000;
  int genres = 20;
  int songs_per_genre = 50;
  int mean_length = 8;          // songs per session: uniform in [2, 2 · mean_length - 2]
  double switch_probability = 0.05;
  double noise_probability = 0.1;
  std::uint64_t seed = 1;
};

struct SyntheticSessions {
  std::string train_path, test_path;  // sessions-tsv (SessionId, ItemId, Time)
};

// Song ids are genre · 1000 + rank, so a song's genre is its id / 1000.
SyntheticSessions write_synthetic_sessions(const std::string& directory, const SyntheticSessionsOptions& options);

}  // namespace reckon::item2vec
