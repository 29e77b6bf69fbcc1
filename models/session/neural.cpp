#include "reckon/models/session/neural.h"

#include <cstddef>

#include "reckon/models/session/evaluate.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"

namespace reckon::session {
namespace {

using Snapshot = std::vector<std::vector<std::byte>>;

// The bytes a view spans, from its first element to its last: an embedding table's rows interleave their optimizer
// state (layers.h), so a parameter view is strided and its span holds that state too.
std::size_t span_bytes(const TensorView& v) {
  if (v.numel() == 0) return 0;
  std::int64_t last = 0;
  for (int d = 0; d < v.ndim; ++d) last += (v.size(d) - 1) * v.stride(d);
  return static_cast<std::size_t>(last + 1) * dtype_size(v.dtype);
}

Snapshot take_snapshot(Context& ctx, const std::vector<layers::NamedTensor>& state) {
  Snapshot out;
  for (const layers::NamedTensor& t : state) {
    out.emplace_back(span_bytes(t.view));
    copy_bytes(ctx, out.back().data(), Device::cpu(), t.view.data, ctx.device(), out.back().size());
  }
  ctx.synchronize();
  return out;
}

void restore(Context& ctx, const std::vector<layers::NamedTensor>& state, const Snapshot& snapshot) {
  for (std::size_t i = 0; i < state.size(); ++i) {
    copy_bytes(ctx, state[i].view.data, ctx.device(), snapshot[i].data(), Device::cpu(), snapshot[i].size());
  }
  ctx.synchronize();
}

}  // namespace

EpochStats epoch_stats(int epoch, double loss_sum, std::int64_t samples, std::chrono::steady_clock::time_point start) {
  EpochStats e;
  e.epoch = epoch;
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.loss = samples == 0 ? 0.0 : loss_sum / static_cast<double>(samples);
  e.clicks_per_second = e.seconds > 0 ? static_cast<double>(samples) / e.seconds : 0.0;
  return e;
}

void NeuralRecommender::score(std::span<const std::int32_t> prefix, std::span<float> scores) const {
  const std::span<const std::int32_t> one[] = {prefix};
  score_batch(one, scores.data(), 1);
}

FitResult fit(NeuralRecommender& model, const FitOptions& o, const EpochProgress& progress,
              const std::function<void(const FitEpoch&)>& on_epoch) {
  RECKON_CHECK_ARG(o.epochs >= 0 && o.patience >= 1 && o.k >= 1, "fit needs epochs >= 0, patience >= 1 and k >= 1");
  FitResult r;
  Snapshot best;
  double best_hr = -1;
  int since_best = 0;
  for (int e = 1; e <= o.epochs; ++e) {
    FitEpoch epoch{model.train_epoch(e, progress)};
    if (o.validation != nullptr) {
      EvalOptions eval;
      eval.ks = {o.k};
      const EvalResult v = evaluate(model, *o.validation, eval);
      epoch.validation_hr = v.all.at[0].hit_rate;
      epoch.validation_mrr = v.all.at[0].mrr;
    }
    r.epochs.push_back(epoch);
    if (on_epoch) on_epoch(epoch);
    if (o.validation == nullptr) {
      r.best_epoch = e;
      continue;
    }
    if (epoch.validation_hr > best_hr) {
      best_hr = epoch.validation_hr;
      best = take_snapshot(model.context(), model.state());
      r.best_epoch = e;
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  if (o.validation != nullptr && r.best_epoch > 0 && r.best_epoch < static_cast<int>(r.epochs.size())) {
    restore(model.context(), model.state(), best);
  }
  return r;
}

}  // namespace reckon::session
