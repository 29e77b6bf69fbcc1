// reckon serve's handlers and server: bad requests answered 400, and a load of concurrent HTTP clients with one
// component hanging and another throwing on 30% of its calls: every request answered within the deadline and a
// margin, none lost, HR@20 at the level of the best component still answering.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "reckon/models/ensemble/config.h"
#include "reckon/models/ensemble/session_queries.h"
#include "reckon/models/session/synthetic.h"
#include "serve.h"
#include "testing.h"

namespace reckon::cli {
namespace {

using namespace std::chrono_literals;

struct Served {
  session::ContentSessions data;
  std::string config;
  double best_alone_hr = 0;  // vsknn's HR@20 on the test clicks, alone
};

// POP, item-kNN and V-SKNN on a small shop, saved with a blend learned on the validation sessions.
const Served& served() {
  static const Served s = [] {
    Served out;
    session::ContentSessionsOptions o;
    o.train_sessions = 1500;
    o.validation_sessions = 300;
    o.test_sessions = 200;
    o.categories = 4;
    o.brands = 4;
    o.items_per_group = 8;
    out.data = session::make_content_sessions(o);
    // A folder per test: ctest runs this file's tests in processes of their own, at once.
    const std::string dir = testing::temp_dir(std::string("serve_test_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ensemble::EnsembleConfig config;
    std::vector<std::unique_ptr<session::SessionRecommender>> models;
    std::vector<const session::SessionRecommender*> raw;
    for (const char* name : {"pop", "iknn", "vsknn"}) {
      session::RecommenderOptions r;
      r.kind = session::parse_model_kind(name);
      models.push_back(session::make_recommender(r, session::TrainingSessions::build(out.data.train)));
      raw.push_back(models.back().get());
      session::save_recommender(*models.back(), dir + "/" + name + ".ckpt");
      config.components.push_back({name, std::string(name) + ".ckpt"});
    }
    const session::Catalog catalog = ensemble::union_catalog(raw);
    const auto valid = ensemble::session_queries(raw, catalog, out.data.validation, 50, 1);
    config.blend = ensemble::fit_blend(valid, 3, 50, 20, catalog.size());
    config.options.deadline = 60ms;
    config.options.circuit = {20, 5, 200ms};
    out.config = dir + "/ensemble.json";
    ensemble::write_config(config, out.config);
    out.best_alone_hr = ensemble::list_metrics(ensemble::session_queries(raw, catalog, out.data.test, 50, 1), 2, 20).hit_rate;
    return out;
  }();
  return s;
}

TEST(Serve, BadRequestsAre400AndUnknownItemsAreNamed) {
  ensemble::LoadedEnsemble e = ensemble::load_ensemble(served().config, Device::cpu(), {});
  const std::string item = e.catalog.names[3];
  for (const char* bad : {"not json", "[1, 2]", "{}", "{\"session\": []}", "{\"session\": [3]}",
                          "{\"session\": [\"x\"], \"k\": 0}", "{\"session\": [\"x\"], \"k\": \"5\"}",
                          "{\"session\": [\"x\"], \"features\": [1]}", "{\"session\": [\"x\"], \"features\": {\"user\": [1]}}",
                          "{\"session\": [\"x\"], \"features\": {\"user\": \"7\"}}"}) {  // no component reads a user
    const Reply r = handle_recommend(e, bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(r.body.contains("error")) << bad;
  }
  EXPECT_EQ(handle_score(e, "{\"session\": [\"" + item + "\"]}").status, 400);  // no items
  const std::string session = "[\"" + item + "\", \"no-such-item\"]";
  const Reply ok = handle_recommend(e, "{\"session\": " + session + ", \"k\": 5}");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["items"].size(), 5u);
  EXPECT_EQ(ok.body["unknown"], nlohmann::json::array({"no-such-item"}));
  EXPECT_EQ(ok.body["answered"], 3);
  const Reply score = handle_score(e, "{\"session\": " + session + ", \"items\": [\"" + ok.body["items"][0]["item"].get<std::string>() + "\", \"nope\"]}");
  ASSERT_EQ(score.status, 200);
  EXPECT_EQ(score.body["scores"][0]["rank"], 1);
  EXPECT_TRUE(score.body["scores"][1]["score"].is_null());
  EXPECT_EQ(handle_health(e).status, 200);
  EXPECT_THROW(ensemble::load_ensemble(served().config, Device::cpu(), {{"gru4rec", ensemble::FaultKind::kHang, 1}}), Error);
}

TEST(Serve, ConcurrentClientsAreAnsweredInTimeWithAComponentHangingAndOneFlaky) {
  const Served& s = served();
  ensemble::LoadedEnsemble e = ensemble::load_ensemble(
      s.config, Device::cpu(), {{"iknn", ensemble::FaultKind::kHang, 1}, {"pop", ensemble::FaultKind::kThrow, 0.3}});
  EnsembleServer server(e, 16);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  std::vector<std::pair<nlohmann::json, std::string>> requests;  // body, target
  const session::ClickLog& log = s.data.test;
  for (std::int64_t q = 0; q < log.sessions(); ++q) {
    std::vector<std::string> names;
    for (std::int64_t t = log.begin(q); t + 1 < log.end(q); ++t) {
      const auto name = [&](std::int64_t at) { return log.item_names[static_cast<std::size_t>(log.items[static_cast<std::size_t>(at)])]; };
      names.push_back(name(t));
      nlohmann::json body = nlohmann::json::object();
      body["session"] = names;
      body["k"] = 20;
      requests.emplace_back(std::move(body), name(t + 1));
    }
  }
  constexpr int kClients = 8;
  std::atomic<int> answered{0}, late{0}, hits{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (std::size_t i = static_cast<std::size_t>(c); i < requests.size(); i += kClients) {
        const auto start = std::chrono::steady_clock::now();
        const auto res = client.Post("/recommend", requests[i].first.dump(), "application/json");
        const auto took = std::chrono::steady_clock::now() - start;
        late += took > 60ms + 250ms;
        if (took > 60ms + 250ms) std::cerr << "late: " << std::chrono::duration<double, std::milli>(took).count() << " ms, request " << i << std::endl;
        if (!res || res->status != 200) continue;
        ++answered;
        const nlohmann::json reply = nlohmann::json::parse(res->body);
        for (const auto& item : reply["items"]) hits += item["item"] == requests[i].second;
      }
    });
  }
  for (auto& t : clients) t.join();
  httplib::Client probe("127.0.0.1", port);
  const auto health = probe.Get("/health");
  const auto metrics = probe.Get("/metrics");
  const auto missing = probe.Get("/nothing");
  server.stop();
  serving.join();
  EXPECT_EQ(answered.load(), static_cast<int>(requests.size()));
  EXPECT_EQ(late.load(), 0);
  const double hr = static_cast<double>(hits.load()) / static_cast<double>(requests.size());
  EXPECT_GT(hr, s.best_alone_hr - 0.03) << "vsknn alone " << s.best_alone_hr;
  ASSERT_TRUE(health && metrics && missing);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(nlohmann::json::parse(health->body)["status"], "degraded");
  EXPECT_NE(metrics->body.find("reckon_component_calls_total{component=\"iknn\",outcome=\"circuit_open\"}"), std::string::npos);
  EXPECT_EQ(missing->status, 404);
}

}  // namespace
}  // namespace reckon::cli
