#include "ensemble_models.h"

#include <fmt/format.h>

#include <chrono>
#include <sstream>

#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/models/session/cnn3d.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/runtime/file_io.h"

namespace reckon::cli {

void add_demo_model_options(CLI::App* command, DemoModelOptions& o) {
  command->add_option("--train-sessions", o.train_sessions, "training sessions to generate")->capture_default_str();
  command->add_option("--epochs", o.epochs, "GRU4Rec's and the 3D CNN's epochs, at most")->capture_default_str();
  command->add_option("--models", o.models, "components, separated by commas (pop, spop, iknn, sknn, vsknn, item2vec, gru4rec, cnn3d)")
      ->capture_default_str();
}

namespace {

void fit_neural(session::NeuralRecommender& model, const DemoModelOptions& o, const session::ClickLog& validation,
                const CommonOptions& common, const std::string& name) {
  session::FitOptions f;
  f.epochs = o.epochs;
  f.validation = &validation;
  f.patience = 2;
  session::fit(model, f, {}, [&](const session::FitEpoch& e) {
    if (!common.json) print_status_line(fmt::format("{}: epoch {}, validation HR@20 {:.4f}", name, e.train.epoch, e.validation_hr));
  });
}

std::shared_ptr<const session::SessionRecommender> train_cnn3d(Context& ctx, const DemoModelOptions& o,
                                                               const session::ContentSessions& data,
                                                               const CommonOptions& common) {
  session::ItemContent content;
  for (std::size_t i = 0; i < data.item_names.size(); ++i) {
    content.category[data.item_names[i]] = data.item_categories[i];
    content.text[data.item_names[i]] = data.item_texts[i];
  }
  session::TrainingSessions training = session::TrainingSessions::build(data.train);
  session::add_content_items(training, content);  // the new items join the catalogue through their content
  const session::CatalogContent catalog_content = session::catalog_content(data.train, training.catalog, &content);
  session::Cnn3dOptions c;
  c.epochs = o.epochs;
  c.seed = common.seed;
  auto model = std::make_shared<session::Cnn3dRecommender>(ctx, c, std::move(training), catalog_content);
  fit_neural(*model, o, data.validation, common, "cnn3d");
  return model;
}

}  // namespace

std::unique_ptr<session::SessionRecommender> train_demo_item2vec(Context& ctx, const session::ClickLog& train,
                                                                 item2vec::KeyedVectors* vectors) {
  item2vec::Sequences sequences;
  for (std::int64_t s = 0; s < train.sessions(); ++s) {
    for (std::int64_t i = train.begin(s); i < train.end(s); ++i) {
      sequences.tokens.push_back(train.item_names[static_cast<std::size_t>(train.items[static_cast<std::size_t>(i)])]);
    }
    sequences.offsets.push_back(static_cast<std::int64_t>(sequences.tokens.size()));
  }
  item2vec::Item2VecConfig config;
  config.dim = 32;
  config.window = 3;
  config.sample = 0;
  item2vec::Item2Vec model(ctx, config, item2vec::ItemVocabulary::build(sequences, 1));
  model.train(item2vec::encode(sequences, model.vocabulary()));
  const item2vec::KeyedVectors kv = model.keyed_vectors();
  if (vectors != nullptr) *vectors = kv;
  return item2vec::make_vector_recommender(item2vec::SimilarityIndex(ctx, kv), kv, 1);
}

namespace {

std::shared_ptr<const session::SessionRecommender> train_model(Context& ctx, const std::string& name,
                                                               const DemoModelOptions& o, DemoModels& m,
                                                               const CommonOptions& common) {
  const session::ContentSessions& data = m.data;
  if (name == "cnn3d") return train_cnn3d(ctx, o, data, common);
  if (name == "item2vec") return train_demo_item2vec(ctx, data.train, &m.vectors[name]);
  session::TrainingSessions training = session::TrainingSessions::build(data.train);
  if (name == "gru4rec") {
    session::Gru4RecOptions g;
    g.epochs = o.epochs;
    g.seed = common.seed;
    auto model = std::make_shared<session::Gru4Rec>(ctx, g, std::move(training));
    fit_neural(*model, o, data.validation, common, name);
    return model;
  }
  session::RecommenderOptions r;
  r.kind = session::parse_model_kind(name);
  return session::make_recommender(r, std::move(training));
}

}  // namespace

void save_demo_model(const session::SessionRecommender& model, const std::string& path) {
  if (const auto* cnn = dynamic_cast<const session::Cnn3dRecommender*>(&model)) {
    cnn->save(path);
  } else if (const auto* gru = dynamic_cast<const session::Gru4Rec*>(&model)) {
    gru->save(path);
  } else if (model.name() == "item2vec") {
    RECKON_THROW(StatusCode::kUnsupported, "item2vec's vector recommender is saved as its vectors (item2vec::save_word2vec)");
  } else {
    session::save_recommender(model, path);
  }
}

DemoModels train_demo_models(Context& ctx, const DemoModelOptions& o, const CommonOptions& common) {
  RECKON_CHECK_ARG(o.train_sessions > 0 && o.epochs >= 1, "--train-sessions and --epochs must be positive");
  session::ContentSessionsOptions s;
  s.train_sessions = o.train_sessions;
  s.seed = common.seed;
  DemoModels m;
  m.data = session::make_content_sessions(s);
  const auto start = std::chrono::steady_clock::now();
  std::stringstream names(o.models);
  for (std::string name; std::getline(names, name, ',');) {
    if (name.empty()) continue;
    if (!common.json) print_status_line(fmt::format("training {}", name));
    m.models.push_back(train_model(ctx, name, o, m, common));
    m.names.push_back(name);
  }
  RECKON_CHECK_ARG(!m.models.empty(), "--models names no component");
  m.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

}  // namespace reckon::cli
