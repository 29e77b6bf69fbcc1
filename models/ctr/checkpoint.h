// Model checkpoints: a versioned binary file with a checksum, written to a temporary file and renamed, so an
// interrupted save never corrupts the previous checkpoint. Holds the model configuration (with the step count), the
// vocabulary, the parameters and (from version 2) the optimizers' state, so a loaded model serves or resumes
// training exactly where it stopped. Version 1 files still load, with fresh optimizer state.
// A truncated, corrupted or foreign file is rejected with kDataError before anything is used.
#pragma once

#include <memory>
#include <string>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/runtime/file_io.h"

namespace reckon::ctr {

inline constexpr std::uint32_t kCheckpointVersion = 2;

void save_checkpoint(const std::string& path, CtrModel& model, const Vocabulary& vocabulary);

struct LoadedModel {
  Vocabulary vocabulary;
  std::unique_ptr<CtrModel> model;
};
LoadedModel load_checkpoint(const std::string& path, Context& ctx);

// The model's training state - its parameters, then its optimizers' state - appended to `bytes`, and read back from
// them into a model of the same configuration (`source` names the bytes in errors): a checkpoint's tensor
// sections, and the trainer's host copy of its best epoch. Both have completed when they return.
void append_training_state(std::string& bytes, CtrModel& model);
void read_training_state(ByteReader& reader, CtrModel& model, const std::string& source, bool with_optimizer_state);

}  // namespace reckon::ctr
