// `reckon ensemble demo`: the session models as an ensemble's components on the synthetic shop, the blend learned on
// the first half of the test period and measured on the second, beside each component alone and with each one
// knocked out.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "ensemble_models.h"
#include "reckon/models/ensemble/config.h"
#include "reckon/models/ensemble/session_queries.h"
#include "reckon/runtime/file_io.h"

namespace reckon::cli {
namespace {

struct DemoArgs {
  CommonOptions common;
  DemoModelOptions models;
  int depth = 100, k = 20;
  std::string save;  // a folder for the components' checkpoints and ensemble.json
};

// Sessions [first, end) of `log` as a log of their own.
session::ClickLog sessions_from(const session::ClickLog& log, std::int64_t first) {
  session::ClickLog out;
  session::ClickLogBuilder builder(out);
  for (std::int64_t s = first; s < log.sessions(); ++s) {
    for (std::int64_t i = log.begin(s); i < log.end(s); ++i) {
      const auto at = static_cast<std::size_t>(i);
      builder.add(builder.item(log.item_names[static_cast<std::size_t>(log.items[at])]), log.times[at],
                  at < log.kinds.size() ? log.kinds[at] : session::EventKind::kClick);
    }
    builder.end_session(log.session_names[static_cast<std::size_t>(s)]);
  }
  return out;
}

// Each component's checkpoint, the ensemble's config (the blend learned here) and the measured test sessions into `folder`,
// for `reckon serve` and `reckon ensemble load`.
std::string save_ensemble(const DemoModels& m, const ensemble::Blend& blend, const std::string& folder, std::int64_t half) {
  std::filesystem::create_directories(folder);
  ensemble::EnsembleConfig config;
  config.blend = blend;
  for (std::size_t c = 0; c < m.models.size(); ++c) {
    const auto vectors = m.vectors.find(m.names[c]);
    if (vectors != m.vectors.end()) {  // cosine with the last click, as trained (train_demo_item2vec)
      item2vec::save_word2vec(vectors->second, folder + "/" + m.names[c] + ".vec", false);
      config.components.emplace_back(m.names[c], m.names[c] + ".vec", ensemble::ComponentKind::kVectors);
      continue;
    }
    const std::string file = m.names[c] + ".ckpt";
    save_demo_model(*m.models[c], folder + "/" + file);
    config.components.emplace_back(m.names[c], file);
  }
  const std::string path = folder + "/ensemble.json";
  ensemble::write_config(config, path);
  // The half of the test period the table measures, as requests for reckon ensemble load.
  session::write_sessions_tsv(sessions_from(m.data.test, half), folder + "/test.tsv");
  return path;
}

nlohmann::json metrics_json(const ensemble::BlendMetrics& all, const ensemble::BlendMetrics& fresh) {
  return {{"hr", all.hit_rate}, {"mrr", all.mrr}, {"new_hr", fresh.hit_rate}, {"new_mrr", fresh.mrr}};
}

// The queries whose target has no training clicks (an item new in the test period).
std::vector<ensemble::BlendQuery> new_item_queries(const std::vector<ensemble::BlendQuery>& queries, const session::Catalog& catalog) {
  std::vector<ensemble::BlendQuery> out;
  for (const auto& q : queries) {
    if (q.target >= 0 && catalog.counts[static_cast<std::size_t>(q.target)] == 0) out.push_back(q);
  }
  return out;
}

// Each component alone, the blend, and the blend with each component knocked out beside the best of the rest.
nlohmann::json ensemble_table(const ensemble::Blend& blend, const std::vector<std::string>& names,
                              const std::vector<ensemble::BlendQuery>& test, const session::Catalog& catalog, int k) {
  const std::vector<ensemble::BlendQuery> fresh = new_item_queries(test, catalog);
  nlohmann::json rows = nlohmann::json::array();
  std::vector<double> alone_hr;
  for (std::size_t c = 0; c < names.size(); ++c) {
    const auto m = ensemble::list_metrics(test, c, k);
    alone_hr.push_back(m.hit_rate);
    rows.push_back({{"row", names[c]}, {"kind", "alone"}, {"metrics", metrics_json(m, ensemble::list_metrics(fresh, c, k))}});
  }
  rows.push_back({{"row", "blend"}, {"kind", "blend"},
                  {"metrics", metrics_json(ensemble::evaluate_blend(blend, test, k), ensemble::evaluate_blend(blend, fresh, k))}});
  for (std::size_t c = 0; c < names.size(); ++c) {
    std::vector<bool> out(names.size(), false);
    out[c] = true;
    std::size_t best = c == 0 ? 1 : 0;
    for (std::size_t o = 0; o < names.size(); ++o) {
      if (o != c && alone_hr[o] > alone_hr[best]) best = o;
    }
    rows.push_back({{"row", "blend without " + names[c]}, {"kind", "knocked_out"}, {"best_of_rest", names[best]},
                    {"metrics", metrics_json(ensemble::evaluate_blend(blend, test, k, out), ensemble::evaluate_blend(blend, fresh, k, out))}});
  }
  return rows;
}

nlohmann::json run_demo(const DemoArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  Context ctx = make_context(a.common);
  const DemoModels m = train_demo_models(ctx, a.models, a.common);
  std::vector<const session::SessionRecommender*> models;
  for (const auto& model : m.models) models.push_back(model.get());
  const session::Catalog catalog = ensemble::union_catalog(models);
  const std::int64_t half = m.data.test.sessions() / 2;
  if (!a.common.json) print_status_line("ranking the test period's clicks with every component");
  const auto valid = ensemble::session_queries(models, catalog, m.data.test, a.depth, a.common.threads, 0, half);
  const auto test = ensemble::session_queries(models, catalog, m.data.test, a.depth, a.common.threads, half);
  ensemble::BlendFitReport report;
  const ensemble::Blend blend = ensemble::fit_blend(valid, models.size(), a.depth, a.k, catalog.size(), &report);
  const std::string config = a.save.empty() ? "" : save_ensemble(m, blend, a.save, half);
  return {{"components", m.names},
          {"config", config},
          {"items", catalog.size()},
          {"validation_queries", valid.size()},
          {"test_queries", test.size()},
          {"new_item_test_queries", new_item_queries(test, catalog).size()},
          {"k", a.k},
          {"blend", {{"method", ensemble::to_string(blend.method)}, {"weights", blend.weights}}},
          {"validation", {{"rank_fusion", {{"hr", report.rank_fusion.hit_rate}, {"mrr", report.rank_fusion.mrr}}},
                          {"stacking", {{"hr", report.stacking.hit_rate}, {"mrr", report.stacking.mrr}}}}},
          {"rows", ensemble_table(blend, m.names, test, catalog, a.k)},
          {"train_seconds", m.train_seconds},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
          {"device", ctx.device().str()}};
}

void print_demo(const nlohmann::json& j) {
  fmt::print("\nensemble demo: {} as components over {} items; the blend ({}, weights {}) learned on the first half "
             "of the test period ({} clicks), measured on the second ({} clicks, {} of them on new items); {:.0f} s\n",
             fmt::format("{}", fmt::join(j["components"].get<std::vector<std::string>>(), ", ")), j["items"].get<std::int64_t>(),
             j["blend"]["method"].get<std::string>(), j["blend"]["weights"].dump(), j["validation_queries"].get<std::size_t>(),
             j["test_queries"].get<std::size_t>(), j["new_item_test_queries"].get<std::size_t>(), j["seconds"].get<double>());
  const int k = j["k"].get<int>();
  fmt::print("{:<24} {:>8} {:>8} {:>8} {:>8}  {}\n", "", fmt::format("HR@{}", k), fmt::format("MRR@{}", k), "new HR",
             "new MRR", "");
  for (const auto& r : j["rows"]) {
    const auto& m = r["metrics"];
    std::string note;
    if (r["kind"] == "knocked_out") {
      for (const auto& o : j["rows"]) {
        if (o["row"] == r["best_of_rest"]) note = fmt::format("best of the rest: {} {:.4f} / {:.4f}", o["row"].get<std::string>(), o["metrics"]["hr"].get<double>(), o["metrics"]["mrr"].get<double>());
      }
    }
    fmt::print("{:<24} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f}  {}\n", r["row"].get<std::string>(), m["hr"].get<double>(),
               m["mrr"].get<double>(), m["new_hr"].get<double>(), m["new_mrr"].get<double>(), note);
  }
}

}  // namespace

void add_ensemble_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("ensemble", "Session models blended, in parallel, isolating a component that fails");
  cmd->require_subcommand(1);
  auto a = std::make_shared<DemoArgs>();
  auto* demo = cmd->add_subcommand("demo", "Each component alone, the learned blend, and the blend with each knocked out "
                                   "(synthetic shop sessions)");
  add_demo_model_options(demo, a->models);
  demo->add_option("--save", a->save, "write the components' checkpoints and ensemble.json (for reckon serve) here");
  demo->add_option("--depth", a->depth, "items taken from each component's list")->capture_default_str();
  add_common_options(demo, a->common, kJson | kDevice | kThreads | kSeed);
  set_run(demo, &a->common, [a] { return run_demo(*a); }, print_demo);
  add_serve_command(app, *cmd);
}

}  // namespace reckon::cli
