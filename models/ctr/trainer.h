// Training and batch prediction for CTR models: shuffled mini-batches, validation AUC and logloss after each
// epoch, early stopping, NaN detection, a progress line with samples/s and ETA.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"

namespace reckon::ctr {

struct TrainOptions {
  int epochs = 1;
  std::int64_t batch_size = 4096;
  bool shuffle = true;
  int early_stopping_patience = 0;  // epochs without a better validation logloss before stopping; 0: never
  float learning_rate_decay = 1.0f;  // learning rates are multiplied by this after every epoch
  bool progress = false;            // a progress line on stderr
  std::uint64_t seed = 1;           // shuffling
  // With validation data, end at the best epoch (by validation logloss): when a later epoch is worse, the best
  // epoch's parameters, optimizer state and step are put back (a host copy is kept when an epoch improves).
  bool restore_best = true;
};

struct EpochResult {
  int epoch = 0;
  std::int64_t samples = 0;
  double train_loss = 0;
  double valid_auc = 0, valid_logloss = 0;
  double seconds = 0, samples_per_s = 0;
};

struct TrainResult {
  std::vector<EpochResult> epochs;
  int best_epoch = 0;  // 1-based, by validation logloss
  double auc = 0, logloss = 0;  // of the best epoch
  double train_samples_per_s = 0;
  bool stopped_early = false;
  bool restored_best = false;  // the model was put back to best_epoch
};

// Throws kInvalidArgument for options out of range (train and train_stream call it first; callers that read large
// files check before reading).
void validate(const TrainOptions& options);

// Throws kNumericError if the training loss becomes NaN or infinite (the model is then not usable).
TrainResult train(CtrModel& model, const CtrDataset& train, const CtrDataset& valid, const TrainOptions& options);

// Trains from a file streamed by a background reader (files larger than memory): rows go through a bounded shuffle
// buffer of `shuffle_buffer` rows into pinned batches, copied to the device asynchronously. The vocabulary comes
// from build_vocabulary on the same file. `report` (optional) receives the last epoch's skipped-row report.
TrainResult train_stream(CtrModel& model, const std::string& path, const Vocabulary& vocabulary,
                         const ReadOptions& read, const CtrDataset& valid, const TrainOptions& options,
                         std::int64_t shuffle_buffer = 1 << 18, CtrDataset* report = nullptr);

// Click probabilities for every row of the dataset, on the host.
std::vector<float> predict(CtrModel& model, const CtrDataset& data, std::int64_t batch_size = 4096);

// Scores a file's rows as they are read, `batch_size` at a time, so memory holds a batch rather than the file:
// `scored(probabilities, labels)` is called for each batch in file order (labels are 0 when the rows have none).
// The batches are predict()'s on the same rows, so the probabilities are the same. Malformed rows are handled as
// in read_dataset.
struct ScoredFile {
  std::int64_t rows = 0;          // rows scored
  std::int64_t skipped_rows = 0;  // malformed rows skipped
  std::vector<std::string> first_errors;
  bool labeled = true;  // whether the rows had a label column
};
ScoredFile predict_file(
    CtrModel& model, const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options,
    std::int64_t batch_size,
    const std::function<void(const std::vector<float>& probabilities, const std::vector<float>& labels)>& scored);

}  // namespace reckon::ctr
