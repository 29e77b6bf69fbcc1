// Skip-gram with negative sampling (word2vec, Mikolov et al. 2013), for words and for items in sessions (item2vec).
//
// One step trains on a batch of sentences (tokens i32 [N], sentence_offsets i64 [S + 1]) that are already
// subsampled (subsample_sentences below). For each center position c, in order:
//   r = 1 + uniform_below(draw, window)                       the dynamic window, as word2vec.c
//   for each context position j in the same sentence with 0 < |j − c| <= r, left to right:
//     targets: the context token (label 1), then `negatives` tokens from the unigram^α alias table (label 0; a
//     negative equal to the context is skipped, as word2vec.c does)
//     for each target t:  f = <in[center], out[t]>,  g = lr · (label − σ(f))
//                         e += g · out[t];  out[t] += g · in[center]
//     in[center] += e                                           (after each context)
// All draws for center c come from Philox(seed, stream) starting at counter c · 2^11, in that order: the radius,
// then one word per negative (its bucket from the high half of word · V, the alias accept test from the low half). So the pairs and negatives are a function of
// (seed, stream, batch), whatever the device, thread count or schedule.
//
// Schedules and determinism:
//   kSequential: centers in order, one at a time (CPU: one thread; CUDA: one warp). The reference; run to run
//                bitwise on each device (on the CPU, on each instruction set: the routine used is picked from
//                the CPU and D); CPU and CUDA agree to float tolerance (dot products are summed in a different
//                order: vector partial sums with fused multiply-adds on AVX2/AVX-512 CPUs, eight partial sums
//                without fma on others, a warp tree on the GPU).
//   kHogwild:    centers in parallel with unsynchronised updates of shared rows (word2vec.c's threads; on CUDA
//                one warp per center). Not reproducible bit for bit; statistically the same training.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

inline constexpr int kSgnsMaxWindow = 64;
inline constexpr int kSgnsMaxNegatives = 15;
inline constexpr int kSgnsMaxDim = 512;

// Walker's alias table for drawing k with probability ∝ counts[k]^alpha: bucket b uniform in [0, V); keep b with
// probability prob[b], else take alias[b]. Items with count 0 are never drawn.
struct AliasTable {
  std::vector<float> prob;
  std::vector<std::int32_t> alias;
};
AliasTable build_alias_table(std::span<const std::int64_t> counts, double alpha);

// word2vec.c's subsampling: an item of relative frequency f is kept with probability min(1, √(t/f) + t/f);
// threshold t <= 0 keeps everything.
std::vector<float> subsample_keep_probability(std::span<const std::int64_t> counts, double threshold);

// Host-side subsampling of a batch: token i is kept when uniform(Philox(seed, stream), i) < keep[token]. Sentences
// keep their boundaries (possibly empty). Throws kOutOfRange for a token outside [0, keep.size()). Large batches
// are drawn by `threads` threads (<= 0: all); the result does not depend on the thread count.
void subsample_sentences(std::span<const std::int32_t> tokens, std::span<const std::int64_t> offsets,
                         std::span<const float> keep, std::uint64_t seed, std::uint64_t stream,
                         std::vector<std::int32_t>& kept_tokens, std::vector<std::int64_t>& kept_offsets,
                         int threads = 0);

enum class SgnsSchedule : std::uint8_t { kHogwild, kSequential };

struct SgnsOptions {
  int window = 5;
  int negatives = 5;
  float learning_rate = 0.025f;
  std::uint64_t seed = 1;
  std::uint64_t stream = 0;  // one per batch: the trainer counts batches
  SgnsSchedule schedule = SgnsSchedule::kHogwild;
  bool compute_loss = false;  // the loss costs a logarithm per target; the trainer asks for it now and then
  // CPU Hogwild with several threads: output rows [0, private_output_rows) are trained in per-thread copies that
  // are merged into the table every 64 centers of a thread and at the end of the step (other threads' updates
  // arrive late; two merges racing on a row may lose one, as Hogwild's unsynchronised writes may). Pass the most
  // frequent items (a vocabulary sorted by count): shared, their rows are written by every thread many times a
  // millisecond and their cache lines bounce between the cores. Ignored with one thread and by the CUDA step.
  std::int64_t private_output_rows = 0;
};

struct SgnsStats {
  std::int64_t pairs = 0;       // (center, context) pairs trained
  std::int64_t loss_pairs = 0;  // the pairs of the steps that computed the loss
  double loss = 0.0;            // Σ over targets of −log σ(±f), over the steps with compute_loss
};

// SgnsStats summed over sgns_step calls where the tables live, so a step never waits for the host. read() is a
// host read: it synchronises the context (and so raises a device error recorded since, runtime/context.h).
class SgnsTotals {
 public:
  explicit SgnsTotals(Context& ctx);
  SgnsStats read();
  void clear();
  void* data() const { return sums_.data<std::int64_t>(); }  // pairs, loss_pairs (u64), loss (f64)

 private:
  Context* ctx_;
  Tensor sums_;
};

// input_vectors, output_vectors: f32 [V, D] (D <= kSgnsMaxDim); tokens: i32 [N]; sentence_offsets: i64 [S + 1]
// (0 = offsets[0] <= ... <= offsets[S] = N); alias_prob f32 [V], alias_index i32 [V]. All on the context's device.
// Out-of-range tokens, malformed offsets or a bad alias entry are errors (kOutOfRange / kInvalidArgument) naming
// the first bad position, raised at once on the CPU and at the next synchronisation on a GPU; either way nothing is
// trained and nothing outside the tables is read or written. The step's pairs and loss are added to `totals`.
void sgns_step(Context& ctx, const TensorView& input_vectors, const TensorView& output_vectors,
               const TensorView& tokens, const TensorView& sentence_offsets, const TensorView& alias_prob,
               const TensorView& alias_index, const SgnsOptions& options, SgnsTotals* totals = nullptr);

}  // namespace reckon
