// Model checkpoints: a versioned binary file with a checksum, written to a temporary file and renamed, so an
// interrupted save never corrupts the previous checkpoint. Holds the model configuration, the vocabulary and the
// parameters (not the optimizer state: a loaded model serves, or resumes training with fresh optimizer state).
// A truncated, corrupted or foreign file is rejected with kDataError before anything is used.
#pragma once

#include <memory>
#include <string>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"

namespace reckon::ctr {

inline constexpr std::uint32_t kCheckpointVersion = 1;

void save_checkpoint(const std::string& path, CtrModel& model, const Vocabulary& vocabulary);

struct LoadedModel {
  Vocabulary vocabulary;
  std::unique_ptr<CtrModel> model;
};
LoadedModel load_checkpoint(const std::string& path, Context& ctx);

}  // namespace reckon::ctr
