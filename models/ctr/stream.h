// Streaming batches from files larger than memory: a background thread parses rows (through the vocabulary),
// passes them through a bounded shuffle buffer and fills batches in pinned host memory, a few batches ahead of
// training. The trainer copies each batch to the device asynchronously from the pinned buffers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/runtime/memory.h"

namespace reckon::ctr {

struct StreamOptions {
  std::int64_t batch_size = 4096;
  std::int64_t shuffle_buffer = 1 << 18;  // rows held for shuffling (1: file order)
  int prefetch = 3;                       // batches prepared ahead
  std::uint64_t seed = 1;
};

// One batch in (pinned) host memory, laid out like CtrBatch.
struct HostBatch {
  HostBatch() = default;
  HostBatch(const BatchLayout& layout, std::int64_t capacity, bool pinned);
  std::int64_t size = 0;
  std::int64_t capacity = 0;
  bool with_values = false;
  Tensor ids;          // i32 [columns, capacity]
  Tensor values;       // f32 [columns, capacity]
  Tensor labels;       // f32 [capacity]
  Tensor bag_offsets;  // i32 [bags, capacity + 1] (absent without multi-valued fields)

  // Appends one dataset row (label, layout.columns ids and values; padding ids are -1) at position `size`.
  void append(const BatchLayout& layout, float label, const std::int32_t* row_ids, const float* row_values);
  // Appends rows[0..count) of a dataset (labels [N], ids and values [N, layout.columns]), as append() row by row
  // would. Without multi-valued fields the rows are transposed in tiles on `threads` threads (<= 0: all): a
  // GPU-sized batch of 65,536 rows took one thread 37 ms row by row.
  void append_rows(const BatchLayout& layout, const std::int64_t* rows, std::int64_t count, const float* labels,
                   const std::int32_t* ids, const float* values, int threads = 0);
  // Copies into a device batch of the same layout and capacity (asynchronous from pinned memory).
  void copy_to(Context& ctx, CtrBatch& device) const;
};
// A device batch for the layout: ids, values, labels and offsets allocated for `capacity` samples.
CtrBatch make_device_batch(Context& ctx, const BatchLayout& layout, std::int64_t capacity);

class BatchStream {
 public:
  // The vocabulary must outlive the stream (the reading thread uses it).
  BatchStream(std::string path, const Vocabulary& vocabulary, ReadOptions options, StreamOptions stream);
  const BatchLayout& layout() const { return layout_; }
  BatchStream(std::string path, const Vocabulary&& vocabulary, ReadOptions options, StreamOptions stream) = delete;
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch, or nullptr after the last one. The batch stays valid until the next call. Rethrows an error
  // of the reading thread (I/O, malformed rows under BadRowPolicy::kFail).
  const HostBatch* next();
  // Skipped rows and their first messages; complete once next() has returned nullptr.
  const CtrDataset& report() const { return report_; }
  std::int64_t rows() const { return rows_; }

 private:
  void produce();
  std::int64_t shuffle_rows(CtrDataset& report);
  HostBatch* take_free();
  void publish(HostBatch* batch);

  std::string path_;
  const Vocabulary& vocabulary_;
  ReadOptions options_;
  StreamOptions stream_;
  std::int64_t fields_;
  BatchLayout layout_;
  std::vector<std::unique_ptr<HostBatch>> storage_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<HostBatch*> free_, ready_;
  HostBatch* in_use_ = nullptr;
  bool finished_ = false, stop_ = false;
  std::exception_ptr error_;
  CtrDataset report_;
  std::int64_t rows_ = 0;
  std::thread thread_;
};

}  // namespace reckon::ctr
