#include "reckon/models/content/cold_start.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "reckon/models/item2vec/item2vec.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::content {

namespace {

// Who plays what: per user a favourite genre and their plays (song indices), training plays on warm songs only.
struct ListeningLog {
  std::vector<int> favourite;
  std::vector<std::vector<int>> train, test;
};

// Running sums of Zipf weights over a random order of each genre's songs.
std::vector<std::vector<double>> song_popularity(const ColdStartOptions& o, PhiloxStream& rng) {
  const int S = o.songs.songs_per_genre;
  std::vector<std::vector<double>> sums(static_cast<std::size_t>(o.songs.genres));
  for (auto& genre : sums) {
    std::vector<int> rank(static_cast<std::size_t>(S));
    std::iota(rank.begin(), rank.end(), 1);
    for (int i = S - 1; i > 0; --i) std::swap(rank[static_cast<std::size_t>(i)], rank[uniform_below(rng.next_u32(), static_cast<std::uint32_t>(i + 1))]);
    double total = 0;
    for (const int r : rank) genre.push_back(total += std::pow(static_cast<double>(r), -o.song_zipf));
  }
  return sums;
}

int draw_song(const ColdStartOptions& o, const std::vector<std::vector<double>>& popularity, int favourite,
              PhiloxStream& rng) {
  const int genre = rng.next_uniform() < o.favourite ? favourite
                                                     : static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.songs.genres)));
  const auto& sums = popularity[static_cast<std::size_t>(genre)];
  const double u = rng.next_uniform() * sums.back();
  const auto at = std::upper_bound(sums.begin(), sums.end(), u) - sums.begin();
  return genre * o.songs.songs_per_genre + static_cast<int>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(sums.size()) - 1));
}

bool is_cold(const ColdStartOptions& o, int song) { return song % o.songs.songs_per_genre % o.cold_every == 0; }

ListeningLog make_log(const ColdStartOptions& o) {
  PhiloxStream rng(o.seed, 0xc01d);
  const auto popularity = song_popularity(o, rng);
  ListeningLog log;
  for (int u = 0; u < o.users; ++u) {
    log.favourite.push_back(static_cast<int>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.songs.genres))));
    log.train.emplace_back();
    log.test.emplace_back();
    while (static_cast<int>(log.train.back().size()) < o.train_plays) {
      const int song = draw_song(o, popularity, log.favourite.back(), rng);
      if (!is_cold(o, song)) log.train.back().push_back(song);
    }
    for (int p = 0; p < o.test_plays; ++p) log.test.back().push_back(draw_song(o, popularity, log.favourite.back(), rng));
  }
  return log;
}

// item2vec over each user's training plays (one sentence per user): a vector per warm song that was played.
item2vec::KeyedVectors warm_vectors(Context& ctx, const ColdStartOptions& o, const ListeningLog& log) {
  item2vec::Sequences seq;
  for (const auto& plays : log.train) {
    for (const int song : plays) seq.tokens.push_back(std::to_string(song));
    seq.offsets.push_back(static_cast<std::int64_t>(seq.tokens.size()));
  }
  item2vec::Item2VecConfig config;
  config.dim = o.item2vec_dim;
  config.window = 5;
  config.sample = 0;
  config.epochs = o.item2vec_epochs;
  config.seed = o.seed;
  item2vec::Item2Vec model(ctx, config, item2vec::ItemVocabulary::build(seq, 1));
  model.train(item2vec::encode(seq, model.vocabulary()));
  item2vec::KeyedVectors kv = model.keyed_vectors();
  kv.build_index();
  return kv;
}

std::vector<float> unit(std::vector<float> v) {
  double norm = 0;
  for (const float x : v) norm += static_cast<double>(x) * x;
  const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (float& x : v) x = static_cast<float>(x * inv);
  return v;
}

// HR@K and MRR@K of the cold songs users played in the test period, ranking every cold song by score(user, song).
// Equal scores (every song of a genre shares its centroid) are ordered by `tie_break`, a fixed random number per
// song: the expected rank of an arbitrary order, rather than the best or the worst case.
ColdStartRow rank_cold(const std::string& method, const ColdStartOptions& o, const ListeningLog& log,
                       const std::vector<int>& cold, const std::vector<float>& tie_break,
                       const std::function<float(int user, int song)>& score) {
  ColdStartRow row{method, 0, 0};
  std::int64_t pairs = 0;
  std::vector<float> scores(cold.size());
  for (int u = 0; u < o.users; ++u) {
    std::vector<int> played;
    for (const int s : log.test[static_cast<std::size_t>(u)]) {
      if (is_cold(o, s) && std::find(played.begin(), played.end(), s) == played.end()) played.push_back(s);
    }
    if (played.empty()) continue;
    for (std::size_t c = 0; c < cold.size(); ++c) scores[c] = score(u, cold[c]);
    for (const int s : played) {
      const auto at = static_cast<std::size_t>(std::find(cold.begin(), cold.end(), s) - cold.begin());
      std::int64_t rank = 1;
      for (std::size_t c = 0; c < cold.size(); ++c) {
        const bool before = scores[c] > scores[at] ||
                            (scores[c] == scores[at] && tie_break[static_cast<std::size_t>(cold[c])] > tie_break[static_cast<std::size_t>(s)]);
        rank += before ? 1 : 0;
      }
      ++pairs;
      if (rank <= o.k) {
        row.hit_rate += 1;
        row.mrr += 1.0 / static_cast<double>(rank);
      }
    }
  }
  row.hit_rate /= static_cast<double>(std::max<std::int64_t>(1, pairs));
  row.mrr /= static_cast<double>(std::max<std::int64_t>(1, pairs));
  return row;
}

// Each genre's unit mean of the training examples' vectors.
std::vector<std::vector<float>> genre_centroids(const AudioExamples& train, int genres, std::size_t D) {
  std::vector<std::vector<float>> centroid(static_cast<std::size_t>(genres), std::vector<float>(D, 0.0f));
  for (std::size_t i = 0; i < train.labels.size(); ++i) {
    for (std::size_t k = 0; k < D; ++k) centroid[static_cast<std::size_t>(train.labels[i])][k] += train.vectors[i * D + k];
  }
  for (auto& c : centroid) c = unit(c);
  return centroid;
}

// Each user's unit mean of their training plays' vectors.
std::vector<std::vector<float>> user_vectors(const ColdStartOptions& o, const ListeningLog& log,
                                             const item2vec::KeyedVectors& kv) {
  const auto D = static_cast<std::size_t>(kv.dim);
  std::vector<std::vector<float>> user(static_cast<std::size_t>(o.users), std::vector<float>(D, 0.0f));
  for (int u = 0; u < o.users; ++u) {
    for (const int s : log.train[static_cast<std::size_t>(u)]) {
      const std::int32_t row = kv.lookup(std::to_string(s));
      for (std::size_t k = 0; k < D; ++k) user[static_cast<std::size_t>(u)][k] += kv.vectors[static_cast<std::size_t>(row) * D + k];
    }
    user[static_cast<std::size_t>(u)] = unit(user[static_cast<std::size_t>(u)]);
  }
  return user;
}

// The CNN's training examples: each warm song with an item2vec vector, its genre and vector into `train`, its audio
// into `audio`; returns how many.
std::int64_t warm_examples(const std::vector<SyntheticSong>& songs, const std::vector<int>& warm,
                           const item2vec::KeyedVectors& kv, AudioExamples& train, std::vector<std::vector<float>>& audio) {
  const auto D = static_cast<std::size_t>(kv.dim);
  for (const int s : warm) {
    const std::int32_t row = kv.lookup(std::to_string(s));
    if (row < 0) continue;
    audio.push_back(songs[static_cast<std::size_t>(s)].samples);
    train.labels.push_back(songs[static_cast<std::size_t>(s)].genre);
    train.vectors.insert(train.vectors.end(), kv.vectors.begin() + static_cast<std::ptrdiff_t>(row * D),
                         kv.vectors.begin() + static_cast<std::ptrdiff_t>((row + 1) * D));
  }
  return static_cast<std::int64_t>(audio.size());
}

}  // namespace

ColdStartResult run_cold_start(Context& ctx, const ColdStartOptions& o, AudioCnnOptions cnn,
                               const std::function<void(const std::string&)>& on_stage) {
  RECKON_CHECK_ARG(o.users >= 1 && o.train_plays >= 2 && o.test_plays >= 1 && o.cold_every >= 2 && o.k >= 1 &&
                       o.favourite >= 0 && o.favourite <= 1,
                   "cold start: users, plays, k >= 1, cold_every >= 2 and favourite in [0, 1]");
  const auto stage = [&](const char* what) {
    if (on_stage) on_stage(what);
  };
  stage("songs");
  const std::vector<SyntheticSong> songs = make_synthetic_songs(o.songs);
  const ListeningLog log = make_log(o);
  stage("item2vec on the warm songs' plays");
  const item2vec::KeyedVectors kv = warm_vectors(ctx, o, log);
  const auto D = static_cast<std::size_t>(kv.dim);
  ColdStartResult result;
  std::vector<int> cold, warm;
  for (int s = 0; s < static_cast<int>(songs.size()); ++s) (is_cold(o, s) ? cold : warm).push_back(s);
  AudioExamples train;
  std::vector<std::vector<float>> warm_audio, cold_audio;
  result.warm_songs = warm_examples(songs, warm, kv, train, warm_audio);
  for (const int s : cold) cold_audio.push_back(songs[static_cast<std::size_t>(s)].samples);
  result.cold_songs = static_cast<std::int64_t>(cold.size());
  stage("the content CNN on the warm songs' audio");
  train.spectrograms = compute_spectrograms(ctx, warm_audio, cnn.logmel);
  cnn.classes = o.songs.genres;
  cnn.vector_dim = static_cast<int>(D);
  std::vector<std::string> names;
  for (const auto& g : synthetic_genres(o.songs)) names.push_back(g.name);
  AudioCnn model(ctx, cnn, names, train.spectrograms);
  result.epochs = fit(model, train, nullptr).epochs;
  const std::vector<AudioPrediction> predicted = model.predict(compute_spectrograms(ctx, cold_audio, cnn.logmel));

  stage("ranking the cold songs");
  const std::vector<std::vector<float>> centroid = genre_centroids(train, o.songs.genres, D);
  const std::vector<std::vector<float>> user = user_vectors(o, log, kv);
  std::vector<std::vector<float>> cnn_vector(static_cast<std::size_t>(songs.size())), cnn_genre(songs.size()), oracle(songs.size());
  std::vector<float> test_plays(songs.size(), 0.0f);
  int right = 0;
  for (std::size_t c = 0; c < cold.size(); ++c) {
    const auto s = static_cast<std::size_t>(cold[c]);
    const auto& p = predicted[c].probabilities;
    const auto guess = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    right += static_cast<int>(guess) == songs[s].genre ? 1 : 0;
    cnn_vector[s] = unit(predicted[c].vector);
    cnn_genre[s] = centroid[guess];
    oracle[s] = centroid[static_cast<std::size_t>(songs[s].genre)];
  }
  for (const auto& plays : log.test) for (const int s : plays) test_plays[static_cast<std::size_t>(s)] += 1;
  result.cold_genre_accuracy = static_cast<double>(right) / static_cast<double>(std::max<std::size_t>(1, cold.size()));
  const auto cosine = [&](const std::vector<std::vector<float>>& vectors) {
    return [&vectors, &user, D](int u, int s) {
      const auto& a = user[static_cast<std::size_t>(u)];
      const auto& b = vectors[static_cast<std::size_t>(s)];
      float dot = 0;
      for (std::size_t k = 0; k < D; ++k) dot += a[k] * b[k];
      return dot;
    };
  };
  PhiloxStream rng(o.seed, 0x7a4d);
  std::vector<float> random_score(songs.size());
  for (float& r : random_score) r = rng.next_uniform();
  const std::vector<float>& ties = random_score;
  result.rows.push_back(rank_cold("random", o, log, cold, ties, [&](int, int s) { return random_score[static_cast<std::size_t>(s)]; }));
  result.rows.push_back(rank_cold("popularity", o, log, cold, ties, [&](int, int s) { return test_plays[static_cast<std::size_t>(s)]; }));
  result.rows.push_back(rank_cold("CNN genre", o, log, cold, ties, cosine(cnn_genre)));
  result.rows.push_back(rank_cold("CNN vector", o, log, cold, ties, cosine(cnn_vector)));
  result.rows.push_back(rank_cold("label oracle", o, log, cold, ties, cosine(oracle)));
  for (int u = 0; u < o.users; ++u) {
    for (const int s : log.test[static_cast<std::size_t>(u)]) result.test_pairs += is_cold(o, s) ? 1 : 0;
  }
  return result;
}

}  // namespace reckon::content
