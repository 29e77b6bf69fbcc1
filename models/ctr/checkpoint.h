// Model checkpoints in the shared envelope (runtime/checkpoint.h), kind "ctr": the model configuration (with the
// step count) as the header's config, a vocabulary summary, the vocabulary itself as the byte section "vocabulary",
// and every parameter and optimizer state tensor by its layer name (CtrModel::named_parameters and
// named_optimizer_state), so a loaded model serves or resumes training exactly where it stopped. Files of the
// formats before the envelope (versions 1 and 2) still load; version 1 with fresh optimizer state.
// A truncated, corrupted or foreign file is rejected with kDataError before anything is used.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/runtime/file_io.h"

namespace reckon::ctr {

// The last CTR-only format; files are now written in the shared envelope.
inline constexpr std::uint32_t kLegacyCheckpointVersion = 2;

void save_checkpoint(const std::string& path, CtrModel& model, const Vocabulary& vocabulary);

struct LoadedModel {
  Vocabulary vocabulary;
  std::unique_ptr<CtrModel> model;
};
LoadedModel load_checkpoint(const std::string& path, Context& ctx);

// For `reckon inspect`: the header of a file in a CTR format before the envelope, as JSON text {"kind": "ctr",
// "format": "ctr v<N>", "config": {...}}; empty when the bytes are not one. Throws kDataError when they are but the
// header cannot be read.
std::string legacy_checkpoint_header(const std::string& path, std::string_view bytes);

// The model's training state - its parameters, then its optimizers' state - appended to `bytes`, and read back from
// them into a model of the same configuration (`source` names the bytes in errors): a checkpoint's tensor
// sections, and the trainer's host copy of its best epoch. Both have completed when they return.
void append_training_state(std::string& bytes, CtrModel& model);
void read_training_state(ByteReader& reader, CtrModel& model, const std::string& source, bool with_optimizer_state);

}  // namespace reckon::ctr
