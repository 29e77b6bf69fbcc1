// The demos' session models trained on the synthetic shop (session/synthetic.h): the ensemble demo's components,
// and item2vec's for the session demo too.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/models/session/recommender.h"
#include "reckon/models/session/synthetic.h"

namespace reckon::cli {

struct DemoModelOptions {
  std::int64_t train_sessions = session::ContentSessionsOptions{}.train_sessions;
  int epochs = 4;  // GRU4Rec's and the 3D CNN's, at most (early stopping on the validation sessions)
  std::string models = "pop,iknn,vsknn,gru4rec,cnn3d";
};
void add_demo_model_options(CLI::App* command, DemoModelOptions& options);

struct DemoModels {
  session::ContentSessions data;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<const session::SessionRecommender>> models;
  std::map<std::string, item2vec::KeyedVectors> vectors;  // the vector components' own, by name (saved as such)
  double train_seconds = 0;
};
// The shop's sessions (seeded by --seed) and the models named, trained; a status line per model unless --json.
DemoModels train_demo_models(Context& ctx, const DemoModelOptions& options, const CommonOptions& common);
// item2vec's vectors of the training sessions as a session model (the demos' settings: 32 dimensions, window 3, no
// subsampling, a small catalogue), for the session and ensemble demos; the vectors too, into `vectors` if given.
std::unique_ptr<session::SessionRecommender> train_demo_item2vec(Context& ctx, const session::ClickLog& train,
                                                                 item2vec::KeyedVectors* vectors = nullptr);
// The model's checkpoint, in its kind's format (session::load_any_recommender reads them all).
void save_demo_model(const session::SessionRecommender& model, const std::string& path);

}  // namespace reckon::cli
