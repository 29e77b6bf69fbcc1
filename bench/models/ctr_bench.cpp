// DeepFM training throughput: F=39 fields, K=16, hidden 400-400-400, batch 4096 (the issue's configuration), one
// training step (forward, backward, sparse Adam on the embeddings, Adam on the MLP) per iteration, in samples/s.
// Targets: CPU (2 cores) >= 3x a straightforward framework's ~17,000 samples/s; H200 >= 5,000,000 samples/s.
// Serving: a request of R text rows parsed through the vocabulary and scored (the README's serving path), per
// request latency and rows/s. Reading: a training file's vocabulary and dataset passes, rows/s and MB/s.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "bench_util.h"
#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/models/ctr/synthetic.h"
#include "reckon/models/ctr/trainer.h"
#include "reckon/runtime/graph.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"
#include "reckon/runtime/timer.h"

namespace reckon::bench {
namespace {

constexpr int kFields = 39;
constexpr std::int64_t kRows = 100'000;

// Ids per field: uniform over the kRows rows (every lookup a cache miss: the worst case), or heavy-tailed as real
// click logs are (log-uniform, i.e. Zipf with exponent 1: P(id < r) = ln r / ln kRows).
enum class IdDistribution : int { kUniform = 0, kZipf = 1 };

ctr::CtrBatch random_batch(Context& ctx, std::int64_t batch, IdDistribution ids_from = IdDistribution::kUniform) {
  ctr::CtrBatch b;
  b.size = batch;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(kFields * batch)), offsets(static_cast<std::size_t>(batch + 1));
  std::vector<float> labels(static_cast<std::size_t>(batch));
  PhiloxStream rng(11, 0);
  for (auto& id : ids) {
    if (ids_from == IdDistribution::kUniform) {
      id = static_cast<std::int32_t>(uniform_below(rng.next_u32(), kRows));
    } else {
      const double r = std::floor(std::pow(static_cast<double>(kRows), static_cast<double>(rng.next_uniform())));
      id = static_cast<std::int32_t>(std::min<double>(r, kRows) - 1);
    }
  }
  for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<std::int32_t>(i);
  for (float& y : labels) y = rng.next_uniform() < 0.25f ? 1.0f : 0.0f;
  b.ids = Tensor::empty(ctx, DType::kI32, {kFields, batch});
  b.offsets = Tensor::empty(ctx, DType::kI32, {batch + 1});
  b.labels = Tensor::empty(ctx, DType::kF32, {batch});
  copy_bytes(ctx, b.ids.data<std::int32_t>(), ctx.device(), ids.data(), Device::cpu(), ids.size() * 4);
  copy_bytes(ctx, b.offsets.data<std::int32_t>(), ctx.device(), offsets.data(), Device::cpu(), offsets.size() * 4);
  copy_bytes(ctx, b.labels.data<float>(), ctx.device(), labels.data(), Device::cpu(), labels.size() * 4);
  ctx.synchronize();
  return b;
}

void train_steps(benchmark::State& state, Context& ctx, bool on_cuda) {
  const std::int64_t batch = state.range(0);
  ctr::CtrModelConfig config;
  config.kind = static_cast<ctr::CtrModelKind>(state.range(1));
  ctr::CtrModel model(ctx, config, std::vector<std::int64_t>(kFields, kRows));
  const ctr::CtrBatch b = random_batch(ctx, batch);
  auto step = [&] { model.train_step(b); };
  if (on_cuda) {
    time_iterations(state, ctx, step);
  } else {
    step();
    for (auto _ : state) step();
  }
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

// The same step captured once into a CUDA graph and replayed per iteration: what host launch overhead costs at
// small batches, where a step's few dozen kernels each take microseconds.
void train_steps_graph(benchmark::State& state, Context& ctx) {
  const std::int64_t batch = state.range(0);
  ctr::CtrModelConfig config;
  config.kind = static_cast<ctr::CtrModelKind>(state.range(1));
  ctr::CtrModel model(ctx, config, std::vector<std::int64_t>(kFields, kRows));
  const ctr::CtrBatch b = random_batch(ctx, batch);
  model.train_step(b);  // sizes the workspace outside the capture
  ctx.synchronize();
  const CudaGraph step = CudaGraph::capture(ctx, [&] { model.train_step(b); });
  time_iterations(state, ctx, [&] { step.replay(ctx); });
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

// The same step profiled by stage: milliseconds per step in each stage (embedding, FM, MLP, loss, optimizers).
void train_stages(benchmark::State& state, Context& ctx) {
  const std::int64_t batch = state.range(0);
  ctr::CtrModelConfig config;
  config.kind = ctr::CtrModelKind::kDeepFm;
  ctr::CtrModel model(ctx, config, std::vector<std::int64_t>(kFields, kRows));
  const ctr::CtrBatch b = random_batch(ctx, batch, static_cast<IdDistribution>(state.range(1)));
  model.train_step(b);
  StageTimer stages(ctx, ctr::ctr_stage_names());
  model.set_stage_timer(&stages);
  DeviceTimer timer(ctx);
  double total_ms = 0.0;
  for (auto _ : state) {
    timer.start();
    model.train_step(b);
    const double ms = timer.stop_ms();
    total_ms += ms;
    state.SetIterationTime(ms / 1e3);
  }
  const auto& totals = stages.totals_ms();
  const double iterations = static_cast<double>(state.iterations());
  for (std::size_t s = 0; s < totals.size(); ++s) {
    state.counters[stages.stage_names()[s] + "_ms"] = totals[s] / iterations;
  }
  state.counters["step_ms"] = total_ms / iterations;
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CtrTrainStages_cpu(benchmark::State& state) { train_stages(state, cpu_context()); }
BENCHMARK(BM_CtrTrainStages_cpu)
    ->Name("BM_CtrTrainStages/cpu")
    ->Args({4096, 0})
    ->Args({4096, 1})
    ->ArgNames({"B", "zipf"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_CtrTrainStages_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  train_stages(state, cuda_context());
}
BENCHMARK(BM_CtrTrainStages_cuda)
    ->Name("BM_CtrTrainStages/cuda")
    ->Args({4096, 0})
    ->Args({65536, 0})
    ->Args({65536, 1})
    ->ArgNames({"B", "zipf"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_CtrTrainStep_cpu(benchmark::State& state) { train_steps(state, cpu_context(), false); }
BENCHMARK(BM_CtrTrainStep_cpu)
    ->Name("BM_CtrTrainStep/cpu")
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kFm)})
    ->ArgNames({"B", "model"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_CtrTrainStep_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  train_steps(state, cuda_context(), true);
}
BENCHMARK(BM_CtrTrainStep_cuda)
    ->Name("BM_CtrTrainStep/cuda")
    ->Args({512, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({65536, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({65536, static_cast<int>(ctr::CtrModelKind::kFm)})
    ->ArgNames({"B", "model"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_CtrTrainStepGraph_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  train_steps_graph(state, cuda_context());
}
BENCHMARK(BM_CtrTrainStepGraph_cuda)
    ->Name("BM_CtrTrainStep/cuda_graph")
    ->Args({512, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->Args({4096, static_cast<int>(ctr::CtrModelKind::kDeepFm)})
    ->ArgNames({"B", "model"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The synthetic click log (Criteo layout: F = 39, kLogRows training rows), written once to a temporary folder
// that is removed at exit.
constexpr std::int64_t kLogRows = 200'000;
struct SyntheticLog {
  SyntheticLog() {
    ctr::SyntheticOptions options;
    options.train_rows = kLogRows;
    options.test_rows = 4096;
    files = ctr::write_synthetic_click_log(dir.string(), options);
  }
  ~SyntheticLog() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("reckon_ctr_bench_" + std::to_string(::getpid()));
  ctr::SyntheticResult files;
};

const SyntheticLog& synthetic_log() {
  static const SyntheticLog log;
  return log;
}

// Reading a training file as `ctr train` does: the vocabulary pass (vocabulary:1) or the dataset pass through a
// vocabulary (vocabulary:0), on `threads` parsing threads (0: all). Rows/s and MB/s of file text.
void BM_CtrRead_cpu(benchmark::State& state) {
  const bool vocabulary_pass = state.range(0) != 0;
  const SyntheticLog& log = synthetic_log();
  ctr::ReadOptions read = ctr::read_options("criteo");
  read.threads = static_cast<int>(state.range(1));
  const ctr::Vocabulary vocabulary = ctr::build_vocabulary(log.files.train_path, read, 1);
  std::int64_t rows = 0;
  for (auto _ : state) {
    if (vocabulary_pass) {
      benchmark::DoNotOptimize(ctr::build_vocabulary(log.files.train_path, read, 1).field_count());
      rows = kLogRows;
    } else {
      rows = ctr::read_dataset(log.files.train_path, vocabulary, read).size();
    }
  }
  const auto bytes = static_cast<double>(std::filesystem::file_size(log.files.train_path));
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB_per_s"] = benchmark::Counter(bytes / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CtrRead_cpu)
    ->Name("BM_CtrRead/cpu")
    ->ArgsProduct({{1, 0}, {1, 0}})
    ->ArgNames({"vocabulary", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The log's vocabulary and its test rows as request text.
struct ServingData {
  ctr::Vocabulary vocabulary;
  std::vector<std::string> rows;  // one request line each, with its label column
};

const ServingData& serving_data() {
  static const ServingData data = [] {
    const SyntheticLog& log = synthetic_log();
    ServingData d;
    d.vocabulary = ctr::build_vocabulary(log.files.train_path, ctr::read_options("criteo"), 1);
    std::ifstream in(log.files.test_path);
    for (std::string line; std::getline(in, line);) d.rows.push_back(line);
    return d;
  }();
  return data;
}

// One request per iteration: R rows of text -> parse_rows -> predict -> probabilities on the host. With parse=0 the
// rows are parsed once outside the loop, so the figure is the model alone.
void serve(benchmark::State& state, Context& ctx) {
  const std::int64_t R = state.range(0);
  const bool parse = state.range(1) != 0;
  const ServingData& data = serving_data();
  ctr::CtrModelConfig config;  // DeepFM, K=16, 400-400-400
  config.field_widths = data.vocabulary.field_widths();
  ctr::CtrModel model(ctx, config, data.vocabulary.field_rows());
  std::string request;
  for (std::int64_t i = 0; i < R; ++i) request += data.rows[static_cast<std::size_t>(i) % data.rows.size()] + "\n";
  const ctr::ReadOptions read = ctr::read_options("criteo");
  const ctr::CtrDataset parsed = ctr::parse_rows(request, data.vocabulary, read, "request");
  if (parsed.size() != R) {
    state.SkipWithError("the request rows did not parse");
    return;
  }
  auto one_request = [&] {
    const std::vector<float> p =
        parse ? ctr::predict(model, ctr::parse_rows(request, data.vocabulary, read, "request"), R)
              : ctr::predict(model, parsed, R);
    benchmark::DoNotOptimize(p.data());
  };
  one_request();
  for (auto _ : state) one_request();
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(R), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CtrServe_cpu(benchmark::State& state) {
  serve(state, cpu_context());
}
BENCHMARK(BM_CtrServe_cpu)
    ->Name("BM_CtrServe/cpu")
    ->ArgsProduct({{1, 16, 256, 4096}, {1, 0}})
    ->ArgNames({"R", "parse"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_CtrServe_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  serve(state, cuda_context());
}
BENCHMARK(BM_CtrServe_cuda)
    ->Name("BM_CtrServe/cuda")
    ->ArgsProduct({{1, 256, 4096}, {1, 0}})
    ->ArgNames({"R", "parse"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace reckon::bench
