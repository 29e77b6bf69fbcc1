// MovieLens ratings as a click log: a rating >= 4 is a click. Fields: user, movie, genres (a multi-valued field:
// the bag of the movie's genres) and release year (from the title). Written as tab-separated rows
// (click, user, movie, genres joined by '|', year) with DIR/schema.txt describing them, so
// `reckon ctr train --format schema:DIR/schema.txt` reads it.
#pragma once

#include <cstdint>
#include <string>

namespace reckon::ctr {

struct MovielensClickLog {
  std::string train_path, test_path, schema_path;
  std::int64_t train_rows = 0, test_rows = 0;
  double click_rate = 0;
};

// Splits rows at random (test_fraction of them, by a seeded Philox draw) into DIR/train.txt and DIR/test.txt.
MovielensClickLog write_movielens_click_log(const std::string& ratings_csv, const std::string& movies_csv,
                                            const std::string& directory, double test_fraction,
                                            std::uint64_t seed);

}  // namespace reckon::ctr
