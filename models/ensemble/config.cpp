#include "reckon/models/ensemble/config.h"

#include <cmath>
#include <filesystem>

#include "reckon/models/ensemble/ctr_component.h"
#include "reckon/models/ensemble/session_queries.h"
#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::ensemble {
namespace {

// j[key] as T, or kDataError naming the key.
template <typename T>
T field(const nlohmann::json& j, const char* key, const char* where) {
  if (!j.is_object() || !j.contains(key)) RECKON_THROW(StatusCode::kDataError, where, ": '", key, "' is missing");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    RECKON_THROW(StatusCode::kDataError, where, ": '", key, "' has the wrong type");
  }
}

template <typename T>
T field_or(const nlohmann::json& j, const char* key, const char* where, T fallback) {
  return j.is_object() && j.contains(key) ? field<T>(j, key, where) : fallback;
}

const char* kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::kSession: return "session";
    case ComponentKind::kVectors: return "vectors";
    case ComponentKind::kCtr: return "ctr";
  }
  return "?";
}

nlohmann::json component_json(const ComponentConfig& c) {
  nlohmann::json j = {{"name", c.name}, {"checkpoint", c.checkpoint}};
  if (c.kind != ComponentKind::kSession) j["kind"] = kind_name(c.kind);
  if (c.kind == ComponentKind::kVectors) j["context_window"] = c.context_window;
  if (c.kind == ComponentKind::kCtr) {
    j["item_field"] = c.item_field;
    if (!c.items.empty()) j["items"] = c.items;
  }
  return j;
}

ComponentConfig component_from_json(const nlohmann::json& j) {
  ComponentConfig c(field<std::string>(j, "name", "component"), field<std::string>(j, "checkpoint", "component"));
  const std::string where = "component '" + c.name + "'";
  const auto kind = field_or<std::string>(j, "kind", where.c_str(), "session");
  bool known = false;
  for (const ComponentKind k : {ComponentKind::kSession, ComponentKind::kVectors, ComponentKind::kCtr}) {
    if (kind == kind_name(k)) c.kind = k, known = true;
  }
  if (!known) RECKON_THROW(StatusCode::kDataError, where, ": kind '", kind, "' is not session, vectors or ctr");
  c.context_window = field_or<int>(j, "context_window", where.c_str(), c.context_window);
  if (c.context_window < 0) RECKON_THROW(StatusCode::kDataError, where, ": context_window must be >= 0");
  if (c.kind == ComponentKind::kCtr) c.item_field = field<std::string>(j, "item_field", where.c_str());
  c.items = field_or<std::string>(j, "items", where.c_str(), "");
  return c;
}

}  // namespace

nlohmann::json to_json(const Blend& b) {
  nlohmann::json j = {{"method", to_string(b.method)}, {"depth", b.depth}, {"weights", b.weights}};
  if (b.method == BlendMethod::kStacking) j["gain"] = b.gain;
  return j;
}

Blend blend_from_json(const nlohmann::json& j) {
  Blend b;
  const auto method = field<std::string>(j, "method", "blend");
  if (method != "rank_fusion" && method != "stacking") RECKON_THROW(StatusCode::kDataError, "blend: method '", method, "' is not rank_fusion or stacking");
  b.method = method == "stacking" ? BlendMethod::kStacking : BlendMethod::kRankFusion;
  b.depth = field<int>(j, "depth", "blend");
  b.weights = field<std::vector<double>>(j, "weights", "blend");
  if (b.method == BlendMethod::kStacking) b.gain = field<std::vector<std::vector<double>>>(j, "gain", "blend");
  const bool gains_fit = b.method == BlendMethod::kRankFusion || b.gain.size() == b.weights.size();
  if (b.depth < 1 || b.weights.empty() || !gains_fit) RECKON_THROW(StatusCode::kDataError, "blend: a depth >= 1, a weight per component (and with stacking, their gains)");
  for (const double w : b.weights) {
    if (!(w >= 0) || !std::isfinite(w)) RECKON_THROW(StatusCode::kDataError, "blend: weights must be finite and >= 0");
  }
  return b;
}

nlohmann::json to_json(const EnsembleConfig& c) {
  nlohmann::json components = nlohmann::json::array();
  for (const ComponentConfig& cc : c.components) components.push_back(component_json(cc));
  const EnsembleOptions& o = c.options;
  return {{"components", components}, {"blend", to_json(c.blend)}, {"deadline_ms", o.deadline.count()},
          {"workers", o.workers}, {"queue", o.queue},
          {"circuit", {{"window", o.circuit.window}, {"failures_to_open", o.circuit.failures_to_open},
                       {"cool_down_ms", o.circuit.cool_down.count()}}}};
}

EnsembleConfig config_from_json(const nlohmann::json& j) {
  EnsembleConfig c;
  const auto components = field<nlohmann::json>(j, "components", "ensemble");
  if (!components.is_array() || components.empty()) RECKON_THROW(StatusCode::kDataError, "ensemble: 'components' must be a non-empty array");
  for (const auto& cc : components) c.components.push_back(component_from_json(cc));
  c.blend = blend_from_json(field<nlohmann::json>(j, "blend", "ensemble"));
  if (c.blend.weights.size() != c.components.size()) RECKON_THROW(StatusCode::kDataError, "ensemble: ", c.components.size(), " components but ", c.blend.weights.size(), " blend weights");
  EnsembleOptions& o = c.options;
  o.deadline = std::chrono::milliseconds(field_or<std::int64_t>(j, "deadline_ms", "ensemble", o.deadline.count()));
  o.workers = field_or<int>(j, "workers", "ensemble", o.workers);
  o.queue = field_or<int>(j, "queue", "ensemble", o.queue);
  const nlohmann::json circuit = field_or<nlohmann::json>(j, "circuit", "ensemble", nlohmann::json::object());
  o.circuit.window = field_or<int>(circuit, "window", "circuit", o.circuit.window);
  o.circuit.failures_to_open = field_or<int>(circuit, "failures_to_open", "circuit", o.circuit.failures_to_open);
  o.circuit.cool_down = std::chrono::milliseconds(field_or<std::int64_t>(circuit, "cool_down_ms", "circuit", o.circuit.cool_down.count()));
  return c;
}

EnsembleConfig read_config(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": not JSON (", e.what(), ")");
  }
  try {
    return config_from_json(j);
  } catch (const Error& e) {
    RECKON_THROW(e.code(), path, ": ", e.message());
  }
}

void write_config(const EnsembleConfig& config, const std::string& path) {
  write_file_atomically(path, to_json(config).dump(2) + "\n");
}

namespace {

std::string resolve(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p.string() : (base / p).string();
}

std::shared_ptr<const session::SessionRecommender> load_ranker(Context& ctx, const ComponentConfig& c, const std::string& path) {
  if (c.kind == ComponentKind::kVectors) {
    const item2vec::KeyedVectors vectors = item2vec::load_word2vec(path);
    return item2vec::make_vector_recommender(item2vec::SimilarityIndex(ctx, vectors), vectors, c.context_window);
  }
  return session::load_any_recommender(ctx, path);
}

// `component` wrapped in the faults that name it, if any.
std::unique_ptr<Component> with_faults(std::unique_ptr<Component> component, const std::vector<FaultSpec>& faults,
                                       std::uint64_t seed, const std::shared_ptr<HangRelease>& release) {
  std::vector<FaultSpec> mine;
  for (const FaultSpec& f : faults) {
    if (f.component == component->name()) mine.push_back(f);
  }
  if (mine.empty()) return component;
  return std::make_unique<FaultyComponent>(std::move(component), mine, seed, release);
}

}  // namespace

LoadedEnsemble load_ensemble(const std::string& config_path, Device device, const std::vector<FaultSpec>& faults,
                             std::uint64_t seed) {
  const EnsembleConfig config = read_config(config_path);
  for (const FaultSpec& f : faults) {
    bool known = false;
    for (const ComponentConfig& c : config.components) known = known || c.name == f.component;
    RECKON_CHECK_ARG(known, "--inject names '", f.component, "', which is not a component of ", config_path);
  }
  LoadedEnsemble out;
  out.release = std::make_shared<HangRelease>();
  std::vector<const session::SessionRecommender*> rankers;
  std::vector<std::shared_ptr<ctr::LoadedModel>> ctr_models;
  const std::filesystem::path base = std::filesystem::path(config_path).parent_path();
  for (const ComponentConfig& c : config.components) {
    out.contexts.push_back(std::make_unique<Context>(device));  // its own stream on a GPU
    out.names.push_back(c.name);
    const std::string path = resolve(base, c.checkpoint);
    const bool ctr = c.kind == ComponentKind::kCtr;
    out.models.push_back(ctr ? nullptr : load_ranker(*out.contexts.back(), c, path));
    ctr_models.push_back(ctr ? std::make_shared<ctr::LoadedModel>(ctr::load_checkpoint(path, *out.contexts.back())) : nullptr);
    if (!ctr) rankers.push_back(out.models.back().get());
  }
  RECKON_CHECK_ARG(!rankers.empty(), config_path, ": an ensemble needs a session or vectors component (their items make the catalogue)");
  out.catalog = union_catalog(rankers);
  std::vector<std::unique_ptr<Component>> components;
  for (std::size_t i = 0; i < config.components.size(); ++i) {
    const ComponentConfig& c = config.components[i];
    std::unique_ptr<Component> component;
    if (c.kind == ComponentKind::kCtr) {
      const ItemTable items = c.items.empty() ? ItemTable{} : read_item_table(resolve(base, c.items));
      component = std::make_unique<CtrComponent>(c.name, ctr_models[i], c.item_field, items, out.catalog);
    } else {
      component = std::make_unique<SessionComponent>(c.name, out.models[i], out.catalog);
    }
    components.push_back(with_faults(std::move(component), faults, seed + i, out.release));
  }
  out.ensemble = std::make_unique<Ensemble>(std::move(components), config.blend, out.catalog.size(), config.options, out.release);
  return out;
}

}  // namespace reckon::ensemble
