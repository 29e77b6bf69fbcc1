// The MovieLens converter (`reckon ctr movielens`) on arbitrary files: the input is ratings.csv, a line "--", then
// movies.csv.
#include <filesystem>
#include <string>

#include "fuzz_util.h"
#include "reckon/models/ctr/movielens.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  const auto [ratings, movies] = fuzz::two_files(data, size);
  const std::string ratings_path = fuzz::input_file(ratings, "_ratings.csv");
  const std::string movies_path = fuzz::input_file(movies, "_movies.csv");
  const std::string out = ratings_path + ".out";
  std::filesystem::create_directories(out);
  fuzz::accept_or_refuse("write_movielens_click_log",
                         [&] { (void)ctr::write_movielens_click_log(ratings_path, movies_path, out, 0.25, 1); });
  return 0;
}
