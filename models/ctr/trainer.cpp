#include "reckon/models/ctr/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>

#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/ctr/metrics.h"
#include "reckon/models/ctr/stream.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/philox.h"

namespace reckon::ctr {
namespace {

// Two device batches used in turn, each with the event of its last copy. The copy into one is enqueued (in stream
// order, after the steps already enqueued) while the device may still be working on the other, so the host never
// waits for the device to go idle; it waits only until a staging buffer's previous copy is done.
struct DeviceBatchPair {
  DeviceBatchPair(Context& ctx, const BatchLayout& layout, std::int64_t capacity)
      : batches{make_device_batch(ctx, layout, capacity), make_device_batch(ctx, layout, capacity)},
        copied{StreamEvent(ctx), StreamEvent(ctx)} {}
  // Copies `host` into the next device batch, asynchronously from pinned memory and ordered on the stream after the
  // steps already enqueued (the step before last used that batch), and marks the copy.
  const CtrBatch& upload(Context& ctx, const HostBatch& host) {
    const int slot = next;
    next ^= 1;
    host.copy_to(ctx, batches[slot]);
    copied[slot].record();
    return batches[slot];
  }
  CtrBatch batches[2];
  StreamEvent copied[2];  // per batch, its last copy
  int next = 0;           // the batch the next upload fills
};

// Assembles batches of dataset rows in pinned host memory and copies them to the model's device. Two staging
// buffers: the host fills one while the previous batch's copy and step run.
class BatchLoader {
 public:
  BatchLoader(Context& ctx, const CtrDataset& data, const BatchLayout& layout, std::int64_t capacity)
      : ctx_(ctx),
        data_(data),
        layout_(layout),
        host_{HostBatch(layout, capacity, true), HostBatch(layout, capacity, true)},
        device_(ctx, layout, capacity) {
    RECKON_CHECK_ARG(data.columns() == layout.columns, "the dataset rows have ", data.columns(),
                     " columns, the model's layout ", layout.columns, " (multi-valued field widths differ)");
  }

  const CtrBatch& load(const std::int64_t* rows, std::int64_t count) {
    // Staging buffer k feeds device batch k: its copy of two batches ago must be done before it is refilled.
    HostBatch& host = host_[device_.next];
    device_.copied[device_.next].wait();
    host.size = 0;
    host.with_values = false;
    host.append_rows(layout_, rows, count, data_.labels.data(), data_.ids.data(), data_.values.data(),
                     ctx_.cpu_threads());
    return device_.upload(ctx_, host);
  }

 private:
  Context& ctx_;
  const CtrDataset& data_;
  const BatchLayout& layout_;
  HostBatch host_[2];
  DeviceBatchPair device_;
};

}  // namespace

std::vector<float> predict(CtrModel& model, const CtrDataset& data, std::int64_t batch_size) {
  RECKON_CHECK_ARG(data.fields == static_cast<std::int64_t>(model.field_rows().size()), "dataset has ", data.fields,
                   " fields, the model ", model.field_rows().size());
  Context& ctx = model.context();
  std::vector<float> out(static_cast<std::size_t>(data.size()));
  if (data.size() == 0) return out;
  BatchLoader loader(ctx, data, model.layout(), std::min(batch_size, data.size()));
  std::vector<std::int64_t> rows(static_cast<std::size_t>(std::min(batch_size, data.size())));
  for (std::int64_t start = 0; start < data.size(); start += batch_size) {
    const std::int64_t count = std::min(batch_size, data.size() - start);
    std::iota(rows.begin(), rows.begin() + count, start);
    const TensorView p = model.predict(loader.load(rows.data(), count));
    copy_bytes(ctx, out.data() + start, Device::cpu(), p.data, ctx.device(),
               static_cast<std::size_t>(count) * sizeof(float));
  }
  ctx.synchronize();
  return out;
}

ScoredFile predict_file(
    CtrModel& model, const std::string& path, const Vocabulary& vocabulary, const ReadOptions& options,
    std::int64_t batch_size,
    const std::function<void(const std::vector<float>& probabilities, const std::vector<float>& labels)>& scored) {
  RECKON_CHECK_ARG(batch_size >= 1, "batch size must be >= 1, got ", batch_size);
  CtrDataset batch;  // the rows of the batch being filled
  batch.fields = vocabulary.field_count();
  batch.widths = vocabulary.widths;
  const auto columns = static_cast<std::size_t>(batch.columns());
  ScoredFile result;
  // One loader for the whole file (on a GPU its pinned staging buffers are costly to make); it reads `batch`,
  // refilled for each batch.
  Context& ctx = model.context();
  BatchLoader loader(ctx, batch, model.layout(), batch_size);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(batch_size));
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<float> probabilities;
  const auto flush = [&] {
    if (batch.size() == 0) return;
    probabilities.resize(static_cast<std::size_t>(batch.size()));
    const TensorView p = model.predict(loader.load(rows.data(), batch.size()));
    copy_bytes(ctx, probabilities.data(), Device::cpu(), p.data, ctx.device(),
               probabilities.size() * sizeof(float));
    ctx.synchronize();
    scored(probabilities, batch.labels);
    result.rows += batch.size();
    batch.labels.clear();
    batch.ids.clear();
    batch.values.clear();
  };
  CtrDataset report;
  report.fields = batch.fields;
  for_each_row(
      path, vocabulary, options,
      [&](const Sample& s) {
        batch.labels.push_back(s.label);
        batch.ids.insert(batch.ids.end(), s.ids, s.ids + columns);
        batch.values.insert(batch.values.end(), s.values, s.values + columns);
        if (batch.size() == batch_size) flush();
      },
      report);
  flush();
  result.skipped_rows = report.skipped_rows;
  result.first_errors = std::move(report.first_errors);
  result.labeled = report.labeled;
  return result;
}

namespace {

// One epoch's batches, in order; nullptr after the last. `total` is the epoch's row count when known (else 0).
struct EpochBatches {
  std::function<const CtrBatch*()> next;
  std::int64_t total = 0;
};

// A host copy of everything training changes: parameters and optimizer state (packed as in a checkpoint), step.
struct ModelSnapshot {
  std::string state;
  std::int64_t step = 0;
};

void take_snapshot(CtrModel& model, ModelSnapshot& snapshot) {
  snapshot.state.clear();  // keeps its capacity: every improving epoch overwrites the same copy
  append_training_state(snapshot.state, model);
  snapshot.step = model.step();
}

void restore_snapshot(CtrModel& model, const ModelSnapshot& snapshot) {
  ByteReader reader(snapshot.state, "the best epoch's copy", "training state");
  read_training_state(reader, model, "the best epoch's copy", true);
  model.set_step(snapshot.step);
}

std::string epoch_summary(const EpochResult& e, int epochs, bool validated) {
  char line[256];
  int n = std::snprintf(line, sizeof line, "  epoch %d/%d: %lld samples in %.1f s (%.0f samples/s), train loss %.4f",
                        e.epoch, epochs, static_cast<long long>(e.samples), e.seconds, e.samples_per_s, e.train_loss);
  if (validated && n > 0 && static_cast<std::size_t>(n) < sizeof line) {
    std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), ", valid AUC %.4f, logloss %.4f", e.valid_auc,
                  e.valid_logloss);
  }
  return line;
}

void check_loss(float loss, bool show, int epoch, std::int64_t step) {
  if (std::isfinite(loss)) return;
  if (show) std::fputc('\n', stderr);
  RECKON_THROW(StatusCode::kNumericError, "training loss became ", loss, " at epoch ", epoch, ", step ", step,
               " (lower the learning rate or check the input values)");
}

// One epoch's training steps: its samples, seconds and mean training loss (read every 16 steps: a read
// synchronises), with the loss checked for NaN on every read and at the end.
EpochResult run_epoch(CtrModel& model, EpochBatches& batches, int epoch, const TrainOptions& options, bool show) {
  const auto start = std::chrono::steady_clock::now();
  double loss_sum = 0;
  std::int64_t steps = 0, seen = 0, loss_reads = 0;
  while (const CtrBatch* batch = batches.next()) {
    model.train_step(*batch);
    ++steps;
    seen += batch->size;
    if (steps % 16 != 1) continue;
    const float loss = model.read_loss();
    check_loss(loss, show, epoch, steps);
    loss_sum += loss / static_cast<double>(batch->size);
    ++loss_reads;
    if (show) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto total = static_cast<double>(std::max(batches.total, seen));
      const double rate = seconds > 0 ? static_cast<double>(seen) / seconds : 0.0;
      print_progress_line(epoch, options.epochs, total > 0 ? static_cast<double>(seen) / total : 1.0, rate, "samples",
                          rate > 0 ? (total - static_cast<double>(seen)) / rate : 0.0);
    }
  }
  if (steps % 16 != 1 && steps > 0) check_loss(model.read_loss(), show, epoch, steps);
  model.context().synchronize();
  RECKON_CHECK_ARG(seen > 0, "the training set is empty");
  EpochResult e;
  e.epoch = epoch;
  e.samples = seen;
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.samples_per_s = static_cast<double>(seen) / e.seconds;
  e.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(loss_reads, 1));
  return e;
}

// The epoch loop shared by in-memory and streaming training.
TrainResult train_epochs(CtrModel& model, const CtrDataset& valid, const TrainOptions& options,
                         const std::function<EpochBatches(int epoch)>& epoch_batches) {
  validate(options);
  const bool show = options.progress && isatty(STDERR_FILENO);
  TrainResult result;
  double best = INFINITY, total_seconds = 0;
  int since_best = 0;
  ModelSnapshot best_state;
  std::int64_t total_samples = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    if (epoch > 1 && options.learning_rate_decay != 1.0f) {
      model.set_learning_rates(model.config().sparse_learning_rate * options.learning_rate_decay,
                               model.config().dense_learning_rate * options.learning_rate_decay);
    }
    EpochBatches batches = epoch_batches(epoch);
    EpochResult e = run_epoch(model, batches, epoch, options, show);
    total_seconds += e.seconds;
    total_samples += e.samples;
    if (valid.size() > 0) {
      const std::vector<float> p = predict(model, valid, options.batch_size);
      e.valid_auc = auc(p, valid.labels);
      e.valid_logloss = logloss(p, valid.labels);
    }
    if (options.progress) print_status_line(epoch_summary(e, options.epochs, valid.size() > 0));
    result.epochs.push_back(e);
    if (valid.size() == 0 || e.valid_logloss < best) {
      best = e.valid_logloss;
      result.best_epoch = epoch;
      result.auc = e.valid_auc;
      result.logloss = e.valid_logloss;
      since_best = 0;
      if (options.restore_best && valid.size() > 0 && epoch < options.epochs) take_snapshot(model, best_state);
    } else if (options.early_stopping_patience > 0 && ++since_best >= options.early_stopping_patience) {
      result.stopped_early = true;
      break;
    }
  }
  if (options.restore_best && valid.size() > 0 && result.best_epoch != result.epochs.back().epoch) {
    restore_snapshot(model, best_state);
    result.restored_best = true;
  }
  result.train_samples_per_s = static_cast<double>(total_samples) / total_seconds;
  return result;
}

}  // namespace

void validate(const TrainOptions& options) {
  RECKON_CHECK_ARG(options.epochs >= 1, "epochs must be >= 1, got ", options.epochs);
  RECKON_CHECK_ARG(options.batch_size >= 1, "batch size must be >= 1, got ", options.batch_size);
  RECKON_CHECK_ARG(options.early_stopping_patience >= 0, "early-stopping patience must be >= 0, got ",
                   options.early_stopping_patience);
  RECKON_CHECK_ARG(options.learning_rate_decay > 0.0f && std::isfinite(options.learning_rate_decay),
                   "learning-rate decay must be positive and finite, got ", options.learning_rate_decay);
}

TrainResult train(CtrModel& model, const CtrDataset& train_data, const CtrDataset& valid, const TrainOptions& options) {
  RECKON_CHECK_ARG(train_data.size() > 0, "the training set is empty");
  RECKON_CHECK_ARG(train_data.fields == static_cast<std::int64_t>(model.field_rows().size()), "training data has ",
                   train_data.fields, " fields, the model ", model.field_rows().size());
  const std::int64_t n = train_data.size();
  const std::int64_t capacity = std::min(std::max<std::int64_t>(options.batch_size, 1), n);
  BatchLoader loader(model.context(), train_data, model.layout(), capacity);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  PhiloxStream shuffle_rng(options.seed, 0x5f0f);
  std::int64_t at = 0;
  return train_epochs(model, valid, options, [&](int) {
    if (options.shuffle) {
      for (std::int64_t i = n - 1; i > 0; --i) {
        const auto j = static_cast<std::int64_t>(uniform_below(shuffle_rng.next_u32(), static_cast<std::uint32_t>(i + 1)));
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
      }
    }
    at = 0;
    return EpochBatches{[&]() -> const CtrBatch* {
                          if (at >= n) return nullptr;
                          const std::int64_t count = std::min(capacity, n - at);
                          const CtrBatch& b = loader.load(order.data() + at, count);
                          at += count;
                          return &b;
                        },
                        n};
  });
}

TrainResult train_stream(CtrModel& model, const std::string& path, const Vocabulary& vocabulary,
                         const ReadOptions& read, const CtrDataset& valid, const TrainOptions& options,
                         std::int64_t shuffle_buffer, CtrDataset* report) {
  RECKON_CHECK_ARG(vocabulary.field_count() == static_cast<std::int64_t>(model.field_rows().size()),
                   "the vocabulary has ", vocabulary.field_count(), " fields, the model ", model.field_rows().size());
  Context& ctx = model.context();
  const std::int64_t cap = std::max<std::int64_t>(options.batch_size, 1);
  RECKON_CHECK_ARG(vocabulary.field_widths() == model.layout().widths,
                   "the vocabulary's multi-valued field widths differ from the model's");
  DeviceBatchPair device(ctx, model.layout(), cap);
  std::unique_ptr<BatchStream> stream;
  std::int64_t rows_last_epoch = 0;
  bool any_batch = false;  // in this epoch
  TrainResult r = train_epochs(model, valid, options, [&](int epoch) {
    if (stream) rows_last_epoch = stream->rows();
    stream = std::make_unique<BatchStream>(path, vocabulary, read,
                                           StreamOptions{cap, shuffle_buffer, 3, options.seed + static_cast<std::uint64_t>(epoch)});
    any_batch = false;
    return EpochBatches{[&]() -> const CtrBatch* {
                          // next() hands the previous batch's pinned buffer back to the reader: its copy must be
                          // done (not the step that reads the copy, which may still run).
                          device.copied[device.next ^ 1].wait();
                          const HostBatch* h = stream->next();
                          // Not one usable row (say, the wrong format on --resume): say why.
                          if (h == nullptr && !any_batch) require_rows(stream->report(), path, "trained on", false);
                          any_batch = true;
                          return h == nullptr ? nullptr : &device.upload(ctx, *h);
                        },
                        rows_last_epoch};
  });
  if (report != nullptr && stream) *report = stream->report();
  return r;
}

}  // namespace reckon::ctr
