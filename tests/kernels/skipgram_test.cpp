// Skip-gram with negative sampling: the alias table and subsampling against their definitions, the CPU step
// against a double-precision reference of skipgram.h's algorithm (same draws), reproducibility, bad input, that
// training finds planted structure, and CPU/CUDA parity.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "reckon/kernels/skipgram/skipgram.h"
#include "reckon/kernels/skipgram/skipgram_math.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

// A small problem on the host: tables, a corpus of sentences and the alias table.
struct Problem {
  std::int64_t vocab = 50;
  int dim = 24;
  std::vector<float> input, output;
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> offsets;
  AliasTable alias;
  std::vector<std::int64_t> counts;
};

Problem make_problem(std::int64_t vocab, int dim, int sentences, std::uint64_t seed) {
  Problem p;
  p.vocab = vocab;
  p.dim = dim;
  p.input = testing::random_floats(static_cast<std::size_t>(vocab * dim), -0.5f / static_cast<float>(dim),
                                   0.5f / static_cast<float>(dim), seed);
  p.output = testing::random_floats(static_cast<std::size_t>(vocab * dim), -0.1f, 0.1f, seed + 1);
  PhiloxStream rng(seed, 7);
  p.offsets.push_back(0);
  p.counts.assign(static_cast<std::size_t>(vocab), 0);
  for (int s = 0; s < sentences; ++s) {
    const int length = static_cast<int>(uniform_below(rng.next_u32(), 12));  // some empty and one-token sentences
    for (int i = 0; i < length; ++i) {
      // Zipf-like: low ids frequent.
      const auto t = static_cast<std::int32_t>(uniform_below(rng.next_u32(), 1 + uniform_below(rng.next_u32(), static_cast<std::uint32_t>(vocab))));
      p.tokens.push_back(t);
      ++p.counts[static_cast<std::size_t>(t)];
    }
    p.offsets.push_back(static_cast<std::int64_t>(p.tokens.size()));
  }
  for (auto& c : p.counts) c += 1;  // every item can be a negative
  p.alias = build_alias_table(p.counts, 0.75);
  return p;
}

struct StepResult {
  std::vector<float> input, output;
  SgnsStats stats;
};

// A problem's tables and inputs on the context's device.
struct DeviceProblem {
  Tensor in, out, tokens, offsets, prob, index;
  DeviceProblem(Context& ctx, const Problem& p) {
    auto put = [&](const auto& host, DType dtype, std::initializer_list<std::int64_t> sizes) {
      Tensor t = Tensor::empty(ctx, dtype, sizes);
      copy_bytes(ctx, t.view().data, ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(host[0]));
      return t;
    };
    in = put(p.input, DType::kF32, {p.vocab, p.dim});
    out = put(p.output, DType::kF32, {p.vocab, p.dim});
    tokens = put(p.tokens, DType::kI32, {static_cast<std::int64_t>(p.tokens.size())});
    offsets = put(p.offsets, DType::kI64, {static_cast<std::int64_t>(p.offsets.size())});
    prob = put(p.alias.prob, DType::kF32, {p.vocab});
    index = put(p.alias.alias, DType::kI32, {p.vocab});
  }
  // One step; its stats read back (which synchronises, so a GPU's recorded error is raised here).
  SgnsStats step(Context& ctx, const SgnsOptions& o) const {
    SgnsTotals totals(ctx);
    sgns_step(ctx, in.view(), out.view(), tokens.view(), offsets.view(), prob.view(), index.view(), o, &totals);
    return totals.read();
  }
};

StepResult run_step(Context& ctx, const Problem& p, const SgnsOptions& o, int steps = 1) {
  const DeviceProblem d(ctx, p);
  StepResult r;
  for (int s = 0; s < steps; ++s) {
    SgnsOptions step = o;
    step.stream = o.stream + static_cast<std::uint64_t>(s);
    const SgnsStats st = d.step(ctx, step);
    r.stats.pairs += st.pairs;
    r.stats.loss += st.loss;
  }
  r.input = testing::to_host<float>(ctx, d.in.view());
  r.output = testing::to_host<float>(ctx, d.out.view());
  return r;
}

// A step on bad input must throw and leave both tables exactly as they were (nothing trained before the check).
void expect_rejected_untouched(Context& ctx, const Problem& p, const SgnsOptions& o, const char* what) {
  SCOPED_TRACE(what);
  const DeviceProblem d(ctx, p);
  EXPECT_THROW((void)d.step(ctx, o), Error);
  const std::vector<float> in_after = testing::to_host<float>(ctx, d.in.view());
  const std::vector<float> out_after = testing::to_host<float>(ctx, d.out.view());
  EXPECT_TRUE(testing::bitwise_equal(in_after.data(), p.input.data(), p.input.size() * 4));
  EXPECT_TRUE(testing::bitwise_equal(out_after.data(), p.output.data(), p.output.size() * 4));
}

// The bad inputs of both devices' tests: a token outside the vocabulary late in the batch, offsets that go
// backwards, an alias entry outside the vocabulary. The output table starts non-zero so that any update shows.
void expect_bad_inputs_rejected(Context& ctx, Problem p) {
  p.output = testing::random_floats(p.output.size(), -0.1f, 0.1f, 3);
  SgnsOptions o;
  Problem bad = p;
  bad.tokens.back() = static_cast<std::int32_t>(p.vocab);
  expect_rejected_untouched(ctx, bad, o, "token");
  bad = p;
  bad.offsets[2] = bad.offsets[1] - 1;
  expect_rejected_untouched(ctx, bad, o, "offsets");
  bad = p;
  bad.alias.alias[4] = -3;
  expect_rejected_untouched(ctx, bad, o, "alias");
}

// skipgram.h's algorithm in double, drawing through the same helpers.
void reference_step(const Problem& p, const SgnsOptions& o, std::vector<double>& in, std::vector<double>& out,
                    std::int64_t& pairs) {
  detail::SgnsProblem q{};
  q.tokens = p.tokens.data();
  q.offsets = p.offsets.data();
  q.alias_prob = p.alias.prob.data();
  q.alias_index = p.alias.alias.data();
  q.vocab = p.vocab;
  q.num_tokens = static_cast<std::int64_t>(p.tokens.size());
  q.num_sentences = static_cast<std::int64_t>(p.offsets.size()) - 1;
  q.window = o.window;
  q.negatives = o.negatives;
  q.seed = o.seed;
  q.stream = o.stream;
  const int D = p.dim;
  for (std::int64_t c = 0; c < q.num_tokens; ++c) {
    const std::int64_t s = detail::sgns_sentence_of(q, c);
    const std::int64_t start = p.offsets[static_cast<std::size_t>(s)], end = p.offsets[static_cast<std::size_t>(s) + 1];
    PhiloxStream rng = detail::sgns_draws(q, c);
    const auto r = static_cast<std::int64_t>(1 + uniform_below(rng.next_u32(), static_cast<std::uint32_t>(o.window)));
    double* center = in.data() + p.tokens[static_cast<std::size_t>(c)] * D;
    for (std::int64_t j = std::max(start, c - r); j <= std::min(end - 1, c + r); ++j) {
      if (j == c) continue;
      const std::int32_t context = p.tokens[static_cast<std::size_t>(j)];
      std::vector<double> e(static_cast<std::size_t>(D), 0.0);
      for (int n = 0; n <= o.negatives; ++n) {
        const std::int32_t target = n == 0 ? context : detail::sgns_negative(q, rng);
        if (n > 0 && target == context) continue;
        double* row = out.data() + target * D;
        double f = 0;
        for (int d = 0; d < D; ++d) f += center[d] * row[d];
        const double g = o.learning_rate * ((n == 0 ? 1.0 : 0.0) - 1.0 / (1.0 + std::exp(-f)));
        for (int d = 0; d < D; ++d) e[static_cast<std::size_t>(d)] += g * row[d];
        for (int d = 0; d < D; ++d) row[d] += g * center[d];
      }
      for (int d = 0; d < D; ++d) center[d] += e[static_cast<std::size_t>(d)];
      ++pairs;
    }
  }
}

TEST(SkipgramCpu, AliasTableDrawsUnigramToTheAlpha) {
  const std::vector<std::int64_t> counts = {1000, 300, 0, 50, 7, 1, 0, 200};
  const AliasTable t = build_alias_table(counts, 0.75);
  detail::SgnsProblem q{};
  q.alias_prob = t.prob.data();
  q.alias_index = t.alias.data();
  q.vocab = static_cast<std::int64_t>(counts.size());
  std::vector<double> drawn(counts.size(), 0.0), expected(counts.size());
  double total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) total += expected[i] = std::pow(static_cast<double>(counts[i]), 0.75);
  PhiloxStream rng(3, 0);
  const int n = 400000;
  for (int i = 0; i < n; ++i) drawn[static_cast<std::size_t>(detail::sgns_negative(q, rng))] += 1;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double p = expected[i] / total;
    EXPECT_NEAR(drawn[i] / n, p, 4 * std::sqrt(p * (1 - p) / n) + 1e-9) << "item " << i;
  }
  EXPECT_EQ(drawn[2], 0.0);
  EXPECT_EQ(drawn[6], 0.0);
  EXPECT_THROW((void)build_alias_table(std::vector<std::int64_t>{0, 0}, 0.75), Error);
}

TEST(SkipgramCpu, InlineExpIsAccurate) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(detail::sgns_exp(x) - want) / want);
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(detail::sgns_exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isinf(detail::sgns_exp(200.0f)));
  EXPECT_EQ(detail::sgns_gradient(-500.0f, 1.0f, 1.0f), 1.0f);  // σ = 0, no NaN
  EXPECT_EQ(detail::sgns_gradient(500.0f, 0.0f, 1.0f), -1.0f);
}

TEST(SkipgramCpu, SubsamplingFollowsWord2vec) {
  const std::vector<std::int64_t> counts = {900000, 90000, 9000, 1000};
  const auto keep = subsample_keep_probability(counts, 1e-3);
  const double total = 1e6;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double f = static_cast<double>(counts[i]) / total;
    EXPECT_NEAR(keep[i], std::min(1.0, std::sqrt(1e-3 / f) + 1e-3 / f), 1e-6);
  }
  std::vector<std::int32_t> tokens(20000, 0), kept;
  std::vector<std::int64_t> offsets = {0, 10000, 20000}, kept_offsets;
  subsample_sentences(tokens, offsets, keep, 5, 1, kept, kept_offsets);
  ASSERT_EQ(kept_offsets.size(), 3u);
  EXPECT_NEAR(static_cast<double>(kept.size()) / 20000.0, keep[0], 0.02);
  std::vector<std::int32_t> again;
  std::vector<std::int64_t> again_offsets;
  subsample_sentences(tokens, offsets, keep, 5, 1, again, again_offsets);
  EXPECT_EQ(kept_offsets, again_offsets);
  tokens[5] = 9;
  EXPECT_THROW(subsample_sentences(tokens, offsets, keep, 5, 1, kept, kept_offsets), Error);
}

TEST(SkipgramCpu, SubsamplingIsTheSameOnAnyNumberOfThreads) {
  // 300,000 tokens in sentences of 0 to 2,000 tokens: drawn in parallel chunks, the result is the plain loop's.
  const std::vector<std::int64_t> counts = {500000, 200000, 50000, 5000, 100};
  const auto keep = subsample_keep_probability(counts, 1e-2);
  PhiloxStream rng(17, 0);
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> offsets = {0};
  while (tokens.size() < 300000) {
    const std::uint32_t length = uniform_below(rng.next_u32(), 2001);
    for (std::uint32_t i = 0; i < length; ++i)
      tokens.push_back(static_cast<std::int32_t>(uniform_below(rng.next_u32(), 5)));
    offsets.push_back(static_cast<std::int64_t>(tokens.size()));
  }
  std::vector<std::int32_t> want;
  std::vector<std::int64_t> want_offsets = {0};
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
    for (std::int64_t i = offsets[s]; i < offsets[s + 1]; ++i) {
      const std::int32_t t = tokens[static_cast<std::size_t>(i)];
      if (uniform_from_bits(philox_word(9, 3, static_cast<std::uint64_t>(i))) < keep[static_cast<std::size_t>(t)])
        want.push_back(t);
    }
    want_offsets.push_back(static_cast<std::int64_t>(want.size()));
  }
  for (const int threads : {1, 2, 3, 8}) {
    std::vector<std::int32_t> kept;
    std::vector<std::int64_t> kept_offsets;
    subsample_sentences(tokens, offsets, keep, 9, 3, kept, kept_offsets, threads);
    EXPECT_EQ(kept, want) << threads << " threads";
    EXPECT_EQ(kept_offsets, want_offsets) << threads << " threads";
  }
  // The first bad token is the one reported, whichever chunk holds it.
  tokens[250000] = 7;
  tokens[260000] = -1;
  try {
    std::vector<std::int32_t> kept;
    std::vector<std::int64_t> kept_offsets;
    subsample_sentences(tokens, offsets, keep, 9, 3, kept, kept_offsets, 8);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("token 7 at position 250000"), std::string::npos) << e.message();
  }
}

TEST(SkipgramCpu, SequentialStepMatchesDoubleReference) {
  const Problem p = make_problem(50, 24, 40, 11);
  Context ctx(Device::cpu());
  SgnsOptions o;
  o.window = 3;
  o.negatives = 4;
  o.learning_rate = 0.05f;
  o.seed = 17;
  o.stream = 2;
  o.schedule = SgnsSchedule::kSequential;
  o.compute_loss = true;
  const StepResult got = run_step(ctx, p, o);
  std::vector<double> in(p.input.begin(), p.input.end()), out(p.output.begin(), p.output.end());
  std::int64_t pairs = 0;
  reference_step(p, o, in, out, pairs);
  EXPECT_EQ(got.stats.pairs, pairs);
  EXPECT_GT(got.stats.loss, 0.0);
  EXPECT_TRUE(testing::all_close(got.input, in, {1e-4, 1e-6}));
  EXPECT_TRUE(testing::all_close(got.output, out, {1e-4, 1e-6}));
  // StepResult to run, and Hogwild on one thread, bit for bit.
  const StepResult again = run_step(ctx, p, o);
  EXPECT_TRUE(testing::bitwise_equal(got.input.data(), again.input.data(), got.input.size() * 4));
  Context one(Device::cpu());
  one.set_cpu_threads(1);
  SgnsOptions hogwild = o;
  hogwild.schedule = SgnsSchedule::kHogwild;
  const StepResult h = run_step(one, p, hogwild);
  EXPECT_TRUE(testing::bitwise_equal(got.output.data(), h.output.data(), got.output.size() * 4));
}

// Hogwild with private copies of the frequent output rows: what each thread moved in its copies reaches the
// table (merged every 64 centers and at the end), so the step's total movement of those rows matches the
// one-at-a-time step's up to the effect of the order (small at a small learning rate); a lost merge would miss a
// stretch of updates. With one thread the option is ignored and the step is the sequential one, bit for bit.
TEST(SkipgramCpu, PrivateFrequentRowsAreMergedIntoTheTable) {
  const Problem p = make_problem(120, 24, 600, 31);  // about 3,300 centers: many merges per thread
  SgnsOptions o;
  o.learning_rate = 0.0002f;
  o.seed = 5;
  o.schedule = SgnsSchedule::kSequential;
  Context one(Device::cpu());
  one.set_cpu_threads(1);
  const StepResult sequential = run_step(one, p, o);
  SgnsOptions with_private = o;
  with_private.schedule = SgnsSchedule::kHogwild;
  with_private.private_output_rows = 40;
  const StepResult single = run_step(one, p, with_private);
  EXPECT_TRUE(testing::bitwise_equal(sequential.output.data(), single.output.data(), sequential.output.size() * 4));
  EXPECT_TRUE(testing::bitwise_equal(sequential.input.data(), single.input.data(), sequential.input.size() * 4));

  Context two(Device::cpu());
  two.set_cpu_threads(2);
  for (std::int64_t rows : {std::int64_t{40}, p.vocab, std::int64_t{1'000'000}}) {
    with_private.private_output_rows = rows;
    const StepResult parallel = run_step(two, p, with_private);
    EXPECT_EQ(parallel.stats.pairs, sequential.stats.pairs);
    // Movement of the private rows against the sequential step's. Shared rows are left out: two threads writing
    // one row at once lose updates (6-7% of the movement on this tiny vocabulary), which is plain Hogwild.
    const auto floats = static_cast<std::size_t>(std::min(rows, p.vocab) * p.dim);
    double moved = 0, differs = 0;
    for (std::size_t i = 0; i < floats; ++i) {
      const double want = sequential.output[i] - p.output[i], got = parallel.output[i] - p.output[i];
      moved += want * want;
      differs += (got - want) * (got - want);
    }
    ASSERT_GT(moved, 0.0);
    // Measured 0.005-0.016 over 180 runs; 0.06 when the final merge is left out.
    EXPECT_LT(std::sqrt(differs / moved), 0.03) << rows << " private rows";
  }
}

TEST(SkipgramCpu, BadInputIsReportedAndTablesUntouched) {
  Problem p = make_problem(20, 8, 10, 3);
  Context ctx(Device::cpu());
  SgnsOptions o;
  Problem bad = p;
  bad.tokens[3] = 20;
  EXPECT_THROW((void)run_step(ctx, bad, o), Error);
  bad = p;
  bad.offsets[2] = bad.offsets[1] - 1;
  EXPECT_THROW((void)run_step(ctx, bad, o), Error);
  bad = p;
  bad.alias.alias[4] = -3;
  EXPECT_THROW((void)run_step(ctx, bad, o), Error);
  o.window = 0;
  EXPECT_THROW((void)run_step(ctx, p, o), Error);
  o.window = 5;
  o.negatives = 16;
  EXPECT_THROW((void)run_step(ctx, p, o), Error);
  // The tables of a rejected call do not move: nothing was trained before the check.
  expect_bad_inputs_rejected(ctx, p);
  try {
    Problem b = p;
    b.tokens.back() = 99;
    (void)run_step(ctx, b, SgnsOptions{});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position"), std::string::npos) << e.what();
  }
}

// Two groups of items that only co-occur within their group: after training, items are closer (cosine) to their
// own group than to the other.
double group_margin(const std::vector<float>& in, int vocab, int dim) {
  auto cosine = [&](int a, int b) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < dim; ++d) {
      const double x = in[static_cast<std::size_t>(a * dim + d)], y = in[static_cast<std::size_t>(b * dim + d)];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    return ab / std::sqrt(aa * bb + 1e-30);
  };
  double same = 0, other = 0;
  int ns = 0, no = 0;
  for (int a = 0; a < vocab; ++a) {
    for (int b = a + 1; b < vocab; ++b) {
      if ((a % 2) == (b % 2)) {
        same += cosine(a, b);
        ++ns;
      } else {
        other += cosine(a, b);
        ++no;
      }
    }
  }
  return same / ns - other / no;
}

Problem planted_groups(std::uint64_t seed) {
  Problem p;
  p.vocab = 40;
  p.dim = 32;
  p.input = testing::random_floats(40 * 32, -0.5f / 32, 0.5f / 32, seed);
  p.output.assign(40 * 32, 0.0f);
  PhiloxStream rng(seed, 1);
  p.offsets.push_back(0);
  p.counts.assign(40, 0);
  for (int s = 0; s < 3000; ++s) {
    const std::uint32_t group = s % 2;
    for (int i = 0; i < 8; ++i) {
      const auto t = static_cast<std::int32_t>(2 * uniform_below(rng.next_u32(), 20) + group);
      p.tokens.push_back(t);
      ++p.counts[static_cast<std::size_t>(t)];
    }
    p.offsets.push_back(static_cast<std::int64_t>(p.tokens.size()));
  }
  p.alias = build_alias_table(p.counts, 0.75);
  return p;
}

TEST(SkipgramCpu, TrainingFindsPlantedGroups) {
  const Problem p = planted_groups(5);
  Context ctx(Device::cpu());
  SgnsOptions o;
  o.learning_rate = 0.025f;
  const double before = group_margin(p.input, 40, 32);
  const StepResult r = run_step(ctx, p, o, 5);
  const double after = group_margin(r.input, 40, 32);
  EXPECT_LT(std::abs(before), 0.1);
  EXPECT_GT(after, 0.3) << "cosine margin between own and other group";
}

TEST(SkipgramCuda, SequentialMatchesCpuAndHogwildLearns) {
  RECKON_SKIP_WITHOUT_CUDA();
  const Problem p = make_problem(300, 100, 60, 21);
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  SgnsOptions o;
  o.window = 4;
  o.negatives = 5;
  o.learning_rate = 0.05f;
  o.schedule = SgnsSchedule::kSequential;
  o.compute_loss = true;
  const StepResult a = run_step(cpu, p, o, 2), b = run_step(gpu, p, o, 2);
  EXPECT_EQ(a.stats.pairs, b.stats.pairs);
  EXPECT_NEAR(a.stats.loss, b.stats.loss, 1e-4 * a.stats.loss);
  EXPECT_TRUE(testing::all_close(b.input, a.input, {1e-4, 1e-6}));
  EXPECT_TRUE(testing::all_close(b.output, a.output, {1e-4, 1e-6}));
  const Problem g = planted_groups(5);
  SgnsOptions h;
  EXPECT_GT(group_margin(run_step(gpu, g, h, 5).input, 40, 32), 0.3);
  Problem bad = p;
  bad.tokens[7] = 300;
  EXPECT_THROW((void)run_step(gpu, bad, o), Error);
  bad = p;
  bad.offsets.back() += 1;
  EXPECT_THROW((void)run_step(gpu, bad, o), Error);
  // Validated on the device before any row moves: the tables of a rejected call are untouched, as on the CPU.
  expect_bad_inputs_rejected(gpu, make_problem(20, 8, 10, 3));
}

// Sequential steps against the CPU at every register width of the warp kernel (D of 1 lane to 16 per lane), and a
// Hogwild run over a million tokens: the same pairs as the CPU (pairs and negatives do not depend on the device),
// finite tables.
TEST(SkipgramCuda, SequentialAcrossDimsAndAMillionTokenHogwildRun) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  SgnsOptions o;
  o.window = 3;
  o.negatives = 4;
  o.learning_rate = 0.025f;
  o.schedule = SgnsSchedule::kSequential;
  o.compute_loss = true;
  for (const int D : {1, 32, 129, 256, 300, 512}) {
    SCOPED_TRACE("D = " + std::to_string(D));
    const Problem p = make_problem(200, D, 30, 40 + static_cast<std::uint64_t>(D));
    const StepResult a = run_step(cpu, p, o), b = run_step(gpu, p, o);
    EXPECT_EQ(a.stats.pairs, b.stats.pairs);
    EXPECT_NEAR(a.stats.loss, b.stats.loss, 1e-4 * a.stats.loss);
    EXPECT_TRUE(testing::all_close(b.input, a.input, {1e-4, 1e-6}));
    EXPECT_TRUE(testing::all_close(b.output, a.output, {1e-4, 1e-6}));
  }
  Problem big = make_problem(5000, 64, 1, 77);
  while (big.tokens.size() < 1'000'000) {
    const Problem more = make_problem(5000, 64, 20000, 78 + big.tokens.size());
    const auto base = static_cast<std::int64_t>(big.tokens.size());
    big.tokens.insert(big.tokens.end(), more.tokens.begin(), more.tokens.end());
    for (std::size_t s = 1; s < more.offsets.size(); ++s) big.offsets.push_back(base + more.offsets[s]);
  }
  SgnsOptions h;
  h.compute_loss = true;
  const StepResult a = run_step(cpu, big, h), b = run_step(gpu, big, h);
  EXPECT_EQ(a.stats.pairs, b.stats.pairs);
  EXPECT_TRUE(std::isfinite(b.stats.loss));
  for (const float x : b.input) ASSERT_TRUE(std::isfinite(x));
  for (const float x : b.output) ASSERT_TRUE(std::isfinite(x));
}
}  // namespace
}  // namespace reckon
