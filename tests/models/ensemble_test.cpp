// The ensemble: circuits, fault parsing, blending (by hand and learned on planted complementary components), and the
// executor under injected failures: throws, hangs, NaN and out-of-memory isolated, every request answered in time.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "reckon/models/ensemble/ensemble.h"
#include "reckon/models/ensemble/config.h"
#include "reckon/models/ensemble/session_queries.h"
#include "reckon/models/session/gru4rec.h"
#include "reckon/models/session/synthetic.h"
#include "testing.h"
#include "reckon/runtime/error.h"

namespace reckon::ensemble {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Circuit, OpensAfterFailuresInTheWindowAndProbesAfterTheCoolDown) {
  CircuitOptions o;
  o.window = 4;
  o.failures_to_open = 2;
  o.cool_down = 100ms;
  CircuitBreaker c(o);
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.allow(t0));
  c.record(false, t0);
  for (int i = 0; i < 3; ++i) c.record(true, t0);  // the first failure leaves the window of 4
  c.record(false, t0);
  EXPECT_EQ(c.state(), CircuitState::kClosed);
  c.record(false, t0);
  EXPECT_EQ(c.state(), CircuitState::kOpen);
  EXPECT_FALSE(c.allow(t0 + 99ms));
  EXPECT_TRUE(c.allow(t0 + 100ms));  // the probe
  EXPECT_EQ(c.state(), CircuitState::kHalfOpen);
  EXPECT_FALSE(c.allow(t0 + 100ms));  // one probe at a time
  c.record(false, t0 + 110ms);
  EXPECT_EQ(c.state(), CircuitState::kOpen);
  EXPECT_FALSE(c.allow(t0 + 150ms));
  EXPECT_TRUE(c.allow(t0 + 210ms));
  c.record(true, t0 + 211ms);
  EXPECT_EQ(c.state(), CircuitState::kClosed);
  EXPECT_EQ(c.times_opened(), 2);
  EXPECT_THROW(CircuitBreaker(CircuitOptions{2, 3, 1ms}), Error);
}

TEST(Faults, ParseAndRefuse) {
  const FaultSpec f = parse_fault("gru4rec:hang:0.3");
  EXPECT_EQ(f.component, "gru4rec");
  EXPECT_EQ(f.kind, FaultKind::kHang);
  EXPECT_DOUBLE_EQ(f.rate, 0.3);
  for (const char* bad : {"gru4rec", "gru4rec:hang", ":throw:1", "x:melt:0.5", "x:nan:1.5", "x:nan:abc", "x:oom:"}) {
    EXPECT_THROW(parse_fault(bad), Error) << bad;
  }
}

TEST(Blend, RankFusionSumsReciprocalRanksAndRescalesOverTheAnswering) {
  const TopList a{{7, 0.9f}, {3, 0.5f}, {5, 0.1f}}, b{{3, 10}, {9, 5}};
  Blend blend = Blend::equal(2, 100);
  const TopList* both[] = {&a, &b};
  const std::vector<ScoredItem> top = blend.combine(both, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 3);  // 1/62 + 1/61
  EXPECT_NEAR(top[0].score, 1.0 / 62 + 1.0 / 61, 1e-7);
  EXPECT_EQ(top[1].item, 7);  // 1/61, ahead of item 9's 1/62
  EXPECT_EQ(top[2].item, 9);
  const TopList* only_a[] = {&a, nullptr};
  const std::vector<ScoredItem> half = blend.combine(only_a, 5);
  ASSERT_EQ(half.size(), 3u);
  EXPECT_EQ(half[0].item, 7);
  EXPECT_NEAR(half[0].score, 2.0 / 61, 1e-7);  // scaled by (1 + 1) / 1
  const TopList tie_a{{4, 1}}, tie_b{{2, 1}};
  const TopList* ties[] = {&tie_a, &tie_b};
  EXPECT_EQ(blend.combine(ties, 1)[0].item, 2);  // equal scores: the lower index (more popular)
  const TopList* none[] = {nullptr, nullptr};
  EXPECT_TRUE(blend.combine(none, 5).empty());
}

TEST(Blend, TopOfLeavesOutMinusInfinityAndNan) {
  const std::vector<float> s{1, -INFINITY, 3, std::nanf(""), 3, 2};
  const TopList top = top_of(s, 10);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].item, 2);
  EXPECT_EQ(top[1].item, 4);
  EXPECT_EQ(top[3].item, 0);
}

// Two planted components over 200 items: "head" ranks the target first when it is below 100 and lists only head
// items; "tail" ranks it within its top 5 when it is 100 or above; a third is noise. Any learned blend beats both
// alone, and weighs the noise least.
std::vector<BlendQuery> planted_queries(int n, std::uint64_t seed) {
  std::vector<BlendQuery> out;
  std::uint64_t x = seed;
  const auto next = [&] { x = x * 6364136223846793005ull + 1442695040888963407ull; return static_cast<std::int32_t>(x >> 33); };
  for (int q = 0; q < n; ++q) {
    BlendQuery b;
    b.target = next() % 200;
    TopList head, tail, noise;
    if (b.target < 100) head.push_back({b.target, 1});
    for (int i = 0; head.size() < 30; ++i) if (i != b.target) head.push_back({i, -static_cast<float>(i)});
    const int slot = next() % 5;
    for (int i = 100; tail.size() < 30; ++i) {
      if (static_cast<int>(tail.size()) == slot && b.target >= 100) tail.push_back({b.target, 0});
      if (i != b.target) tail.push_back({i, -static_cast<float>(i)});
    }
    for (int i = 0; i < 30; ++i) noise.push_back({next() % 200, 0});
    b.lists = {head, tail, noise};
    out.push_back(b);
  }
  return out;
}

TEST(Blend, LearnedBlendBeatsEachPlantedComponentAndDiscountsNoise) {
  const std::vector<BlendQuery> valid = planted_queries(600, 1), test = planted_queries(600, 2);
  BlendFitReport report;
  const Blend blend = fit_blend(valid, 3, 30, 5, 200, &report);
  const BlendMetrics all = evaluate_blend(blend, test, 5);
  const BlendMetrics head = evaluate_blend(blend, test, 5, {false, true, true}),
                     tail = evaluate_blend(blend, test, 5, {true, false, true});
  EXPECT_GT(all.hit_rate, head.hit_rate + 0.3);
  EXPECT_GT(all.hit_rate, tail.hit_rate + 0.3);
  EXPECT_GT(all.hit_rate, 0.8);  // the head's first item is the target half the time: no blend knows which half
  EXPECT_LT(blend.weights[2], std::min(blend.weights[0], blend.weights[1]));
  EXPECT_GT(report.rank_fusion.hit_rate, 0.6);
  EXPECT_GT(report.stacking.hit_rate, 0.8);  // calibration learns that the tail's ranks 2-5 beat the head's
}

// Scores item i as -|i - last click|: the items next to the session's last click first.
class NearLastClick final : public Component {
 public:
  explicit NearLastClick(std::string name, std::chrono::milliseconds delay = 0ms) : name_(std::move(name)), delay_(delay) {}
  std::string name() const override { return name_; }
  void score(const Query& query, std::span<float> scores) override {
    const std::span<const std::int32_t> session = query.session;
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = -std::fabs(static_cast<float>(i) - static_cast<float>(session.back()));
  }

 private:
  std::string name_;
  std::chrono::milliseconds delay_;
};

std::unique_ptr<Component> faulty(const std::string& name, FaultKind kind, double rate, const std::shared_ptr<HangRelease>& release) {
  return std::make_unique<FaultyComponent>(std::make_unique<NearLastClick>(name), std::vector<FaultSpec>{{name, kind, rate}}, 7, release);
}

TEST(Ensemble, EachFailureKindIsIsolatedAndReported) {
  auto release = std::make_shared<HangRelease>();
  std::vector<std::unique_ptr<Component>> c;
  c.push_back(std::make_unique<NearLastClick>("healthy"));
  c.push_back(faulty("thrower", FaultKind::kThrow, 1, release));
  c.push_back(faulty("hanger", FaultKind::kHang, 1, release));
  c.push_back(faulty("nan", FaultKind::kNan, 1, release));
  c.push_back(faulty("oom", FaultKind::kOom, 1, release));
  EnsembleOptions o;
  o.deadline = 50ms;
  o.circuit = {10, 3, 10s};
  Ensemble e(std::move(c), Blend::equal(5, 20), 100, o, release);
  for (int r = 0; r < 3; ++r) {
    const auto start = Clock::now();
    const Response got = e.recommend({{40, 50}, 5});
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(got.answered, 1);
    ASSERT_EQ(got.items.size(), 5u);
    EXPECT_EQ(got.items[0].item, 50);
    EXPECT_EQ(got.components[0].outcome, Outcome::kAnswered);
    EXPECT_EQ(got.components[1].outcome, Outcome::kThrew);
    EXPECT_NE(got.components[1].message.find("injected failure"), std::string::npos);
    EXPECT_TRUE(got.components[2].outcome == Outcome::kTimedOut || got.components[2].outcome == Outcome::kBusy);
    EXPECT_EQ(got.components[3].outcome, Outcome::kNonFinite);
    EXPECT_EQ(got.components[4].outcome, Outcome::kOutOfMemory);
  }
  const Response isolated = e.recommend({{10}, 3});  // three failures each: every circuit but the healthy one open
  EXPECT_EQ(isolated.items[0].item, 10);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_EQ(isolated.components[i].outcome, Outcome::kCircuitOpen) << i;
  const std::vector<ComponentHealth> h = e.health();
  EXPECT_EQ(h[0].circuit, CircuitState::kClosed);
  EXPECT_EQ(h[2].circuit, CircuitState::kOpen);
  EXPECT_EQ(h[1].outcomes[static_cast<std::size_t>(Outcome::kThrew)], 3);
  const std::string metrics = e.metrics_text();
  EXPECT_NE(metrics.find("reckon_component_calls_total{component=\"thrower\",outcome=\"threw\"} 3"), std::string::npos);
  EXPECT_NE(metrics.find("reckon_component_circuit_open{component=\"oom\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("reckon_ensemble_requests_total 4"), std::string::npos);
}

// Throws on its first `failures` calls, then scores as NearLastClick.
class FailsFirst final : public Component {
 public:
  explicit FailsFirst(int failures) : failures_(failures) {}
  std::string name() const override { return "recovering"; }
  void score(const Query& query, std::span<float> scores) override {
    if (calls_++ < failures_) RECKON_THROW(StatusCode::kUnavailable, "not yet");
    inner_.score(query, scores);
  }

 private:
  int failures_, calls_ = 0;
  NearLastClick inner_{"inner"};
};

TEST(Ensemble, HalfOpenProbeBringsARecoveredComponentBack) {
  std::vector<std::unique_ptr<Component>> c;
  c.push_back(std::make_unique<NearLastClick>("a"));
  c.push_back(std::make_unique<FailsFirst>(3));
  EnsembleOptions o;
  o.deadline = 200ms;
  o.circuit = {4, 2, 50ms};
  Ensemble e(std::move(c), Blend::equal(2, 20), 100, o);
  e.recommend({{1}, 3});
  e.recommend({{1}, 3});
  EXPECT_EQ(e.health()[1].circuit, CircuitState::kOpen);
  EXPECT_EQ(e.recommend({{1}, 3}).components[1].outcome, Outcome::kCircuitOpen);
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(e.recommend({{1}, 3}).components[1].outcome, Outcome::kThrew);  // the probe: the third failure
  EXPECT_EQ(e.health()[1].circuit, CircuitState::kOpen);
  std::this_thread::sleep_for(60ms);
  const Response back = e.recommend({{1}, 3});
  EXPECT_EQ(back.components[1].outcome, Outcome::kAnswered);
  EXPECT_EQ(back.answered, 2);
  EXPECT_EQ(e.health()[1].circuit, CircuitState::kClosed);
  EXPECT_EQ(e.health()[1].times_opened, 2);
}

TEST(Ensemble, BadRequestsAreRefusedWithoutCallingAnything) {
  std::vector<std::unique_ptr<Component>> c;
  c.push_back(std::make_unique<NearLastClick>("a"));
  Ensemble e(std::move(c), Blend::equal(1, 20), 100, EnsembleOptions{});
  EXPECT_THROW(e.recommend({{}, 5}), Error);
  EXPECT_THROW(e.recommend({{1}, 0}), Error);
  EXPECT_THROW(e.recommend({{1}, 21}), Error);
  try {
    e.recommend({{1, 100}, 5});
    ADD_FAILURE() << "an item past the catalogue was accepted";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), StatusCode::kOutOfRange);
  }
  EXPECT_EQ(e.recommend({{-1, 3}, 2}).items[0].item, 3);  // -1: an unknown item, allowed
  EXPECT_EQ(e.health()[0].outcomes[0], 1);
}

// A session model's catalogue mapped onto the ensemble's by name: items it lacks score -inf, and the union catalogue
// keeps the first model's order before the others' extra items.
TEST(SessionComponent, MapsCataloguesByItemName) {
  session::ClickLog log;
  session::ClickLogBuilder b(log);
  for (int s = 0; s < 6; ++s) {
    b.add(b.item("a"), 10.0 * s);
    b.add(b.item(s % 2 == 0 ? "b" : "c"), 10.0 * s + 1);
    b.end_session("s" + std::to_string(s));
  }
  session::RecommenderOptions o;
  o.kind = session::ModelKind::kPop;
  std::shared_ptr<const session::SessionRecommender> pop = session::make_recommender(o, session::TrainingSessions::build(log));
  const session::Catalog catalog = session::Catalog::from_names({"new", "c", "a", "b"}, {0, 3, 6, 3});
  SessionComponent component("pop", pop, catalog);
  std::vector<float> scores(4);
  const std::vector<std::int32_t> clicks{2, -1};
  component.score({clicks}, scores);
  EXPECT_EQ(scores[0], -INFINITY);
  EXPECT_GT(scores[2], scores[1]);  // "a" is the most clicked
  EXPECT_EQ(scores[1], scores[3]);
  const session::SessionRecommender* models[] = {pop.get()};
  const session::Catalog joined = union_catalog(models);
  EXPECT_EQ(joined.names, pop->training().catalog.names);
  EXPECT_THROW(component.score({}, scores), Error);
}

// A GPU component: GRU4Rec's checkpoint loaded by load_ensemble on CUDA (each component its own Context and stream)
// answers as the same checkpoint on the CPU, to float tolerance, through the ensemble.
TEST(EnsembleCuda, AGpuComponentAnswersAsOnTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  session::ContentSessionsOptions so;
  so.train_sessions = 400;
  so.test_sessions = 40;
  so.categories = 3;
  so.brands = 3;
  so.items_per_group = 6;
  const session::ContentSessions data = session::make_content_sessions(so);
  Context cpu(Device::cpu());
  session::Gru4RecOptions g;
  g.epochs = 1;
  g.hidden = 16;
  g.batch = 16;
  session::Gru4Rec model(cpu, g, session::TrainingSessions::build(data.train));
  model.train_epoch(1);
  const std::string dir = testing::temp_dir("ensemble_cuda");
  model.save(dir + "/gru4rec.ckpt");
  EnsembleConfig config;
  config.components = {{"gru4rec", "gru4rec.ckpt"}};
  config.blend = Blend::equal(1, 20);
  config.options.deadline = 5s;  // the first CUDA call loads kernels
  write_config(config, dir + "/ensemble.json");
  LoadedEnsemble on_cpu = load_ensemble(dir + "/ensemble.json", Device::cpu(), {});
  LoadedEnsemble on_gpu = load_ensemble(dir + "/ensemble.json", Device::cuda(0), {});
  Context gpu(Device::cuda(0));
  std::shared_ptr<const session::SessionRecommender> cpu_model = session::load_any_recommender(cpu, dir + "/gru4rec.ckpt"),
                                                     gpu_model = session::load_any_recommender(gpu, dir + "/gru4rec.ckpt");
  SessionComponent cpu_component("gru4rec", cpu_model, on_cpu.catalog), gpu_component("gru4rec", gpu_model, on_cpu.catalog);
  std::vector<float> cpu_scores(static_cast<std::size_t>(on_cpu.catalog.size())), gpu_scores(cpu_scores.size());
  for (std::int32_t last = 0; last < 10; ++last) {
    const std::vector<std::int32_t> session{last, (last + 3) % 10};
    cpu_component.score({session}, cpu_scores);
    gpu_component.score({session}, gpu_scores);
    for (std::size_t i = 0; i < cpu_scores.size(); ++i) EXPECT_NEAR(gpu_scores[i], cpu_scores[i], 1e-4 + 1e-4 * std::fabs(cpu_scores[i])) << i;
    const Response a = on_cpu.ensemble->recommend({session, 10});
    const Response b = on_gpu.ensemble->recommend({session, 10});
    ASSERT_EQ(b.answered, 1) << b.components[0].message;
    int shared = 0;  // near-ties may swap places between the devices' sums
    for (const ScoredItem& x : a.items) {
      for (const ScoredItem& y : b.items) shared += x.item == y.item;
    }
    EXPECT_GE(shared, 8);
  }
}

// Many clients at once, one component hanging on every call and one throwing on 30%: every request is answered
// within its deadline and a margin, by the healthy components, none lost.
TEST(Ensemble, ConcurrentClientsAreAnsweredInTimeDespiteFailures) {
  auto release = std::make_shared<HangRelease>();
  std::vector<std::unique_ptr<Component>> c;
  c.push_back(std::make_unique<NearLastClick>("fast"));
  c.push_back(std::make_unique<NearLastClick>("slow", 2ms));
  c.push_back(faulty("hanger", FaultKind::kHang, 1, release));
  c.push_back(faulty("flaky", FaultKind::kThrow, 0.3, release));
  EnsembleOptions o;
  o.deadline = 40ms;
  o.circuit = {20, 10, 200ms};
  Ensemble e(std::move(c), Blend::equal(4, 20), 1000, o, release);
  constexpr int kClients = 8, kRequests = 40;
  std::atomic<int> answered{0}, late{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int r = 0; r < kRequests; ++r) {
        const std::int32_t last = (t * kRequests + r) % 1000;
        const auto start = Clock::now();
        const Response got = e.recommend({{last}, 10});
        late += Clock::now() - start > o.deadline + 250ms;  // a margin for a loaded CI machine
        wrong += got.items.empty() || got.items[0].item != last;
        ++answered;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), kClients * kRequests);
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  const std::vector<ComponentHealth> h = e.health();
  EXPECT_EQ(h[0].outcomes[0], kClients * kRequests);
  EXPECT_EQ(h[2].outcomes[0], 0);
  EXPECT_GT(h[3].outcomes[static_cast<std::size_t>(Outcome::kThrew)], 0);
}

}  // namespace
}  // namespace reckon::ensemble
