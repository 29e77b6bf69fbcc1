// Skip-gram with negative sampling: words/s of one step over a batch of sentences (tokens after subsampling, so
// these are effective words; the item2vec trainer reports raw words). Zipf-distributed tokens over a 71,000-item
// vocabulary (text8's size), sentences of 1,000 tokens, window 5, 5 negatives. CPU: Hogwild over the cores and
// the sequential schedule, against a plain scalar single-thread loop of the same algorithm; CUDA: Hogwild, one
// warp per center (target on an H200 at d=128: >= 20,000,000 raw words/s in training).
#include "reckon/kernels/skipgram/skipgram.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/kernels/skipgram/skipgram_math.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::bench {
namespace {

constexpr std::int64_t kVocab = 71'000;
constexpr std::int64_t kSentence = 1000;

struct Corpus {
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> offsets;
  AliasTable alias;
};

const Corpus& corpus(std::int64_t words) {
  static std::int64_t made = 0;
  static Corpus c;
  if (made == words) return c;
  c = Corpus{};
  std::vector<std::int64_t> counts(kVocab, 1);
  PhiloxStream rng(9, 0);
  c.offsets.push_back(0);
  for (std::int64_t i = 0; i < words; ++i) {
    // Zipf with exponent 1 (log-uniform ranks), as natural text.
    const double r = std::floor(std::pow(static_cast<double>(kVocab), static_cast<double>(rng.next_uniform())));
    const auto t = static_cast<std::int32_t>(std::min<double>(r, kVocab) - 1);
    c.tokens.push_back(t);
    ++counts[static_cast<std::size_t>(t)];
    if ((i + 1) % kSentence == 0 || i + 1 == words) c.offsets.push_back(i + 1);
  }
  c.alias = build_alias_table(counts, 0.75);
  made = words;
  return c;
}

struct Tables {
  Tensor input, output, tokens, offsets, prob, index;
};

Tables upload(Context& ctx, const Corpus& c, std::int64_t dim) {
  auto put = [&](const auto& host, DType dtype, std::int64_t n) {
    Tensor t = Tensor::empty(ctx, dtype, {n});
    copy_bytes(ctx, t.view().data, ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(host[0]));
    return t;
  };
  Tables t;
  t.input = Tensor::empty(ctx, DType::kF32, {kVocab, dim});
  t.output = Tensor::empty(ctx, DType::kF32, {kVocab, dim});
  random_uniform(ctx, t.input, -0.5f / static_cast<float>(dim), 0.5f / static_cast<float>(dim));
  random_uniform(ctx, t.output, 0.0f, 0.0f);
  t.tokens = put(c.tokens, DType::kI32, static_cast<std::int64_t>(c.tokens.size()));
  t.offsets = put(c.offsets, DType::kI64, static_cast<std::int64_t>(c.offsets.size()));
  t.prob = put(c.alias.prob, DType::kF32, kVocab);
  t.index = put(c.alias.alias, DType::kI32, kVocab);
  ctx.synchronize();
  return t;
}

void run(benchmark::State& state, Context& ctx, SgnsSchedule schedule, bool on_cuda, std::int64_t private_rows = 0) {
  const std::int64_t dim = state.range(0), words = state.range(1);
  const Corpus& c = corpus(words);
  Tables t = upload(ctx, c, dim);
  SgnsOptions o;
  o.schedule = schedule;
  o.private_output_rows = private_rows;
  std::uint64_t step = 0;
  SgnsTotals totals(ctx);
  auto body = [&] {
    o.stream = step++;
    sgns_step(ctx, t.input.view(), t.output.view(), t.tokens.view(), t.offsets.view(), t.prob.view(), t.index.view(),
              o, &totals);
  };
  if (on_cuda) {
    time_iterations(state, ctx, body);
  } else {
    body();
    for (auto _ : state) body();
  }
  state.counters["words_per_s"] =
      benchmark::Counter(static_cast<double>(words), benchmark::Counter::kIsIterationInvariantRate);
  const SgnsStats sums = totals.read();
  state.counters["pairs_per_s"] = benchmark::Counter(static_cast<double>(sums.pairs) / static_cast<double>(step),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

// The same algorithm as a plain loop: scalar, one thread, no scratch reuse tricks (the baseline for the CPU).
void naive_step(const Corpus& c, std::vector<float>& in, std::vector<float>& out, int dim, std::uint64_t stream) {
  detail::SgnsProblem q{};
  q.tokens = c.tokens.data();
  q.offsets = c.offsets.data();
  q.alias_prob = c.alias.prob.data();
  q.alias_index = c.alias.alias.data();
  q.vocab = kVocab;
  q.num_tokens = static_cast<std::int64_t>(c.tokens.size());
  q.num_sentences = static_cast<std::int64_t>(c.offsets.size()) - 1;
  q.window = 5;
  q.negatives = 5;
  q.seed = 1;
  q.stream = stream;
  std::vector<float> e(static_cast<std::size_t>(dim));
  for (std::int64_t i = 0; i < q.num_tokens; ++i) {
    const std::int64_t s = detail::sgns_sentence_of(q, i);
    PhiloxStream rng = detail::sgns_draws(q, i);
    const auto r = static_cast<std::int64_t>(1 + uniform_below(rng.next_u32(), 5));
    float* center =
        in.data() + static_cast<std::size_t>(c.tokens[static_cast<std::size_t>(i)]) * static_cast<std::size_t>(dim);
    for (std::int64_t j = std::max(c.offsets[static_cast<std::size_t>(s)], i - r);
         j <= std::min(c.offsets[static_cast<std::size_t>(s) + 1] - 1, i + r); ++j) {
      if (j == i) continue;
      const std::int32_t context = c.tokens[static_cast<std::size_t>(j)];
      std::fill(e.begin(), e.end(), 0.0f);
      for (int n = 0; n <= 5; ++n) {
        const std::int32_t target = n == 0 ? context : detail::sgns_negative(q, rng);
        if (n > 0 && target == context) continue;
        float* row = out.data() + static_cast<std::size_t>(target) * static_cast<std::size_t>(dim);
        float f = 0;
        for (int d = 0; d < dim; ++d) f += center[d] * row[d];
        const float g = detail::sgns_gradient(f, n == 0 ? 1.0f : 0.0f, 0.025f);
        for (int d = 0; d < dim; ++d) e[static_cast<std::size_t>(d)] += g * row[d];
        for (int d = 0; d < dim; ++d) row[d] += g * center[d];
      }
      for (int d = 0; d < dim; ++d) center[d] += e[static_cast<std::size_t>(d)];
    }
  }
}

double naive_words_per_s(std::int64_t dim, std::int64_t words) {
  const Corpus& c = corpus(words);
  std::vector<float> in(static_cast<std::size_t>(kVocab * dim), 0.001f), out(in.size(), 0.0f);
  return static_cast<double>(words) /
         (best_ms(cpu_context(), 2, [&] { naive_step(c, in, out, static_cast<int>(dim), 1); }) / 1e3);
}

// private: the most frequent items' output rows trained in per-thread copies (SgnsOptions::private_output_rows;
// the item2vec trainer passes 256; the corpus's ids are ranks, so the first rows are the most frequent).
void BM_SgnsStep_cpu(benchmark::State& state) {
  run(state, cpu_context(), SgnsSchedule::kHogwild, false, state.range(2));
  state.counters["vs_naive"] = state.counters["words_per_s"].value / naive_words_per_s(state.range(0), state.range(1));
}
BENCHMARK(BM_SgnsStep_cpu)
    ->Name("BM_SgnsStep/cpu")
    ->Args({100, 200'000, 0})
    ->Args({100, 200'000, 256})
    ->Args({128, 200'000, 256})
    ->ArgNames({"d", "words", "private"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SgnsStepSequential_cpu(benchmark::State& state) {
  run(state, cpu_context(), SgnsSchedule::kSequential, false);
}
BENCHMARK(BM_SgnsStepSequential_cpu)
    ->Name("BM_SgnsStepSequential/cpu")
    ->Args({100, 200'000})
    ->ArgNames({"d", "words"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_SgnsStep_cuda(benchmark::State& state) {
  if (!has_cuda(state)) return;
  run(state, cuda_context(), SgnsSchedule::kHogwild, true);
}
BENCHMARK(BM_SgnsStep_cuda)
    ->Name("BM_SgnsStep/cuda")
    ->Args({100, 4'000'000})
    ->Args({128, 4'000'000})
    ->ArgNames({"d", "words"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reckon::bench
