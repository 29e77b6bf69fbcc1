// An ensemble on disk: a JSON file naming each component's checkpoint (paths relative to the file), the blend and
// the serving options; and the ensemble loaded from it, each component on a Context of its own.
//
// {"components": [{"name": "vsknn", "checkpoint": "vsknn.ckpt"},
//                 {"name": "item2vec", "kind": "vectors", "checkpoint": "item2vec.vec", "context_window": 1},
//                 {"name": "deepfm", "kind": "ctr", "checkpoint": "deepfm.ckpt", "item_field": "movie",
//                  "items": "movies.tsv"}, ...],
//  "blend": {"method": "rank_fusion" | "stacking", "depth": 100, "weights": [...], "gain": [[...], ...]},
//  "deadline_ms": 100, "workers": 1, "queue": 64,
//  "circuit": {"window": 20, "failures_to_open": 5, "cool_down_ms": 1000}}
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reckon/models/ensemble/ensemble.h"
#include "reckon/models/session/recommender.h"
#include "reckon/runtime/context.h"

namespace reckon::ensemble {

// A component's kind: a session model's checkpoint (session::load_any_recommender reads every kind); item vectors in
// word2vec's formats (item2vec's, or the content CNN's from `reckon content predict --word2vec`), scoring items by
// cosine with the session's last `context_window` items (0: all); a CTR model's checkpoint (ctr_component.h), its
// candidates the catalogue's items with `item_field` their names and `items` (optional) their other fields.
enum class ComponentKind : std::uint8_t { kSession, kVectors, kCtr };

struct ComponentConfig {
  ComponentConfig() = default;
  ComponentConfig(std::string component_name, std::string path, ComponentKind component_kind = ComponentKind::kSession)
      : name(std::move(component_name)), checkpoint(std::move(path)), kind(component_kind) {}
  std::string name, checkpoint;  // paths: absolute, or relative to the config file
  ComponentKind kind = ComponentKind::kSession;
  int context_window = 1;     // kVectors
  std::string item_field;     // kCtr
  std::string items;          // kCtr: an item table (read_item_table), or empty
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

// The loaded ensemble: the components' contexts and models, the catalogue their union makes (the first session or
// vectors component's, then the others' items it lacks; a CTR component ranks these), and the ensemble over them. `faults` wrap the components they name
// (kInvalidArgument for a name no component has).
struct LoadedEnsemble {
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::string> names;  // per component, as in the config
  // Per component, without injected faults: the session model (or vectors), null for a CTR component.
  std::vector<std::shared_ptr<const session::SessionRecommender>> models;
  session::Catalog catalog;
  std::shared_ptr<HangRelease> release;
  std::unique_ptr<Ensemble> ensemble;
};
LoadedEnsemble load_ensemble(const std::string& config_path, Device device, const std::vector<FaultSpec>& faults,
                             std::uint64_t seed = 1);

}  // namespace reckon::ensemble
