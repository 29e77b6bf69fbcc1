#include "reckon/models/ctr/movielens.h"

#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/philox.h"

namespace reckon::ctr {
namespace {

std::string year_of(const std::string& title) {
  // The year is the last "(yyyy)" of the title.
  const std::size_t close = title.rfind(')');
  if (close == std::string::npos || close < 5 || title[close - 5] != '(') return "";
  const std::string year = title.substr(close - 4, 4);
  for (char c : year) {
    if (c < '0' || c > '9') return "";
  }
  return year;
}

}  // namespace

MovielensClickLog write_movielens_click_log(const std::string& ratings_csv, const std::string& movies_csv,
                                            const std::string& directory, double test_fraction,
                                            std::uint64_t seed) {
  RECKON_CHECK_ARG(test_fraction > 0 && test_fraction < 1, "test fraction must be in (0, 1)");
  struct Movie {
    std::string genres, year;
  };
  std::unordered_map<std::string, Movie> movies;
  std::ifstream min(movies_csv);
  if (!min) RECKON_THROW(StatusCode::kIoError, "cannot open ", movies_csv);
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(min, line)) {
    if (++line_no == 1 || line.empty()) continue;
    const std::vector<std::string> f = split_quoted_fields(line, ',');
    if (f.size() != 3) {
      RECKON_THROW(StatusCode::kDataError, movies_csv, ":", line_no, ": expected 3 columns (movieId,title,genres), got ",
                   f.size());
    }
    movies[f[0]] = {f[2], year_of(f[1])};
  }
  std::ifstream rin(ratings_csv);
  if (!rin) RECKON_THROW(StatusCode::kIoError, "cannot open ", ratings_csv);
  std::filesystem::create_directories(directory);
  MovielensClickLog log;
  log.train_path = (std::filesystem::path(directory) / "train.txt").string();
  log.test_path = (std::filesystem::path(directory) / "test.txt").string();
  log.schema_path = (std::filesystem::path(directory) / "schema.txt").string();
  {
    std::ofstream schema(log.schema_path);
    schema << "# MovieLens ratings as clicks (rating >= 4), written by reckon ctr movielens\n"
              "delimiter = tab\nheader = false\nlabel = 0\ncategorical = 1, 2, 4\nmulti = 3:|\n";
    if (!schema) RECKON_THROW(StatusCode::kIoError, "cannot write ", log.schema_path);
  }
  std::ofstream train(log.train_path), test(log.test_path);
  if (!train || !test) RECKON_THROW(StatusCode::kIoError, "cannot write into ", directory);
  PhiloxStream rng(seed, 0x4d4c);
  double clicks = 0;
  line_no = 0;
  while (std::getline(rin, line)) {
    if (++line_no == 1 || line.empty()) continue;
    const std::vector<std::string> f = split_quoted_fields(line, ',');
    char* end = nullptr;
    const double rating = f.size() == 4 ? std::strtod(f[2].c_str(), &end) : -1;
    if (f.size() != 4 || end == f[2].c_str()) {
      RECKON_THROW(StatusCode::kDataError, ratings_csv, ":", line_no,
                   ": expected userId,movieId,rating,timestamp with a numeric rating");
    }
    const int click = rating >= 4.0 ? 1 : 0;
    clicks += click;
    const auto it = movies.find(f[1]);
    const Movie movie = it == movies.end() ? Movie{} : it->second;
    const bool is_test = rng.next_uniform() < test_fraction;
    std::ofstream& out = is_test ? test : train;
    (is_test ? log.test_rows : log.train_rows) += 1;
    // "(no genres listed)" is MovieLens's empty set.
    const std::string& genres = movie.genres == "(no genres listed)" ? std::string() : movie.genres;
    out << click << "\tu" << f[0] << "\tm" << f[1] << '\t' << genres << '\t' << movie.year << '\n';
  }
  if (log.train_rows + log.test_rows == 0) RECKON_THROW(StatusCode::kDataError, ratings_csv, ": no ratings");
  log.click_rate = clicks / static_cast<double>(log.train_rows + log.test_rows);
  return log;
}

}  // namespace reckon::ctr
