// The synthetic songs: reproducible, in range, and their genre is in the sound: a nearest-centroid classifier on
// mean log-mel spectra, fitted on half the songs, names the other half's genres.
#include <gtest/gtest.h>

#include <cmath>

#include "reckon/kernels/logmel/logmel.h"
#include "reckon/models/content/synthetic.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon::content {
namespace {

TEST(SyntheticSongs, SameSeedSameSongsInRange) {
  SyntheticSongsOptions o;
  o.songs_per_genre = 2;
  o.seconds = 1;
  const auto a = make_synthetic_songs(o), b = make_synthetic_songs(o);
  ASSERT_EQ(a.size(), 12u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].samples, b[i].samples);
    EXPECT_EQ(a[i].samples.size(), 22050u);
    EXPECT_EQ(a[i].genre, static_cast<int>(i) / 2);
    float peak = 0;
    for (const float v : a[i].samples) peak = std::max(peak, std::abs(v));
    EXPECT_GT(peak, 0.05f);
    EXPECT_LE(peak, 1.0f);
  }
  EXPECT_NE(a[0].samples, a[1].samples);
  o.seed = 2;
  EXPECT_NE(make_synthetic_songs(o)[0].samples, a[0].samples);
  o.genres = 9;
  EXPECT_THROW((void)make_synthetic_songs(o), Error);
}

TEST(SyntheticSongs, TheGenreIsInTheSound) {
  SyntheticSongsOptions o;
  o.genres = 8;
  o.songs_per_genre = 10;
  o.seconds = 3;
  const auto songs = make_synthetic_songs(o);
  Context ctx(Device::cpu());
  const MelFilterbankOptions m;
  const std::vector<float> bank = mel_filterbank(m);
  const std::int64_t samples = static_cast<std::int64_t>(songs[0].samples.size()), frames = logmel_frames(samples, m.fft_size, 512);
  // Per song: each band's mean and standard deviation over the frames (the percussion's bursts are in the latter).
  const std::size_t features = 2 * static_cast<std::size_t>(m.mels);
  std::vector<std::vector<double>> mean(songs.size(), std::vector<double>(features, 0.0));
  for (std::size_t s = 0; s < songs.size(); ++s) {
    Tensor out = Tensor::empty(ctx, DType::kF32, {1, frames, m.mels});
    logmel(ctx, TensorView::contiguous(const_cast<float*>(songs[s].samples.data()), DType::kF32, Device::cpu(), {1, samples}),
           TensorView::contiguous(const_cast<float*>(bank.data()), DType::kF32, Device::cpu(), {m.fft_size / 2 + 1, m.mels}),
           out.view(), 512);
    const auto image = testing::to_host<float>(ctx, out.view());
    for (int b = 0; b < m.mels; ++b) {
      double sum = 0, squares = 0;
      for (std::int64_t f = 0; f < frames; ++f) {
        const double v = image[static_cast<std::size_t>(f * m.mels + b)];
        sum += v;
        squares += v * v;
      }
      const double mu = sum / static_cast<double>(frames);
      mean[s][static_cast<std::size_t>(b)] = mu;
      mean[s][static_cast<std::size_t>(m.mels + b)] = std::sqrt(std::max(0.0, squares / static_cast<double>(frames) - mu * mu));
    }
  }
  // Centroids of the even songs of each genre; the odd ones classified.
  std::vector<std::vector<double>> centroid(8, std::vector<double>(features, 0.0));
  for (std::size_t s = 0; s < songs.size(); s += 2) {
    for (std::size_t b = 0; b < features; ++b) centroid[static_cast<std::size_t>(songs[s].genre)][b] += mean[s][b] / 5.0;
  }
  int right = 0;
  for (std::size_t s = 1; s < songs.size(); s += 2) {
    int best = -1;
    double best_distance = 0;
    for (int g = 0; g < 8; ++g) {
      double d = 0;
      for (std::size_t b = 0; b < features; ++b) d += std::pow(mean[s][b] - centroid[static_cast<std::size_t>(g)][b], 2);
      if (best < 0 || d < best_distance) best = g, best_distance = d;
    }
    right += best == songs[s].genre ? 1 : 0;
  }
  EXPECT_GE(right, 36) << "of 40";  // chance: 5
}

}  // namespace
}  // namespace reckon::content
