// An ensemble on disk: a JSON file naming each component's checkpoint (paths relative to the file), the blend and
// the serving options; and the ensemble loaded from it, each component on a Context of its own.
//
// {"components": [{"name": "vsknn", "checkpoint": "vsknn.ckpt"}, ...],
//  "blend": {"method": "rank_fusion" | "stacking", "depth": 100, "weights": [...], "gain": [[...], ...]},
//  "deadline_ms": 100, "workers": 1, "queue": 64,
//  "circuit": {"window": 20, "failures_to_open": 5, "cool_down_ms": 1000}}
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reckon/models/ensemble/ensemble.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/context.h"

namespace reckon::ensemble {

struct ComponentConfig {
  std::string name, checkpoint;  // checkpoint: absolute, or relative to the config file
};

struct EnsembleConfig {
  std::vector<ComponentConfig> components;
  Blend blend;
  EnsembleOptions options;
};

nlohmann::json to_json(const Blend& blend);
Blend blend_from_json(const nlohmann::json& j);  // kDataError naming what is missing or wrong
nlohmann::json to_json(const EnsembleConfig& config);
EnsembleConfig config_from_json(const nlohmann::json& j);

// kIoError for a missing or unreadable file, kDataError (naming the file) for bad JSON or a bad field.
EnsembleConfig read_config(const std::string& path);
void write_config(const EnsembleConfig& config, const std::string& path);  // atomically

// The loaded ensemble: the components' contexts and models, the catalogue their union makes (the first
// component's, then the others' items it lacks), and the ensemble over them. `faults` wrap the components they name
// (kInvalidArgument for a name no component has).
struct LoadedEnsemble {
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::string> names;  // per component, as in the config
  std::vector<std::shared_ptr<const session::SessionRecommender>> models;  // per component, without injected faults
  session::Catalog catalog;
  std::shared_ptr<HangRelease> release;
  std::unique_ptr<Ensemble> ensemble;
};
LoadedEnsemble load_ensemble(const std::string& config_path, Device device, const std::vector<FaultSpec>& faults,
                             std::uint64_t seed = 1);

}  // namespace reckon::ensemble
