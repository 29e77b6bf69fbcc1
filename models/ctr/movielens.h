// MovieLens ratings as a click log: a rating >= 4 is a click. Fields: user, movie, genres (the movie's genre set as
// one token) and release year (from the title). Written in Criteo layout (label, 13 empty integer columns, then
// the four fields as C1..C4) so `reckon ctr train --format criteo` reads it.
#pragma once

#include <cstdint>
#include <string>

namespace reckon::ctr {

struct MovielensClickLog {
  std::string train_path, test_path;
  std::int64_t train_rows = 0, test_rows = 0;
  double click_rate = 0;
};

// Splits rows at random (test_fraction of them, by a seeded Philox draw) into DIR/train.txt and DIR/test.txt.
MovielensClickLog write_movielens_click_log(const std::string& ratings_csv, const std::string& movies_csv,
                                            const std::string& directory, double test_fraction,
                                            std::uint64_t seed);

}  // namespace reckon::ctr
