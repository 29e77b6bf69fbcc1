#include "reckon/models/session/recommender.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"

namespace reckon::session {

std::int32_t Catalog::lookup(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

Catalog Catalog::from_names(std::vector<std::string> names, std::vector<std::int64_t> counts) {
  RECKON_CHECK_ARG(names.size() == counts.size(), "a catalogue needs a count per item");
  Catalog c;
  c.names = std::move(names);
  c.counts = std::move(counts);
  for (std::size_t i = 0; i < c.names.size(); ++i) {
    if (!c.index_.emplace(c.names[i], static_cast<std::int32_t>(i)).second) {
      RECKON_THROW(StatusCode::kDataError, "item '", c.names[i], "' appears twice in the catalogue");
    }
  }
  return c;
}

Catalog Catalog::build(const ClickLog& train) {
  std::vector<std::int64_t> count(train.item_names.size(), 0);
  for (const std::int32_t item : train.items) ++count[static_cast<std::size_t>(item)];
  std::vector<std::int32_t> order;
  for (std::size_t i = 0; i < count.size(); ++i) {
    if (count[i] > 0) order.push_back(static_cast<std::int32_t>(i));
  }
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    const auto ca = count[static_cast<std::size_t>(a)], cb = count[static_cast<std::size_t>(b)];
    return ca != cb ? ca > cb : train.item_names[static_cast<std::size_t>(a)] < train.item_names[static_cast<std::size_t>(b)];
  });
  std::vector<std::string> names;
  std::vector<std::int64_t> counts;
  for (const std::int32_t i : order) {
    names.push_back(train.item_names[static_cast<std::size_t>(i)]);
    counts.push_back(count[static_cast<std::size_t>(i)]);
  }
  return from_names(std::move(names), std::move(counts));
}

IndexedSessions index_sessions(const ClickLog& log, const Catalog& catalog) {
  std::vector<std::int32_t> map(log.item_names.size());
  for (std::size_t i = 0; i < map.size(); ++i) map[i] = catalog.lookup(log.item_names[i]);
  IndexedSessions out;
  out.offsets = log.offsets;
  out.items.reserve(log.items.size());
  for (const std::int32_t item : log.items) out.items.push_back(map[static_cast<std::size_t>(item)]);
  return out;
}

TrainingSessions TrainingSessions::build(const ClickLog& train) {
  TrainingSessions t;
  t.catalog = Catalog::build(train);
  if (t.catalog.size() == 0) RECKON_THROW(StatusCode::kDataError, "the training log has no clicks");
  t.end_time = *std::max_element(train.times.begin(), train.times.end());
  const IndexedSessions indexed = index_sessions(train, t.catalog);
  const bool conversions = std::any_of(train.kinds.begin(), train.kinds.end(), is_conversion);
  std::vector<std::int64_t> order(static_cast<std::size_t>(train.sessions()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return train.end_time(a) < train.end_time(b); });
  for (const std::int64_t s : order) {
    const auto first = indexed.items.begin() + indexed.offsets[static_cast<std::size_t>(s)];
    t.items.insert(t.items.end(), first, first + train.length(s));
    if (conversions) {
      const auto kinds = train.kinds.begin() + train.begin(s);
      t.kinds.insert(t.kinds.end(), kinds, kinds + train.length(s));
    }
    t.offsets.push_back(static_cast<std::int64_t>(t.items.size()));
  }
  return t;
}

bool TrainingSessions::converts_from(std::int64_t s, std::int64_t position) const {
  if (kinds.empty()) return false;
  const auto end = offsets[static_cast<std::size_t>(s) + 1];
  for (auto i = offsets[static_cast<std::size_t>(s)] + position; i < end; ++i) {
    if (is_conversion(kinds[static_cast<std::size_t>(i)])) return true;
  }
  return false;
}

std::vector<std::int64_t> last_conversions(const ClickLog& log) {
  std::vector<std::int64_t> last(static_cast<std::size_t>(log.sessions()), -1);
  if (log.kinds.size() != log.items.size()) return last;
  for (std::int64_t s = 0; s < log.sessions(); ++s) {
    for (std::int64_t i = log.end(s) - 1; i >= log.begin(s); --i) {
      if (is_conversion(log.kinds[static_cast<std::size_t>(i)])) {
        last[static_cast<std::size_t>(s)] = i - log.begin(s);
        break;
      }
    }
  }
  return last;
}

void SessionRecommender::score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores,
                                     int threads) const {
  const auto n = static_cast<std::size_t>(training_.catalog.size());
  const auto count = static_cast<std::int64_t>(prefixes.size());
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(dynamic, 4)
  for (std::int64_t q = 0; q < count; ++q) {
    score(prefixes[static_cast<std::size_t>(q)], {scores + static_cast<std::size_t>(q) * n, n});
  }
}

namespace {

struct KindName {
  ModelKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {{ModelKind::kPop, "pop"},
                               {ModelKind::kSPop, "spop"},
                               {ModelKind::kItemKnn, "iknn"},
                               {ModelKind::kSknn, "sknn"},
                               {ModelKind::kVsknn, "vsknn"}};

// POP: every item by its training clicks.
class Pop final : public SessionRecommender {
 public:
  Pop(const RecommenderOptions& o, TrainingSessions t) : SessionRecommender(o, std::move(t)) {}
  void score(std::span<const std::int32_t>, std::span<float> scores) const override {
    const auto& counts = training().catalog.counts;
    for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<float>(counts[i]);
  }
};

// S-POP: clicks in the session so far, ties by training popularity (a fraction below one click).
class SessionPop final : public SessionRecommender {
 public:
  SessionPop(const RecommenderOptions& o, TrainingSessions t) : SessionRecommender(o, std::move(t)) {}
  void score(std::span<const std::int32_t> prefix, std::span<float> scores) const override {
    const auto& counts = training().catalog.counts;
    const double scale = 1.0 / (static_cast<double>(counts.empty() ? 0 : counts.front()) + 1.0);
    for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<float>(static_cast<double>(counts[i]) * scale);
    for (const std::int32_t item : prefix) {
      if (item >= 0) scores[static_cast<std::size_t>(item)] += 1.0f;
    }
  }
};

}  // namespace

ModelKind parse_model_kind(const std::string& name) {
  for (const KindName& k : kKinds) {
    if (name == k.name) return k.kind;
  }
  RECKON_THROW(StatusCode::kInvalidArgument, "unknown session model '", name, "' (pop, spop, iknn, sknn, vsknn)");
}

const char* to_string(ModelKind kind) noexcept {
  for (const KindName& k : kKinds) {
    if (kind == k.kind) return k.name;
  }
  return "?";
}

std::unique_ptr<SessionRecommender> make_recommender(const RecommenderOptions& options, TrainingSessions training) {
  RECKON_CHECK_ARG(options.neighbors >= 1 && options.sample >= 1, "--neighbors and --sample must be positive");
  RECKON_CHECK_ARG(options.knn_alpha >= 0 && options.knn_alpha <= 1 && options.knn_lambda >= 0,
                   "item-kNN needs alpha in [0, 1] and lambda >= 0");
  switch (options.kind) {
    case ModelKind::kPop: return std::make_unique<Pop>(options, std::move(training));
    case ModelKind::kSPop: return std::make_unique<SessionPop>(options, std::move(training));
    default: return make_knn_recommender(options, std::move(training));
  }
}

namespace {

nlohmann::json options_json(const RecommenderOptions& o) {
  return {{"model", to_string(o.kind)}, {"knn_alpha", o.knn_alpha},   {"knn_lambda", o.knn_lambda},
          {"self_similarity", o.self_similarity}, {"neighbors", o.neighbors}, {"sample", o.sample}};
}

RecommenderOptions options_from(const nlohmann::json& j) {
  RecommenderOptions o;
  o.kind = parse_model_kind(j.at("model").get<std::string>());
  o.knn_alpha = j.at("knn_alpha").get<double>();
  o.knn_lambda = j.at("knn_lambda").get<double>();
  o.self_similarity = j.at("self_similarity").get<bool>();
  o.neighbors = j.at("neighbors").get<std::int64_t>();
  o.sample = j.at("sample").get<std::int64_t>();
  return o;
}

template <typename T>
TensorView host_view(const std::vector<T>& v, DType dtype) {
  return TensorView::contiguous(const_cast<T*>(v.data()), dtype, Device::cpu(), {static_cast<std::int64_t>(v.size())});
}

}  // namespace

void save_recommender(const SessionRecommender& model, const std::string& path) {
  const TrainingSessions& t = model.training();
  std::string names;
  for (const std::string& name : t.catalog.names) {
    RECKON_CHECK_ARG(name.find('\n') == std::string::npos, "item '", name, "' has a line break: it cannot be saved");
    names += name;
    names += '\n';
  }
  const nlohmann::json vocabulary = {{"items", t.catalog.size()}, {"sessions", t.size()}, {"end_time", t.end_time}};
  CheckpointWriter writer("session", options_json(model.options()).dump(), vocabulary.dump());
  Context ctx(Device::cpu());
  writer.add_bytes("items", names);
  writer.add(ctx, "item_counts", host_view(t.catalog.counts, DType::kI64));
  writer.add(ctx, "session_offsets", host_view(t.offsets, DType::kI64));
  writer.add(ctx, "session_items", host_view(t.items, DType::kI32));
  writer.write(path);
}

std::unique_ptr<SessionRecommender> load_recommender(const std::string& path) {
  const CheckpointReader reader(path);
  reader.expect_kind("session");
  RecommenderOptions options;
  try {
    options = options_from(nlohmann::json::parse(reader.config_json()));
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": a session checkpoint's settings are unreadable: ", e.what());
  }
  std::vector<std::string> names;
  const std::string_view bytes = reader.bytes("items");
  for (std::size_t start = 0; start < bytes.size();) {
    const std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) RECKON_THROW(StatusCode::kDataError, path, ": the item list is cut short");
    names.emplace_back(bytes.substr(start, end - start));
    start = end + 1;
  }
  const auto count = [&](const std::string& name) {
    const auto& e = std::find_if(reader.entries().begin(), reader.entries().end(),
                                 [&](const CheckpointEntry& x) { return x.name == name; });
    if (e == reader.entries().end() || e->shape.size() != 1) RECKON_THROW(StatusCode::kDataError, path, ": no 1-D entry ", name);
    return static_cast<std::size_t>(e->shape[0]);
  };
  std::vector<std::int64_t> counts(count("item_counts"));
  TrainingSessions t;
  t.offsets.resize(count("session_offsets"));
  t.items.resize(count("session_items"));
  Context ctx(Device::cpu());
  reader.read(ctx, "item_counts", host_view(counts, DType::kI64));
  reader.read(ctx, "session_offsets", host_view(t.offsets, DType::kI64));
  reader.read(ctx, "session_items", host_view(t.items, DType::kI32));
  t.catalog = Catalog::from_names(std::move(names), std::move(counts));
  try {
    t.end_time = nlohmann::json::parse(reader.vocabulary_json()).at("end_time").get<double>();
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": a session checkpoint's summary is unreadable: ", e.what());
  }
  const auto n = static_cast<std::int64_t>(t.items.size());
  bool valid = !t.offsets.empty() && t.offsets.front() == 0 && t.offsets.back() == n;
  for (std::size_t i = 1; valid && i < t.offsets.size(); ++i) valid = t.offsets[i] >= t.offsets[i - 1];
  for (std::size_t i = 0; valid && i < t.items.size(); ++i) valid = t.items[i] >= 0 && t.items[i] < t.catalog.size();
  if (!valid) RECKON_THROW(StatusCode::kDataError, path, ": the sessions do not fit the item list");
  return make_recommender(options, std::move(t));
}

std::string catalog_vocabulary(const TrainingSessions& training) {
  return nlohmann::json{{"items", training.catalog.size()}, {"end_time", training.end_time}}.dump();
}

void add_catalog(CheckpointWriter& writer, const TrainingSessions& training) {
  const Catalog& c = training.catalog;
  std::string names;
  for (const std::string& name : c.names) {
    RECKON_CHECK_ARG(name.find('\n') == std::string::npos, "item '", name, "' has a line break: it cannot be saved");
    names.append(name).push_back('\n');
  }
  writer.add_bytes("items", names);
  Context host(Device::cpu());
  writer.add(host, "item_counts",
             TensorView::contiguous(const_cast<std::int64_t*>(c.counts.data()), DType::kI64, Device::cpu(), {c.size()}));
}

TrainingSessions read_catalog(const CheckpointReader& reader, const std::string& path) {
  TrainingSessions t;
  try {
    t.end_time = nlohmann::json::parse(reader.vocabulary_json()).at("end_time").get<double>();
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": the checkpoint's catalogue is unreadable: ", e.what());
  }
  std::vector<std::string> names;
  const std::string_view bytes = reader.bytes("items");
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t end = bytes.find('\n', at);
    if (end == std::string_view::npos) RECKON_THROW(StatusCode::kDataError, path, ": the item list is cut short");
    names.emplace_back(bytes.substr(at, end - at));
    at = end + 1;
  }
  std::vector<std::int64_t> counts(names.size());
  Context host(Device::cpu());
  reader.read(host, "item_counts",
              TensorView::contiguous(counts.data(), DType::kI64, Device::cpu(), {static_cast<std::int64_t>(counts.size())}));
  t.catalog = Catalog::from_names(std::move(names), std::move(counts));
  return t;
}

}  // namespace reckon::session
