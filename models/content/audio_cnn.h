// The content CNN (issue 22): a 2D CNN over log-mel spectrograms with two heads - a class (genre, instrument) by
// softmax, and an item vector (an item's collaborative-filtering vector, learned from items that have
// interactions) by squared error - so that items nobody has played get a label and a vector from their audio
// (van den Oord, Dieleman & Schrauwen, NIPS 2013). Our layer sizes:
//
//   input       a crop of `crop_frames` frames × `mels` bands, each band standardised by the training set's mean and
//               spread: a volume [B, 1, T, M, 1], channels last (the conv3d family with D = 1)
//   block 1     Conv 3×3, 1 → F, ReLU; max pool 2×2           → [T/2, M/2, F]
//   block 2     Conv 3×3, F → 2F, ReLU; max pool 2×2          → [T/4, M/4, 2F]
//   block 3     Conv 3×3, 2F → 4F, ReLU; max pool 2 (time) × 4 (mels) → [T/8, M/16, 4F]
//   pooling     max over time only: the M/16 band groups × 4F channels stay apart (pitch register matters)
//   dense       Linear → hidden, ReLU, dropout
//   heads       Linear hidden → classes (softmax cross-entropy); Linear hidden → vector_dim (squared error)
//
// Training: Adam; each epoch every clip once, in a shuffled order, as a random crop (a clip shorter than the crop
// is padded with its bands' means) with a random gain of ±gain_db decibels (a constant added to every band before
// standardising). Prediction reads a whole clip as crops every crop_frames / 2 frames and averages their class
// logits (then softmax) and vectors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reckon/models/layers/layers.h"
#include "reckon/runtime/context.h"

namespace reckon::content {

struct LogMelSettings {
  int sample_rate = 22050, fft_size = 1024, hop = 512, mels = 64;
};

// Log-mel images, frames × mels each, row-major; clips shorter than one frame have none.
struct Spectrograms {
  int mels = 0;
  std::vector<std::vector<float>> images;
  std::int64_t frames(std::size_t i) const { return static_cast<std::int64_t>(images[i].size()) / mels; }
  std::size_t size() const { return images.size(); }
};
// Through the logmel kernel on ctx's device, one clip at a time (each its own length).
Spectrograms compute_spectrograms(Context& ctx, const std::vector<std::vector<float>>& clips, const LogMelSettings& s);

// What a model learns from: every clip's spectrogram, its class (with classes > 0) and its vector (with
// vector_dim > 0; clip i's is vectors[i · dim, (i + 1) · dim)).
struct AudioExamples {
  Spectrograms spectrograms;
  std::vector<std::int32_t> labels;
  std::vector<float> vectors;
};

struct AudioCnnOptions {
  int classes = 0, vector_dim = 0;  // at least one head
  LogMelSettings logmel;
  int crop_frames = 128;            // a multiple of 8; mels a multiple of 16
  int filters = 16, hidden = 128;
  float dropout = 0.3f, learning_rate = 0.001f, vector_weight = 1.0f, gain_db = 6.0f;
  int batch = 32, epochs = 40;
  std::uint64_t seed = 1;
};

struct AudioEpoch {
  int epoch = 0;
  double class_loss = -1, vector_loss = -1;  // means per clip (vector: per dimension); -1 without the head
  double seconds = 0, clips_per_second = 0;
};

struct AudioPrediction {
  std::vector<float> probabilities;  // per class
  std::vector<float> vector;
};

class AudioCnn {
 public:
  // The bands' standardisation comes from `train`'s spectrograms.
  AudioCnn(Context& ctx, const AudioCnnOptions& options, std::vector<std::string> class_names, const Spectrograms& train);
  ~AudioCnn();
  AudioEpoch train_epoch(const AudioExamples& train, int epoch);
  std::vector<AudioPrediction> predict(const Spectrograms& clips) const;
  const AudioCnnOptions& options() const { return options_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Every parameter and optimizer state, on the context's device.
  std::vector<layers::NamedTensor> state() const;
  Context& context() const;

  // Checkpoint kind "audio_cnn": the options, class names, standardisation, parameters and optimizer state.
  void save(const std::string& path) const;
  static std::unique_ptr<AudioCnn> load(Context& ctx, const std::string& path);

 private:
  struct Impl;
  AudioCnn(Context& ctx, const AudioCnnOptions& options, std::vector<std::string> class_names,
           std::vector<float> band_mean, std::vector<float> band_scale);
  AudioCnnOptions options_;
  std::vector<std::string> class_names_;
  std::unique_ptr<Impl> impl_;
};

// Fraction of clips whose most probable class is their label.
double accuracy(const std::vector<AudioPrediction>& predictions, const std::vector<std::int32_t>& labels);
// confusion[true · classes + predicted] counts.
std::vector<std::int64_t> confusion_matrix(const std::vector<AudioPrediction>& predictions,
                                           const std::vector<std::int32_t>& labels, int classes);

// Mean −log p(label) of the predictions (probabilities floored at 1e-7).
double log_loss(const std::vector<AudioPrediction>& predictions, const std::vector<std::int32_t>& labels);

struct AudioFitResult {
  std::vector<AudioEpoch> epochs;
  std::vector<double> validation_accuracy, validation_loss;  // per epoch; empty without validation clips
  int best_epoch = 0;
};
// Up to options().epochs epochs; with validation clips (labelled) the state of the epoch with the lowest
// validation log loss is kept (accuracy over a few dozen clips moves in steps too coarse to choose by) and training
// stops after `patience` epochs without a lower one.
AudioFitResult fit(AudioCnn& model, const AudioExamples& train, const AudioExamples* validation, int patience = 5,
                   const std::function<void(const AudioEpoch&, double validation_accuracy)>& on_epoch = {});

}  // namespace reckon::content
