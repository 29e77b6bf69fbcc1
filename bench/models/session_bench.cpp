// Session recommendation on synthetic sessions over a 40,000-item catalogue (400 genres of 100 items): the
// evaluator's queries per second (score every item, rank the target with ties against it, top-k lists for
// coverage) for each baseline, goal on the CPU here >= 10,000 queries/s; and GRU4Rec's training clicks per second
// (one epoch over 20,000 sessions; 100 hidden units, batch 32 as GRU4Rec's defaults; the full-catalogue softmax, and
// BPR-max over the batch's targets and 2,048 sampled negatives).
#include <filesystem>

#include "bench_util.h"
#include "reckon/models/item2vec/synthetic.h"
#include "reckon/models/session/evaluate.h"
#include "reckon/models/session/gru4rec.h"

namespace reckon::bench {
namespace {

struct Data {
  session::ClickLog train, test;
};

const Data& data() {
  static const Data d = [] {
    item2vec::SyntheticSessionsOptions o;
    o.genres = 400;
    o.songs_per_genre = 100;
    o.train_sessions = 200'000;
    o.test_sessions = 2'000;
    o.mean_length = 5;
    const std::string dir = (std::filesystem::temp_directory_path() / "reckon_session_bench").string();
    std::filesystem::create_directories(dir);
    const item2vec::SyntheticSessions files = item2vec::write_synthetic_sessions(dir, o);
    const session::ClickReadOptions r;
    return Data{session::read_clicks(files.train_path, r), session::read_clicks(files.test_path, r)};
  }();
  return d;
}

void BM_SessionEval(benchmark::State& state, session::ModelKind kind) {
  session::RecommenderOptions o;
  o.kind = kind;
  const auto model = session::make_recommender(o, session::TrainingSessions::build(data().train));
  session::EvalOptions e;
  e.allow_leak = true;  // the synthetic test sessions share the training sessions' clock
  std::int64_t queries = 0;
  for (auto _ : state) queries = session::evaluate(*model, data().test, e).all.queries;
  state.counters["queries_per_s"] = benchmark::Counter(static_cast<double>(queries), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["items"] = static_cast<double>(model->training().catalog.size());
}

void BM_Gru4RecTrain(benchmark::State& state, bool cuda, session::ItemLoss loss) {
  if (cuda && !has_cuda(state)) return;
  Context& ctx = cuda ? cuda_context() : cpu_context();
  session::TrainingSessions all = session::TrainingSessions::build(data().train);
  session::TrainingSessions some = all;
  some.offsets.resize(20'001);
  some.items.resize(static_cast<std::size_t>(some.offsets.back()));
  session::Gru4RecOptions o;
  o.output.loss = loss;
  session::Gru4Rec model(ctx, o, std::move(some));
  double clicks = 0;
  for (auto _ : state) {
    const session::EpochStats e = model.train_epoch(1);
    clicks = e.clicks_per_second * e.seconds;
  }
  state.counters["clicks_per_s"] = benchmark::Counter(clicks, benchmark::Counter::kIsIterationInvariantRate);
}

[[maybe_unused]] const bool kRegistered = [] {
  for (const auto loss : {session::ItemLoss::kCrossEntropy, session::ItemLoss::kBprMax}) {
    const std::string suffix = std::string("/") + session::to_string(loss);
    benchmark::RegisterBenchmark(("BM_Gru4RecTrain/cpu" + suffix).c_str(), BM_Gru4RecTrain, false, loss)
        ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
    benchmark::RegisterBenchmark(("BM_Gru4RecTrain/cuda" + suffix).c_str(), BM_Gru4RecTrain, true, loss)
        ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
  }
  for (const auto kind : {session::ModelKind::kPop, session::ModelKind::kSPop, session::ModelKind::kItemKnn,
                          session::ModelKind::kSknn, session::ModelKind::kVsknn}) {
    benchmark::RegisterBenchmark((std::string("BM_SessionEval/cpu/") + session::to_string(kind)).c_str(), BM_SessionEval, kind)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace reckon::bench
