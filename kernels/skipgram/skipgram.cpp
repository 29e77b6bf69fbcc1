#include "reckon/kernels/skipgram/skipgram.h"

#include <omp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "reckon/config.h"
#include "reckon/kernels/skipgram/skipgram_impl.h"
#include "reckon/kernels/skipgram/skipgram_math.h"
#include "reckon/runtime/detail/device_errors.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/error.h"

namespace reckon {

AliasTable build_alias_table(std::span<const std::int64_t> counts, double alpha) {
  const auto n = static_cast<std::int64_t>(counts.size());
  RECKON_CHECK_ARG(n > 0 && n < (std::int64_t{1} << 31), "alias table over ", n, " items");
  RECKON_CHECK_ARG(std::isfinite(alpha), "alias table exponent must be finite");
  std::vector<double> weight(static_cast<std::size_t>(n));
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    RECKON_CHECK_ARG(counts[static_cast<std::size_t>(i)] >= 0, "negative count for item ", i);
    const auto c = static_cast<double>(counts[static_cast<std::size_t>(i)]);
    weight[static_cast<std::size_t>(i)] = c > 0 ? std::pow(c, alpha) : 0.0;
    total += weight[static_cast<std::size_t>(i)];
  }
  RECKON_CHECK_ARG(total > 0, "alias table: every count is zero");
  // Vose's method: scaled weights n·w/W; buckets under 1 take the remainder from one over 1.
  AliasTable t;
  t.prob.assign(static_cast<std::size_t>(n), 1.0f);
  t.alias.resize(static_cast<std::size_t>(n));
  std::iota(t.alias.begin(), t.alias.end(), 0);
  std::vector<double> scaled(static_cast<std::size_t>(n));
  std::vector<std::int32_t> small, large;
  for (std::int64_t i = 0; i < n; ++i) {
    scaled[static_cast<std::size_t>(i)] = weight[static_cast<std::size_t>(i)] * static_cast<double>(n) / total;
    (scaled[static_cast<std::size_t>(i)] < 1.0 ? small : large).push_back(static_cast<std::int32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::int32_t s = small.back(), l = large.back();
    small.pop_back();
    t.prob[static_cast<std::size_t>(s)] = static_cast<float>(scaled[static_cast<std::size_t>(s)]);
    t.alias[static_cast<std::size_t>(s)] = l;
    scaled[static_cast<std::size_t>(l)] -= 1.0 - scaled[static_cast<std::size_t>(s)];
    if (scaled[static_cast<std::size_t>(l)] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding; a zero-weight item must never be kept, so give it to a positive one.
  for (std::int32_t s : small) {
    if (weight[static_cast<std::size_t>(s)] == 0.0 && !large.empty()) {
      t.prob[static_cast<std::size_t>(s)] = 0.0f;
      t.alias[static_cast<std::size_t>(s)] = large.front();
    }
  }
  return t;
}

std::vector<float> subsample_keep_probability(std::span<const std::int64_t> counts, double threshold) {
  std::vector<float> keep(counts.size(), 1.0f);
  if (threshold <= 0) return keep;
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  if (total <= 0) return keep;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0) continue;
    const double ratio = threshold / (static_cast<double>(counts[i]) / total);
    keep[i] = static_cast<float>(std::min(1.0, std::sqrt(ratio) + ratio));
  }
  return keep;
}

void subsample_sentences(std::span<const std::int32_t> tokens, std::span<const std::int64_t> offsets,
                         std::span<const float> keep, std::uint64_t seed, std::uint64_t stream,
                         std::vector<std::int32_t>& kept_tokens, std::vector<std::int64_t>& kept_offsets, int threads) {
  RECKON_CHECK_ARG(
      !offsets.empty() && offsets.front() == 0 && offsets.back() == static_cast<std::int64_t>(tokens.size()),
      "sentence offsets must run from 0 to the token count");
  const auto S = static_cast<std::int64_t>(offsets.size()) - 1;
  for (std::int64_t s = 0; s < S; ++s) {
    RECKON_CHECK_ARG(offsets[static_cast<std::size_t>(s)] <= offsets[static_cast<std::size_t>(s) + 1],
                     "sentence offsets decrease at sentence ", s);
  }
  const auto V = static_cast<std::int64_t>(keep.size());
  const auto N = static_cast<std::int64_t>(tokens.size());
  // Chunks of whole sentences of about equal token counts, subsampled in parallel: the result is the sequential one
  // (each position has its own Philox word). A GPU batch is millions of tokens, which one thread would take tens of
  // milliseconds to draw for.
  if (threads <= 0) threads = omp_get_max_threads();
  const std::int64_t chunks = N < (std::int64_t{1} << 16) ? 1 : std::min<std::int64_t>(4 * threads, S);
  std::vector<std::int64_t> chunk_first(static_cast<std::size_t>(chunks) + 1, S);
  chunk_first[0] = 0;
  for (std::int64_t c = 1; c < chunks; ++c) {
    const std::int64_t target = N / chunks * c;
    chunk_first[static_cast<std::size_t>(c)] =
        std::upper_bound(offsets.begin(), offsets.end() - 1, target) - offsets.begin() - 1;
    chunk_first[static_cast<std::size_t>(c)] =
        std::max(chunk_first[static_cast<std::size_t>(c)], chunk_first[static_cast<std::size_t>(c) - 1]);
  }
  // Each chunk writes its kept tokens where its own tokens start (it keeps at most that many), then the chunks are
  // moved down in order. kept_tokens is the caller's, reused batch after batch, so nothing is allocated per call.
  kept_tokens.resize(static_cast<std::size_t>(N));
  kept_offsets.assign(static_cast<std::size_t>(S) + 1, 0);
  std::vector<std::int64_t> chunk_kept(static_cast<std::size_t>(chunks), 0);
  std::int64_t bad = N;  // the first token outside [0, V)
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) reduction(min : bad) if (chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t first = chunk_first[static_cast<std::size_t>(c)],
                       last = chunk_first[static_cast<std::size_t>(c) + 1];
    const std::int64_t begin = offsets[static_cast<std::size_t>(first)];
    std::int64_t at = begin;
    for (std::int64_t s = first; s < last; ++s) {
      for (std::int64_t i = offsets[static_cast<std::size_t>(s)]; i < offsets[static_cast<std::size_t>(s) + 1]; ++i) {
        const std::int32_t t = tokens[static_cast<std::size_t>(i)];
        if (t < 0 || t >= V) {
          bad = std::min(bad, i);
          continue;
        }
        const float u = uniform_from_bits(philox_word(seed, stream, static_cast<std::uint64_t>(i)));
        if (u < keep[static_cast<std::size_t>(t)]) kept_tokens[static_cast<std::size_t>(at++)] = t;
      }
      kept_offsets[static_cast<std::size_t>(s) + 1] = at - begin;  // within the chunk, for now
    }
    chunk_kept[static_cast<std::size_t>(c)] = at - begin;
  }
  if (bad < N) {
    kept_tokens.clear();
    kept_offsets.assign(1, 0);
    RECKON_THROW(StatusCode::kOutOfRange, "token ", tokens[static_cast<std::size_t>(bad)], " at position ", bad,
                 " outside [0, ", V, ")");
  }
  std::int64_t base = 0;
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t first = chunk_first[static_cast<std::size_t>(c)],
                       last = chunk_first[static_cast<std::size_t>(c) + 1];
    const std::int64_t from = offsets[static_cast<std::size_t>(first)], count = chunk_kept[static_cast<std::size_t>(c)];
    if (from != base && count > 0) {
      std::memmove(kept_tokens.data() + base, kept_tokens.data() + from, static_cast<std::size_t>(count) * 4);
    }
    for (std::int64_t s = first; s < last; ++s) kept_offsets[static_cast<std::size_t>(s) + 1] += base;
    base += count;
  }
  kept_tokens.resize(static_cast<std::size_t>(base));
}

namespace {

// How often (in centers of one thread) the private output rows are merged into the table: 64 centers are about
// 2,000 row updates. On text8 with 2 threads, 256 private rows merged every 64 centers train as fast as 1,024
// rows every 256 centers, with staler copies for a shorter time (docs/ITEM2VEC.md has the quality figures).
constexpr std::int64_t kSgnsMergeCenters = 64;

// Dot product with eight partial sums (vectorises without reassociation: one SIMD register of partials), the tail
// summed apart so the partials never leave registers; combined in a fixed order.
inline float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int d = 0;
  for (; d + 8 <= n; d += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[d + k] * b[d + k];
  }
  float tail = 0.0f;
  for (; d < n; ++d) tail += a[d] * b[d];
  return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + tail;
}

// Where a thread finds output row t: in its own copy for t < private_rows (see sgns_cpu), else in the table.
struct OutputRows {
  float* table;
  float* private_copy;
  std::int64_t private_rows;
  std::int64_t dim;
  float* row(std::int32_t t) const {
    return (t < private_rows ? private_copy : table) + static_cast<std::int64_t>(t) * dim;
  }
};

// The targets of center c (see skipgram.h), drawn in their order: per context, the context then `negatives`
// draws (-1 marks a negative equal to the context, which is skipped). targets holds up to
// 2 · window · (negatives + 1) ids.
int plan_center(const detail::SgnsProblem& p, std::int64_t c, std::int32_t* targets) {
  const std::int64_t s = detail::sgns_sentence_of(p, c);
  const std::int64_t start = p.offsets[s], end = p.offsets[s + 1];
  PhiloxStream rng = detail::sgns_draws(p, c);
  const auto radius =
      static_cast<std::int64_t>(1 + uniform_below(rng.next_u32(), static_cast<std::uint32_t>(p.window)));
  int count = 0;
  for (std::int64_t j = std::max(start, c - radius); j <= std::min(end - 1, c + radius); ++j) {
    if (j == c) continue;
    const std::int32_t context = p.tokens[j];
    targets[count++] = context;
    for (int n = 1; n <= p.negatives; ++n) {
      const std::int32_t negative = detail::sgns_negative(p, rng);
      targets[count++] = negative == context ? -1 : negative;
    }
  }
  return count;
}

// The next center, planned while the current one trains: its rows are fetched a pair's worth at a time, so that
// they arrive in time without a burst of misses that would fill the core's line-fill buffers.
struct PlannedCenter {
  std::int64_t c = -1;  // -1: none
  const std::int32_t* targets = nullptr;
  int count = 0;
};

// Prefetches (for writing, where the caller's target has PREFETCHW: the rows will be written, and a plain
// prefetch brings a line shared, costing a second trip for lines another core also holds) the output rows of
// targets [begin, end) of a planned center, and its input row when begin is 0.
[[gnu::always_inline]] inline void prefetch_planned(const detail::SgnsProblem& p, const OutputRows& output,
                                                    const PlannedCenter& next, int begin, int end) {
  if (next.c < 0) return;
  const auto row_bytes = static_cast<std::int64_t>(p.dim) * 4;
  if (begin == 0) {
    const char* in = reinterpret_cast<const char*>(p.input + static_cast<std::int64_t>(p.tokens[next.c]) * p.dim);
    for (std::int64_t at = 0; at < row_bytes; at += 64) __builtin_prefetch(in + at, 1);
  }
  for (int i = begin; i < std::min(end, next.count); ++i) {
    if (next.targets[i] < 0) continue;
    const char* row = reinterpret_cast<const char*>(output.row(next.targets[i]));
    for (std::int64_t at = 0; at < row_bytes; at += 64) __builtin_prefetch(row + at, 1);
  }
}

// Training one center, the same on every instruction set. Within a (center, context) pair the center row does
// not change, so the scores of the pair's targets are independent of one another: they are computed together,
// then their gradients, then one pass over the columns moves every target row and keeps the error in a register.
// That is skipgram.h's one-target-at-a-time order exactly, bit for bit, unless a row appears twice among a pair's
// targets (a frequent negative drawn twice): the second must see the first's update, so the targets are taken in
// runs of distinct rows. Columns supplies dot(center, row, D) and update(...) for one instruction set.
template <class Columns>
[[gnu::always_inline]] inline void train_center_with(const detail::SgnsProblem& p, const OutputRows& output,
                                                     std::int64_t c, const std::int32_t* targets, int count,
                                                     const PlannedCenter& next, float* center, float* error,
                                                     std::int64_t& pairs, double& loss) {
  const int D = p.dim;
  float* in = p.input + static_cast<std::int64_t>(p.tokens[c]) * D;
  std::copy(in, in + D, center);
  const int per_context = p.negatives + 1;
  std::int32_t ids[kSgnsMaxNegatives + 1];
  float* rows[kSgnsMaxNegatives + 1];
  float scores[kSgnsMaxNegatives + 1];
  float gradients[kSgnsMaxNegatives + 1];
  for (int first = 0; first < count; first += per_context) {
    prefetch_planned(p, output, next, first, first + per_context);
    const std::int32_t* pair_targets = targets + first;  // the context, then its negatives (-1: skipped)
    bool fresh = true;                                   // the error row holds nothing of this pair yet
    for (int n = 0; n < per_context;) {
      const int run_start = n;
      int m = 0;
      for (; n < per_context; ++n) {
        const std::int32_t t = pair_targets[n];
        if (t < 0) continue;
        if (std::find(ids, ids + m, t) != ids + m) break;
        ids[m] = t;
        rows[m++] = output.row(t);
      }
      for (int k = 0; k < m; ++k) scores[k] = Columns::dot(center, rows[k], D);
      for (int k = 0; k < m; ++k) {
        const float label = run_start == 0 && k == 0 ? 1.0f : 0.0f;  // the context is the pair's first target
        gradients[k] = detail::sgns_gradient(scores[k], label, p.learning_rate);
        if (p.compute_loss) loss += detail::sgns_loss(scores[k], label);
      }
      Columns::update(center, error, rows, gradients, m, D, fresh, n == per_context);
      fresh = false;
    }
    ++pairs;
  }
  prefetch_planned(p, output, next, count, next.count);  // the next center's pairs beyond this one's
  std::copy(center, center + D, in);
}

// For every k < m: error += g[k] · rows[k] (its old value), rows[k] += g[k] · center; error starts at 0 when fresh;
// when last, center += error. Column by column, so each column's arithmetic is the one-target-at-a-time order's.
struct PortableColumns {
  static float dot(const float* center, const float* row, int D) { return reckon::dot(center, row, D); }
  static void update(float* center, float* error, float* const* rows, const float* g, int m, int D, bool fresh,
                     bool last) {
    update_columns(center, error, rows, g, m, 0, D, fresh, last);
  }
  // The same over columns [begin, end).
  static void update_columns(float* center, float* error, float* const* rows, const float* g, int m, int begin, int end,
                             bool fresh, bool last) {
    for (int d = begin; d < end; ++d) {
      const float c = center[d];
      float e = fresh ? 0.0f : error[d];
      for (int k = 0; k < m; ++k) {
        const float o = rows[k][d];
        e += g[k] * o;
        rows[k][d] = o + g[k] * c;
      }
      if (last) {
        center[d] = c + e;
      } else {
        error[d] = e;
      }
    }
  }
};

// Built for AVX-512, AVX2 and the baseline (auto-vectorised); the loader picks the best the CPU has.
__attribute__((target_clones("avx512f", "avx2", "default"))) void train_center(
    const detail::SgnsProblem& p, const OutputRows& output, std::int64_t c, const std::int32_t* targets, int count,
    const PlannedCenter& next, float* center, float* error, std::int64_t& pairs, double& loss) {
  train_center_with<PortableColumns>(p, output, c, targets, count, next, center, error, pairs, loss);
}

#if defined(__x86_64__)
// The intrinsic routines use fused multiply-adds and their own summation order (two vector partial sums, combined
// in a fixed tree), so they round differently from the portable one: runs are reproducible on one instruction
// set and agree with the portable path and the CUDA kernel to float tolerance.

// (v0 + v4, v1 + v5, ...) then pairs, then the last two: the order a lane array halved in place would give.
__attribute__((target("avx"), always_inline)) inline float sum_lanes(__m256 v) {
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}

// 64-byte vectors, for rows of whole vectors only (D % 16 == 0, e.g. 128; the caller checks).
struct Avx512Columns {
  __attribute__((target("avx512f"))) static float dot(const float* center, const float* row, int D) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int d = 0;
    for (; d + 32 <= D; d += 32) {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(center + d), _mm512_loadu_ps(row + d), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(center + d + 16), _mm512_loadu_ps(row + d + 16), acc1);
    }
    if (d < D) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(center + d), _mm512_loadu_ps(row + d), acc0);
    const __m512 v = _mm512_add_ps(acc0, acc1);
    // The halves through the masked extract: GCC 12 warns falsely on the undefined operand of the plain one (and
    // of _mm512_castps512_ps256, which uses it).
    const __m512d halves = _mm512_castps_pd(v);
    const __m256 low = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xFF, halves, 0));
    const __m256 high = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xFF, halves, 1));
    return sum_lanes(_mm256_add_ps(low, high));
  }
  __attribute__((target("avx512f"))) static void update(float* center, float* error, float* const* rows, const float* g,
                                                        int m, int D, bool fresh, bool last) {
    for (int d = 0; d < D; d += 16) {
      const __m512 c = _mm512_loadu_ps(center + d);
      __m512 e = fresh ? _mm512_setzero_ps() : _mm512_loadu_ps(error + d);
      for (int k = 0; k < m; ++k) {
        const __m512 gk = _mm512_set1_ps(g[k]);
        const __m512 o = _mm512_loadu_ps(rows[k] + d);
        e = _mm512_fmadd_ps(gk, o, e);
        _mm512_storeu_ps(rows[k] + d, _mm512_fmadd_ps(gk, c, o));
      }
      _mm512_storeu_ps(last ? center + d : error + d, last ? _mm512_add_ps(c, e) : e);
    }
  }
};

// 32-byte vectors (AVX2 + FMA) and a scalar tail, for other rows: a row of 100 floats is 400 bytes, so 64-byte
// loads would straddle cache lines in most rows; 32-byte ones straddle in few.
struct Avx2Columns {
  __attribute__((target("avx2,fma"))) static float dot(const float* center, const float* row, int D) {
    const int full = D / 8 * 8;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= full; d += 16) {
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(center + d), _mm256_loadu_ps(row + d), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(center + d + 8), _mm256_loadu_ps(row + d + 8), acc1);
    }
    if (d < full) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(center + d), _mm256_loadu_ps(row + d), acc0);
    float f = sum_lanes(_mm256_add_ps(acc0, acc1));
    for (d = full; d < D; ++d) f += center[d] * row[d];
    return f;
  }
  __attribute__((target("avx2,fma"))) static void update(float* center, float* error, float* const* rows,
                                                         const float* g, int m, int D, bool fresh, bool last) {
    const int full = D / 8 * 8;
    for (int d = 0; d < full; d += 8) {
      const __m256 c = _mm256_loadu_ps(center + d);
      __m256 e = fresh ? _mm256_setzero_ps() : _mm256_loadu_ps(error + d);
      for (int k = 0; k < m; ++k) {
        const __m256 gk = _mm256_set1_ps(g[k]);
        const __m256 o = _mm256_loadu_ps(rows[k] + d);
        e = _mm256_fmadd_ps(gk, o, e);
        _mm256_storeu_ps(rows[k] + d, _mm256_fmadd_ps(gk, c, o));
      }
      _mm256_storeu_ps(last ? center + d : error + d, last ? _mm256_add_ps(c, e) : e);
    }
    PortableColumns::update_columns(center, error, rows, g, m, full, D, fresh, last);
  }
};

// PREFETCHW ("prfchw") is on every CPU with AVX2 that we know of, and a no-op hint where it is not.
__attribute__((target("avx512f,prfchw"))) void train_center_avx512(
    const detail::SgnsProblem& p, const OutputRows& output, std::int64_t c, const std::int32_t* targets, int count,
    const PlannedCenter& next, float* center, float* error, std::int64_t& pairs, double& loss) {
  train_center_with<Avx512Columns>(p, output, c, targets, count, next, center, error, pairs, loss);
}

__attribute__((target("avx2,fma,prfchw"))) void train_center_avx2(
    const detail::SgnsProblem& p, const OutputRows& output, std::int64_t c, const std::int32_t* targets, int count,
    const PlannedCenter& next, float* center, float* error, std::int64_t& pairs, double& loss) {
  train_center_with<Avx2Columns>(p, output, c, targets, count, next, center, error, pairs, loss);
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
#endif

// Folds what this thread moved in its private rows since the last merge into the table, and takes the table's
// values (which carry the other threads' merges) as its new private rows. Merges take turns, so no update of a
// private row is ever lost: they cost about 10 µs (256 rows of 100 floats) every 64 centers (a few hundred µs).
void merge_private_rows(float* table, float* private_copy, float* snapshot, std::int64_t floats) {
#pragma omp critical(reckon_sgns_merge)
  for (std::int64_t i = 0; i < floats; ++i) {
    const float merged = table[i] + (private_copy[i] - snapshot[i]);
    table[i] = merged;
    private_copy[i] = merged;
    snapshot[i] = merged;
  }
}

SgnsStats sgns_cpu(Context& ctx, const detail::SgnsProblem& p, SgnsSchedule schedule, std::int64_t private_rows) {
  std::int64_t pairs = 0;
  double loss = 0.0;
  const int threads = schedule == SgnsSchedule::kSequential ? 1 : ctx.cpu_threads();
  // The most frequent items' output rows are written by every thread many times a millisecond; shared, each write
  // would take the row's cache lines from the other cores. With several threads each trains them in its own copy
  // and merges every kSgnsMergeCenters centers.
  if (threads == 1) private_rows = 0;
  private_rows = std::clamp<std::int64_t>(private_rows, 0, p.vocab);
#pragma omp parallel num_threads(threads) reduction(+ : pairs, loss)
  {
    std::vector<float> scratch(2 * static_cast<std::size_t>(p.dim));
    const std::size_t per_center = 2 * static_cast<std::size_t>(p.window) * static_cast<std::size_t>(p.negatives + 1);
    std::vector<std::int32_t> plans(2 * per_center);
    const auto private_floats = static_cast<std::size_t>(private_rows * p.dim);
    std::vector<float> private_copy(p.output, p.output + private_floats), snapshot(private_copy);
    const OutputRows output{p.output, private_copy.data(), private_rows, p.dim};
    // Contiguous chunks per thread, as word2vec.c splits its file: neighbouring centers share context rows. The
    // next center is drawn before the current one trains, which fetches its rows a pair at a time.
    const int team = omp_get_num_threads(), me = omp_get_thread_num();
    const std::int64_t begin = p.num_tokens * me / team, end = p.num_tokens * (me + 1) / team;
    int count = begin < end ? plan_center(p, begin, plans.data()) : 0;
    if (begin < end) prefetch_planned(p, output, {begin, plans.data(), count}, 0, count);
    for (std::int64_t c = begin; c < end; ++c) {
      std::int32_t* current = plans.data() + ((c - begin) % 2) * per_center;
      std::int32_t* next_targets = plans.data() + ((c - begin + 1) % 2) * per_center;
      PlannedCenter next;
      if (c + 1 < end) next = {c + 1, next_targets, plan_center(p, c + 1, next_targets)};
      float* center = scratch.data();
      float* error = scratch.data() + p.dim;
#if defined(__x86_64__)
      // 64-byte vectors when rows are whole vectors (D % 16 == 0, e.g. 128), 32-byte ones otherwise (e.g. 100).
      if (cpu_has_avx512() && p.dim % 16 == 0) {
        train_center_avx512(p, output, c, current, count, next, center, error, pairs, loss);
      } else if (cpu_has_avx2_fma()) {
        train_center_avx2(p, output, c, current, count, next, center, error, pairs, loss);
      } else {
        train_center(p, output, c, current, count, next, center, error, pairs, loss);
      }
#else
      train_center(p, output, c, current, count, next, center, error, pairs, loss);
#endif
      if (private_rows > 0 && (c - begin + 1) % kSgnsMergeCenters == 0) {
        merge_private_rows(p.output, private_copy.data(), snapshot.data(), private_rows * p.dim);
      }
      count = next.count;
    }
    if (private_rows > 0) merge_private_rows(p.output, private_copy.data(), snapshot.data(), private_rows * p.dim);
  }
  return {pairs, 0, loss};
}

void check_vectors(const Context& ctx, const TensorView& t, const char* name) {
  RECKON_CHECK_ARG(t.ndim == 2 && t.dtype == DType::kF32 && t.is_contiguous(), name,
                   " must be contiguous f32 [V, D], got ", t.shape_str());
  check_device(t, name, ctx.device());
}

struct SgnsCall {
  const detail::SgnsProblem& p;
  const SgnsOptions& o;
  SgnsTotals* totals;
  std::int64_t V;
};

void sgns_cuda(Context& ctx, const SgnsCall& call) {
#if RECKON_WITH_CUDA
  const detail::SgnsProblem& p = call.p;
  const SgnsOptions& o = call.o;
  SgnsTotals* totals = call.totals;
  const std::int64_t V = call.V;
  detail::sgns_step_cuda(ctx, p, o.schedule,
                         totals != nullptr ? static_cast<detail::SgnsDeviceTotals*>(totals->data()) : nullptr);
  detail::ErrorOperands operands;
  operands.op = detail::DeviceOp::kSgnsStep;
  operands.count = 3;
  operands.limit[detail::kSgnsOffsetsOperand] = p.num_tokens;
  operands.ids[detail::kSgnsTokensOperand] = p.tokens;
  operands.stride[detail::kSgnsTokensOperand] = 1;
  operands.limit[detail::kSgnsTokensOperand] = V;
  operands.limit[detail::kSgnsAliasOperand] = V;
  detail::resolve_device_error(ctx, operands);
  detail::after_device_op(ctx);
#else
  (void)ctx, (void)call;
#endif
}

void sgns_cpu_run(Context& ctx, const SgnsCall& call) {
  const detail::SgnsProblem& p = call.p;
  const SgnsOptions& o = call.o;
  SgnsTotals* totals = call.totals;
  const std::int64_t V = call.V;
  // The CPU validates everything before touching the tables, and raises what the device record would.
  detail::DeviceErrorRecord error;
  error.op = static_cast<std::int32_t>(detail::DeviceOp::kSgnsStep);
  for (std::int64_t s = 0; s <= p.num_sentences && error.key == detail::kNoDeviceError; ++s) {
    if (!detail::sgns_offset_valid(p, s)) {
      error.key = detail::device_error_key(detail::DeviceErrorKind::kMalformedOffsets, detail::kSgnsOffsetsOperand, s);
      error.limit = p.num_tokens;
    }
  }
  for (std::int64_t i = 0; i < p.num_tokens && error.key == detail::kNoDeviceError; ++i) {
    if (!detail::sgns_token_valid(p, p.tokens[i])) {
      error.key = detail::device_error_key(detail::DeviceErrorKind::kIndexOutOfRange, detail::kSgnsTokensOperand, i);
      error.value = p.tokens[i];
      error.limit = V;
    }
  }
  for (std::int64_t b = 0; b < V && error.key == detail::kNoDeviceError; ++b) {
    if (!detail::sgns_alias_entry_valid(p, b)) {
      error.key = detail::device_error_key(detail::DeviceErrorKind::kInvalidAliasEntry, detail::kSgnsAliasOperand, b);
    }
  }
  if (error.key != detail::kNoDeviceError) detail::throw_device_error(error, __FILE__, __LINE__);
  const SgnsStats step = sgns_cpu(ctx, p, o.schedule, o.private_output_rows);
  if (totals != nullptr) {
    auto* sums = static_cast<detail::SgnsDeviceTotals*>(totals->data());
    sums->pairs += static_cast<unsigned long long>(step.pairs);
    if (o.compute_loss) {
      sums->loss_pairs += static_cast<unsigned long long>(step.pairs);
      sums->loss += step.loss;
    }
  }
}

const auto kSgns = cuda_then_cpu<SgnsCall>(
    "sgns_step", "cuda_warp_per_center", "a CUDA context; D <= 512 (a warp per center, rows in registers)", sgns_cuda,
    sgns_cpu_run);

}  // namespace


SgnsTotals::SgnsTotals(Context& ctx) : ctx_(&ctx), sums_(Tensor::empty(ctx, DType::kI64, {3})) { clear(); }

void SgnsTotals::clear() {
  const detail::SgnsDeviceTotals zero{0, 0, 0.0};
  static_assert(sizeof(zero) == 3 * sizeof(std::int64_t));
  // A pageable source is staged before the copy call returns.
  copy_bytes(*ctx_, sums_.data<std::int64_t>(), ctx_->device(), &zero, Device::cpu(), sizeof(zero));
}

SgnsStats SgnsTotals::read() {
  detail::SgnsDeviceTotals host{};
  copy_bytes(*ctx_, &host, Device::cpu(), sums_.data<std::int64_t>(), ctx_->device(), sizeof(host));
  ctx_->synchronize();
  return {static_cast<std::int64_t>(host.pairs), static_cast<std::int64_t>(host.loss_pairs), host.loss};
}

void sgns_step(Context& ctx, const TensorView& input_vectors, const TensorView& output_vectors,
               const TensorView& tokens, const TensorView& sentence_offsets, const TensorView& alias_prob,
               const TensorView& alias_index, const SgnsOptions& o, SgnsTotals* totals) {
  check_vectors(ctx, input_vectors, "input_vectors");
  check_vectors(ctx, output_vectors, "output_vectors");
  const std::int64_t V = input_vectors.size(0), D = input_vectors.size(1);
  check_shape(output_vectors, "output_vectors", {V, D});
  RECKON_CHECK_ARG(V >= 1 && V < (std::int64_t{1} << 31), "vocabulary of ", V, " items");
  RECKON_CHECK_ARG(D >= 1 && D <= kSgnsMaxDim, "dimension ", D, " outside [1, ", kSgnsMaxDim, "]");
  RECKON_CHECK_ARG(o.window >= 1 && o.window <= kSgnsMaxWindow, "window ", o.window, " outside [1, ", kSgnsMaxWindow,
                   "]");
  RECKON_CHECK_ARG(o.negatives >= 0 && o.negatives <= kSgnsMaxNegatives, "negatives ", o.negatives, " outside [0, ",
                   kSgnsMaxNegatives, "]");
  RECKON_CHECK_ARG(std::isfinite(o.learning_rate), "learning rate must be finite");
  RECKON_CHECK_ARG(tokens.ndim == 1 && tokens.dtype == DType::kI32 && tokens.is_contiguous(),
                   "tokens must be contiguous i32 [N], got ", tokens.shape_str());
  RECKON_CHECK_ARG(sentence_offsets.ndim == 1 && sentence_offsets.dtype == DType::kI64 &&
                       sentence_offsets.is_contiguous() && sentence_offsets.size(0) >= 1,
                   "sentence_offsets must be contiguous i64 [S + 1], got ", sentence_offsets.shape_str());
  check_shape(alias_prob, "alias_prob", {V});
  check_dtype(alias_prob, "alias_prob", DType::kF32);
  check_shape(alias_index, "alias_index", {V});
  check_dtype(alias_index, "alias_index", DType::kI32);
  for (const TensorView* t : {&tokens, &sentence_offsets, &alias_prob, &alias_index})
    check_device(*t, "sgns tensor", ctx.device());

  detail::SgnsProblem p{};
  p.input = static_cast<float*>(input_vectors.data);
  p.output = static_cast<float*>(output_vectors.data);
  p.tokens = static_cast<const std::int32_t*>(tokens.data);
  p.offsets = static_cast<const std::int64_t*>(sentence_offsets.data);
  p.alias_prob = static_cast<const float*>(alias_prob.data);
  p.alias_index = static_cast<const std::int32_t*>(alias_index.data);
  p.vocab = V;
  p.num_tokens = tokens.size(0);
  p.num_sentences = sentence_offsets.size(0) - 1;
  p.dim = static_cast<int>(D);
  p.window = o.window;
  p.negatives = o.negatives;
  p.learning_rate = o.learning_rate;
  p.seed = o.seed;
  p.stream = o.stream;
  p.compute_loss = o.compute_loss;
  if (p.num_tokens == 0) return;
  RECKON_CHECK_ARG(p.num_sentences >= 1, "tokens without sentences");

  dispatch(ctx, kSgns, SgnsCall{p, o, totals, V});
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> skipgram_ops() { return {describe(kSgns)}; }
}  // namespace reckon::detail
