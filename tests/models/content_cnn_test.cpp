// The content CNN: learns synthetic genres from their sound, regresses planted item vectors, keeps its predictions
// through a checkpoint, refuses bad settings and examples; on a GPU, the same steps as the CPU.
#include <gtest/gtest.h>

#include <cmath>

#include "reckon/models/content/audio_cnn.h"
#include "reckon/models/content/synthetic.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::content {
namespace {

struct Split {
  AudioExamples train, test;
  std::vector<std::string> names;
};

// Genres × songs of 3 s; the first `train_per_genre` songs of each genre train, the rest test. Each genre's item
// vector is planted: a fixed random direction (dim 8).
Split genre_split(Context& ctx, int genres, int songs, int train_per_genre) {
  SyntheticSongsOptions o;
  o.genres = genres;
  o.songs_per_genre = songs;
  o.seconds = 3;
  const auto all = make_synthetic_songs(o);
  const std::vector<float> planted = testing::random_floats(static_cast<std::size_t>(genres * 8), -1, 1, 5);
  Split s;
  for (const auto& g : synthetic_genres(o)) s.names.push_back(g.name);
  std::vector<std::vector<float>> train_clips, test_clips;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool train = static_cast<int>(i) % songs < train_per_genre;
    AudioExamples& e = train ? s.train : s.test;
    (train ? train_clips : test_clips).push_back(all[i].samples);
    e.labels.push_back(all[i].genre);
    e.vectors.insert(e.vectors.end(), planted.begin() + all[i].genre * 8, planted.begin() + all[i].genre * 8 + 8);
  }
  s.train.spectrograms = compute_spectrograms(ctx, train_clips, LogMelSettings{});
  s.test.spectrograms = compute_spectrograms(ctx, test_clips, LogMelSettings{});
  return s;
}

AudioCnnOptions small(int classes, int vector_dim) {
  AudioCnnOptions o;
  o.classes = classes;
  o.vector_dim = vector_dim;
  o.epochs = 25;
  o.filters = 8;
  o.hidden = 64;
  o.batch = 16;
  o.learning_rate = 0.003f;
  return o;
}

// Nearest planted vector (by squared distance) of each prediction is its genre's.
double vector_accuracy(const std::vector<AudioPrediction>& p, const AudioExamples& e, int genres) {
  int right = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    int best = -1;
    double best_d = 0;
    for (int g = 0; g < genres; ++g) {
      double d = 0;
      for (std::size_t k = 0; k < 8; ++k) {
        // The planted vectors are the examples' own: genre g's is that of any clip labelled g.
        const auto it = std::find(e.labels.begin(), e.labels.end(), g);
        const std::size_t row = static_cast<std::size_t>(it - e.labels.begin());
        d += std::pow(p[i].vector[k] - e.vectors[row * 8 + k], 2);
      }
      if (best < 0 || d < best_d) best = g, best_d = d;
    }
    right += best == e.labels[i] ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(p.size());
}

TEST(AudioCnn, LearnsGenresAndVectorsFromTheSound) {
  Context ctx(Device::cpu());
  const Split s = genre_split(ctx, 6, 16, 10);
  AudioCnn model(ctx, small(6, 8), s.names, s.train.spectrograms);
  const AudioFitResult r = fit(model, s.train, nullptr);
  ASSERT_EQ(r.epochs.size(), 25u);
  EXPECT_LT(r.epochs.back().class_loss, r.epochs.front().class_loss * 0.5);
  EXPECT_LT(r.epochs.back().vector_loss, r.epochs.front().vector_loss);
  const auto p = model.predict(s.test.spectrograms);
  EXPECT_GE(accuracy(p, s.test.labels), 0.8) << "chance: 1/6";
  EXPECT_GE(vector_accuracy(p, s.test, 6), 0.8);
  const auto confusion = confusion_matrix(p, s.test.labels, 6);
  std::int64_t total = 0;
  for (const auto c : confusion) total += c;
  EXPECT_EQ(total, static_cast<std::int64_t>(s.test.labels.size()));
}

TEST(AudioCnn, CheckpointsKeepThePredictions) {
  Context ctx(Device::cpu());
  const Split s = genre_split(ctx, 3, 4, 3);
  AudioCnnOptions o = small(3, 8);
  o.epochs = 2;
  AudioCnn model(ctx, o, s.names, s.train.spectrograms);
  fit(model, s.train, nullptr);
  const std::string dir = testing::temp_dir("audio_cnn");
  model.save(dir + "/m.ckpt");
  const auto loaded = AudioCnn::load(ctx, dir + "/m.ckpt");
  EXPECT_EQ(loaded->class_names(), s.names);
  const auto a = model.predict(s.test.spectrograms), b = loaded->predict(s.test.spectrograms);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].probabilities, b[i].probabilities);
    EXPECT_EQ(a[i].vector, b[i].vector);
  }
  const std::string bytes = reckon::read_file(dir + "/m.ckpt");
  testing::write_file(dir, "cut.ckpt", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW((void)AudioCnn::load(ctx, dir + "/cut.ckpt"), Error);
}

TEST(AudioCnn, BadSettingsAndExamplesAreRefused) {
  Context ctx(Device::cpu());
  const Split s = genre_split(ctx, 2, 2, 1);
  EXPECT_THROW(AudioCnn(ctx, small(0, 0), {}, s.train.spectrograms), Error);
  AudioCnnOptions o = small(2, 0);
  o.crop_frames = 100;
  EXPECT_THROW(AudioCnn(ctx, o, s.names, s.train.spectrograms), Error);
  EXPECT_THROW(AudioCnn(ctx, small(2, 0), {"one"}, s.train.spectrograms), Error);
  AudioCnn model(ctx, small(2, 8), s.names, s.train.spectrograms);
  AudioExamples bad = s.train;
  bad.labels[0] = 5;
  EXPECT_THROW(model.train_epoch(bad, 1), Error);
  bad = s.train;
  bad.vectors.pop_back();
  EXPECT_THROW(model.train_epoch(bad, 1), Error);
  bad = s.train;
  bad.vectors[0] = std::nanf("");
  EXPECT_THROW(model.train_epoch(bad, 1), Error);
  // A clip shorter than the crop is padded; one shorter than a frame has no frames and still predicts.
  Spectrograms short_clips = compute_spectrograms(ctx, {std::vector<float>(5000, 0.1f), std::vector<float>(100, 0.1f)}, LogMelSettings{});
  EXPECT_EQ(model.predict(short_clips).size(), 2u);
}

TEST(AudioCnnCuda, StepsMatchTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  std::vector<std::vector<AudioPrediction>> out;
  for (const Device device : {Device::cpu(), Device::cuda(0)}) {
    Context ctx(device);
    const Split s = genre_split(ctx, 3, 4, 3);
    AudioCnnOptions o = small(3, 8);
    o.epochs = 2;
    o.dropout = 0;
    AudioCnn model(ctx, o, s.names, s.train.spectrograms);
    fit(model, s.train, nullptr);
    out.push_back(model.predict(s.test.spectrograms));
  }
  for (std::size_t i = 0; i < out[0].size(); ++i) {
    for (std::size_t k = 0; k < out[0][i].probabilities.size(); ++k) EXPECT_NEAR(out[1][i].probabilities[k], out[0][i].probabilities[k], 2e-3);
    for (std::size_t k = 0; k < out[0][i].vector.size(); ++k) EXPECT_NEAR(out[1][i].vector[k], out[0][i].vector[k], 2e-3);
  }
}

}  // namespace
}  // namespace reckon::content
