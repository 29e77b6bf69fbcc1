#include "reckon/models/ctr/stream.h"

#include <omp.h>

#include <algorithm>
#include <numeric>

#include "reckon/runtime/detail/prefetch.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::ctr {
namespace {
struct Stopped {};  // unwinds the reading thread when the stream is destroyed early
}  // namespace

HostBatch::HostBatch(const BatchLayout& layout, std::int64_t cap, bool pinned) : capacity(cap) {
  ids = Tensor::empty_host(DType::kI32, {layout.columns, cap}, pinned);
  values = Tensor::empty_host(DType::kF32, {layout.columns, cap}, pinned);
  labels = Tensor::empty_host(DType::kF32, {cap}, pinned);
  if (layout.bags > 0) {
    bag_offsets = Tensor::empty_host(DType::kI32, {layout.bags, cap + 1}, pinned);
    for (int m = 0; m < layout.bags; ++m) bag_offsets.data<std::int32_t>()[m * (cap + 1)] = 0;
  }
}

void HostBatch::append(const BatchLayout& layout, float label, const std::int32_t* row_ids, const float* row_values) {
  RECKON_CHECK_ARG(size < capacity, "host batch is full (", capacity, " rows)");
  const std::int64_t i = size++;
  labels.data<float>()[i] = label;
  auto* out_ids = ids.data<std::int32_t>();
  auto* out_values = values.data<float>();
  for (std::size_t f = 0; f < layout.widths.size(); ++f) {
    const std::int64_t column = layout.column_start[f];
    const int m = layout.bag[f];
    if (m < 0) {
      const float v = row_values[column];
      out_ids[column * capacity + i] = row_ids[column];
      out_values[column * capacity + i] = v;
      with_values = with_values || v != 1.0f;
      continue;
    }
    // A bag: its items packed after the previous sample's, padding dropped.
    auto* off = bag_offsets.data<std::int32_t>() + m * (capacity + 1);
    std::int32_t at = off[i];
    for (int k = 0; k < layout.widths[f]; ++k) {
      if (row_ids[column + k] < 0) continue;
      out_ids[column * capacity + at] = row_ids[column + k];
      out_values[column * capacity + at] = row_values[column + k];
      ++at;
    }
    off[i + 1] = at;
    with_values = true;
  }
}

void HostBatch::append_rows(const BatchLayout& layout, const std::int64_t* rows, std::int64_t count,
                            const float* row_labels, const std::int32_t* row_ids, const float* row_values,
                            int threads) {
  RECKON_CHECK_ARG(count >= 0 && size + count <= capacity, "host batch of ", capacity, " rows cannot take ", count,
                   " more after ", size);
  const std::int64_t C = layout.columns;
  if (layout.bags > 0) {
    // Bags pack each sample's items after the previous sample's: row by row.
    for (std::int64_t i = 0; i < count; ++i) {
      const auto r = static_cast<std::size_t>(rows[i]);
      append(layout, row_labels[r], row_ids + r * static_cast<std::size_t>(C),
             row_values + r * static_cast<std::size_t>(C));
    }
    return;
  }
  // Tiles of rows: a tile's source rows (scattered in the dataset) stay in L1 while each column's run of the tile
  // is written contiguously.
  constexpr std::int64_t kTile = 64;
  auto* out_ids = ids.data<std::int32_t>();
  auto* out_values = values.data<float>();
  auto* out_labels = labels.data<float>();
  const std::int64_t base = size;
  bool scaled = false;  // a value other than 1 seen
  if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(|| : scaled) if (count >= 4 * kTile)
  for (std::int64_t tile = 0; tile < count; tile += kTile) {
    const std::int64_t n = std::min(kTile, count - tile);
    // The next tile's rows are scattered over the dataset: fetch them while this one is written.
    for (std::int64_t k = tile + kTile; k < std::min(tile + 2 * kTile, count); ++k) {
      detail::prefetch_span(row_ids + rows[k] * C, C * 4);
      detail::prefetch_span(row_values + rows[k] * C, C * 4);
    }
    for (std::int64_t k = 0; k < n; ++k) out_labels[base + tile + k] = row_labels[rows[tile + k]];
    for (std::int64_t c = 0; c < C; ++c) {
      std::int32_t* to_ids = out_ids + c * capacity + base + tile;
      float* to_values = out_values + c * capacity + base + tile;
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int64_t at = rows[tile + k] * C + c;
        to_ids[k] = row_ids[at];
        const float v = row_values[at];
        to_values[k] = v;
        scaled = scaled || v != 1.0f;
      }
    }
  }
  size += count;
  with_values = with_values || scaled;
}

void HostBatch::copy_to(Context& ctx, CtrBatch& device) const {
  copy(ctx, device.ids, ids);
  copy(ctx, device.labels, labels);
  if (with_values) copy(ctx, device.values, values);
  if (bag_offsets.ndim() == 2) copy(ctx, device.bag_offsets, bag_offsets);
  device.size = size;
  device.with_values = with_values;
}

CtrBatch make_device_batch(Context& ctx, const BatchLayout& layout, std::int64_t capacity) {
  CtrBatch b;
  b.ids = Tensor::empty(ctx, DType::kI32, {layout.columns, capacity});
  b.values = Tensor::empty(ctx, DType::kF32, {layout.columns, capacity});
  b.labels = Tensor::empty(ctx, DType::kF32, {capacity});
  if (layout.bags > 0) b.bag_offsets = Tensor::empty(ctx, DType::kI32, {layout.bags, capacity + 1});
  Tensor offsets = Tensor::empty_host(DType::kI32, {capacity + 1});
  std::iota(offsets.data<std::int32_t>(), offsets.data<std::int32_t>() + capacity + 1, 0);
  b.offsets = offsets.to(ctx, ctx.device());
  ctx.synchronize();
  return b;
}

BatchStream::BatchStream(std::string path, const Vocabulary& vocabulary, ReadOptions options, StreamOptions stream)
    : path_(std::move(path)), vocabulary_(vocabulary), options_(std::move(options)), stream_(stream),
      fields_(vocabulary.field_count()), layout_(vocabulary.field_widths()) {
  RECKON_CHECK_ARG(stream_.batch_size >= 1 && stream_.shuffle_buffer >= 1 && stream_.prefetch >= 1,
                   "streaming needs positive batch size, shuffle buffer and prefetch");
  for (int i = 0; i < stream_.prefetch + 1; ++i) {
    auto b = std::make_unique<HostBatch>(layout_, stream_.batch_size, true);
    free_.push_back(b.get());
    storage_.push_back(std::move(b));
  }
  report_.fields = fields_;
  thread_ = std::thread([this] { produce(); });
}

BatchStream::~BatchStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

const HostBatch* BatchStream::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (in_use_ != nullptr) {
    free_.push_back(in_use_);
    in_use_ = nullptr;
    changed_.notify_all();
  }
  changed_.wait(lock, [this] { return !ready_.empty() || finished_; });
  if (!ready_.empty()) {
    in_use_ = ready_.front();
    ready_.pop_front();
    return in_use_;
  }
  if (error_) std::rethrow_exception(error_);
  return nullptr;
}

namespace {

// The rows held for shuffling, as dataset rows (`columns` ids and values each).
class ShuffleBuffer {
 public:
  ShuffleBuffer(std::int64_t columns, std::int64_t capacity)
      : columns_(columns), ids_(static_cast<std::size_t>(std::min<std::int64_t>(capacity, 1 << 20) * columns)),
        values_(ids_.size()) {}
  void store(std::int64_t j, const Sample& s) {
    const auto row = static_cast<std::size_t>(j);
    if (row >= labels_.size()) {
      labels_.resize(row + 1);
      if (ids_.size() < (row + 1) * static_cast<std::size_t>(columns_)) {
        ids_.resize((row + 1) * static_cast<std::size_t>(columns_) * 2);
        values_.resize(ids_.size());
      }
    }
    labels_[row] = s.label;
    std::copy(s.ids, s.ids + columns_, ids_.begin() + j * columns_);
    std::copy(s.values, s.values + columns_, values_.begin() + j * columns_);
  }
  // Row `from` moves to row `to` (the last held row fills the place of one sent out).
  void move(std::int64_t from, std::int64_t to) {
    labels_[static_cast<std::size_t>(to)] = labels_[static_cast<std::size_t>(from)];
    std::copy(ids_.begin() + from * columns_, ids_.begin() + (from + 1) * columns_, ids_.begin() + to * columns_);
    std::copy(values_.begin() + from * columns_, values_.begin() + (from + 1) * columns_,
              values_.begin() + to * columns_);
  }
  float label(std::int64_t j) const { return labels_[static_cast<std::size_t>(j)]; }
  const std::int32_t* ids(std::int64_t j) const { return ids_.data() + j * columns_; }
  const float* values(std::int64_t j) const { return values_.data() + j * columns_; }

 private:
  std::int64_t columns_;
  std::vector<std::int32_t> ids_;
  std::vector<float> values_, labels_;
};

}  // namespace

HostBatch* BatchStream::take_free() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !free_.empty() || stop_; });
  if (stop_) throw Stopped{};
  HostBatch* b = free_.front();
  free_.pop_front();
  b->size = 0;
  b->with_values = false;
  return b;
}

void BatchStream::publish(HostBatch* batch) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.push_back(batch);
  }
  changed_.notify_all();
}

// Rows go through a buffer of stream_.shuffle_buffer rows: once it is full, each new row takes the place of a random
// held one, which goes out; at the end the held rows go out in random order.
std::int64_t BatchStream::shuffle_rows(CtrDataset& report) {
  const std::int64_t S = stream_.shuffle_buffer, cap = stream_.batch_size;
  ShuffleBuffer buffer(layout_.columns, S);
  std::int64_t held = 0;
  PhiloxStream rng(stream_.seed, 0x57e4);
  HostBatch* current = nullptr;
  const auto emit = [&](std::int64_t j) {
    if (current == nullptr) current = take_free();
    current->append(layout_, buffer.label(j), buffer.ids(j), buffer.values(j));
    if (current->size == cap) {
      publish(current);
      current = nullptr;
    }
  };
  const auto pick = [&] { return static_cast<std::int64_t>(uniform_below(rng.next_u32(), static_cast<std::uint32_t>(held))); };
  const std::int64_t rows = for_each_row(
      path_, vocabulary_, options_,
      [&](const Sample& s) {
        if (held < S) {
          buffer.store(held++, s);
          return;
        }
        const std::int64_t j = pick();
        emit(j);
        buffer.store(j, s);
      },
      report);
  while (held > 0) {
    const std::int64_t j = pick();
    emit(j);
    if (j != --held) buffer.move(held, j);
  }
  if (current != nullptr && current->size > 0) publish(current);
  return rows;
}

void BatchStream::produce() {
  try {
    CtrDataset report;
    report.fields = fields_;
    const std::int64_t rows = shuffle_rows(report);
    std::lock_guard<std::mutex> lock(mutex_);
    report_ = std::move(report);
    rows_ = rows;
    finished_ = true;
  } catch (const Stopped&) {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    finished_ = true;
  }
  changed_.notify_all();
}

}  // namespace reckon::ctr
