// Layers: the pieces models are composed from. Each owns its parameters and their optimizer state, runs on the
// context's device through the kernels, and gives
//   forward(...)             outputs into views the model passes (from its ActivationArena: no allocation in a step)
//   backward(...)            gradients of its inputs and of its parameters (kept in the layer until update)
//   update(...)              one optimizer step of its parameters, in a ParameterGroup (FieldEmbedding's is fused
//                            into its backward: only the rows of the batch move)
//   parameters(), optimizer_state()   named views, in a fixed order, for checkpoints
// Every op is enqueued on the context's stream; nothing synchronises the host.
//
// Initial values come from Philox streams the caller names (one per tensor), so a model decides the order in which
// its seed's streams are drawn (ctx.next_rng_stream()) and keeps it when it is recomposed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/optim/optimizer.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/step_clock.h"
#include "reckon/runtime/tensor.h"

namespace reckon::layers {

struct NamedTensor {
  std::string name;
  TensorView view;
};

// The parameters that step together: one optimizer setting and one clock (learning rate, step, Adam's corrections
// and the step's dropout streams, kept where the step runs). Layers take the group's settings with their own weight
// decay: Adam's is decoupled (AdamW), the others' is L2 on the gradient.
class ParameterGroup {
 public:
  ParameterGroup() = default;
  // optimizer.learning_rate is the clock's starting rate; rng_streams_per_step: dropout layers using this clock.
  ParameterGroup(Context& ctx, const Optimizer& optimizer, std::uint64_t rng_streams_per_step = 0);
  // The step's scalars: call once per training step, before the step's ops.
  void advance(Context& ctx) const { clock_.advance(ctx); }
  void set_learning_rate(Context& ctx, float rate);
  const StepClock& clock() const { return clock_; }
  OptimizerKind kind() const { return optimizer_.kind; }
  // The settings of one update: the group's, read from its clock, with this weight decay.
  Optimizer settings(float weight_decay) const;

 private:
  Optimizer optimizer_;
  StepClock clock_;
};

// A dense parameter with its gradient and two moments (Adam's m and v; Adagrad keeps its sum of squares in m).
struct DenseParameter {
  DenseParameter() = default;
  // Uniform in [-bound, bound] from Philox stream `stream` (bound 0: zeros); gradient and moments zero.
  DenseParameter(Context& ctx, std::string name, std::initializer_list<std::int64_t> sizes, float bound,
                 std::uint64_t stream);
  void update(Context& ctx, const ParameterGroup& group, float weight_decay = 0.0f) const;
  std::string name;
  Tensor value, grad, m, v;
};

// y[B, out] = act(x[B, in] · W[in, out] + b[out]); Glorot-uniform W, zero b. ReLU and the bias are fused into the
// product where the kernel fuses them.
class Linear {
 public:
  Linear(Context& ctx, const std::string& name, std::int64_t in, std::int64_t out, Activation activation,
         std::uint64_t weight_stream, std::uint64_t bias_stream);
  void forward(Context& ctx, const TensorView& x, const TensorView& y, DenseMath math = DenseMath::kF32) const;
  // dy: the gradient of the layer's pre-activation output (a ReLU's backward is its caller's, which holds y). Writes
  // the parameter gradients and dx = dy · Wᵀ, added into dx when accumulate_dx (an input feeding two branches).
  void backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx, bool accumulate_dx,
                DenseMath math = DenseMath::kF32) const;
  // weight_decay applies to W only, never to b.
  void update(Context& ctx, const ParameterGroup& group, float weight_decay) const;
  std::int64_t in() const { return in_; }
  std::int64_t out() const { return out_; }
  Activation activation() const { return activation_; }
  void append_parameters(std::vector<NamedTensor>& out) const;
  void append_optimizer_state(std::vector<NamedTensor>& out) const;

 private:
  std::int64_t in_, out_;
  Activation activation_;
  DenseParameter weight_, bias_;
};

// Inverted dropout in place, its mask from stream `index` of the clock's current step (so a replayed CUDA graph
// draws a new mask every step); the backward regenerates the same mask.
class Dropout {
 public:
  Dropout(float rate, std::uint64_t index) : rate_(rate), index_(index) {}
  void forward(Context& ctx, const TensorView& data, const StepClock& clock) const;
  void backward(Context& ctx, const TensorView& diff, const StepClock& clock) const;
  float rate() const { return rate_; }

 private:
  float rate_;
  std::uint64_t index_;
};

class ActivationArena;

// Hidden ReLU layers (each followed by dropout when rate > 0, its stream index = the layer's) and a linear output
// layer. Hidden activations and their gradients live in the model's arena.
class Mlp {
 public:
  // Weights and biases draw ctx.next_rng_stream() in layer order (weight, then bias).
  Mlp(Context& ctx, const std::string& name, std::int64_t in, const std::vector<int>& hidden, std::int64_t out,
      float dropout, ActivationArena& arena);
  void forward(Context& ctx, const TensorView& x, const TensorView& y, bool training, const StepClock& clock,
               DenseMath math) const;
  // dx (optional: empty view for none) receives, or with accumulate_dx has added, the input's gradient.
  void backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx, bool accumulate_dx,
                const StepClock& clock, DenseMath math) const;
  void update(Context& ctx, const ParameterGroup& group, float weight_decay) const;
  std::size_t hidden_layers() const { return layers_.size() - 1; }
  void append_parameters(std::vector<NamedTensor>& out) const;
  void append_optimizer_state(std::vector<NamedTensor>& out) const;

 private:
  TensorView hidden(std::size_t l, std::int64_t batch) const;
  TensorView d_hidden(std::size_t l, std::int64_t batch) const;
  std::vector<Linear> layers_;
  std::vector<Dropout> dropouts_;  // one per hidden layer (rate 0: none)
  std::vector<int> hidden_slots_, d_hidden_slots_;
  const ActivationArena* arena_;
};

// One table per field, each row beside its optimizer state in one interleaved block ([row | m | v] for Adam), so a
// sparse update touches one contiguous run of memory. Pooled bags in; the optimizer fused into the backward.
class FieldEmbedding {
 public:
  // rows[f] rows of `dim` per field; N(0, init_stddev²) from streams[f] (init_stddev 0: zeros, streams unused).
  FieldEmbedding(Context& ctx, const std::string& name, const std::vector<std::int64_t>& rows, std::int64_t dim,
                 OptimizerKind optimizer, float init_stddev, std::span<const std::uint64_t> streams);
  // out[B, F, dim]: field f's bag of sample b, pooled by sum (with the bags' per-sample weights).
  void forward(Context& ctx, std::span<const EmbeddingBags> bags, const TensorView& out) const;
  // The rows of the batch step along diff[B, F, dim], with L2 weight_decay on those rows.
  void backward_update(Context& ctx, std::span<const EmbeddingBags> bags, const TensorView& diff,
                       const ParameterGroup& group, float weight_decay) const;
  std::int64_t dim() const { return dim_; }
  void append_parameters(std::vector<NamedTensor>& out) const;
  void append_optimizer_state(std::vector<NamedTensor>& out) const;

 private:
  std::string name_;
  std::int64_t dim_;
  std::vector<Tensor> blocks_;  // per field: [rows, stride]
  std::vector<TensorView> tables_;
  std::vector<EmbeddingOptimizerState> states_;
};

// y[B] = b + Σ_f x[B, f] (one product with a ones vector, which also adds b): the first-order term of LR, FM and
// DeepFM over a dim-1 FieldEmbedding.
class FieldSum {
 public:
  FieldSum(Context& ctx, const std::string& name, std::int64_t fields, std::uint64_t bias_stream);
  void forward(Context& ctx, const TensorView& x, const TensorView& y) const;  // x [B, F], y [B, 1]
  void backward(Context& ctx, const TensorView& dy, const TensorView& dx) const;  // dy [B, 1] -> dx [B, F], db
  void update(Context& ctx, const ParameterGroup& group) const;
  void append_parameters(std::vector<NamedTensor>& out) const;
  void append_optimizer_state(std::vector<NamedTensor>& out) const;

 private:
  Tensor ones_;  // [F, 1]
  DenseParameter bias_;
};

// The factorisation machine's pairwise term over field vectors (no parameters of its own).
struct FmInteraction {
  static void forward(Context& ctx, const TensorView& fields, const TensorView& out);  // [B, F, K] -> [B]
  // diff_fields[B, F, K] = ∂(Σ_b diff_out[b] · out[b]) / ∂fields
  static void backward(Context& ctx, const TensorView& fields, const TensorView& diff_out,
                       const TensorView& diff_fields);
};

// Sigmoid and binary cross-entropy on logits: the summed loss, the logits' gradient (scaled, e.g. 1/B for a mean),
// and the probabilities (each optional where the kernel allows).
struct SigmoidBce {
  static void forward_backward(Context& ctx, const TensorView& logits, const TensorView& labels,
                               const TensorView& loss_sum, const TensorView& diff_logits, float scale,
                               const TensorView& probabilities);
};

}  // namespace reckon::layers
