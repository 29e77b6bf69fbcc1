// One checkpoint file format for every model. A file is
//   magic "RECKONCF" (8 bytes) | u64 format version | u64 header length | header (JSON) | zero padding |
//   data: each entry's bytes at its offset (64-byte aligned, from the start of the data) | u64 FNV-1a of all before
// The header is {"kind": the model kind, "config": the model's settings, "vocabulary": a summary,
//   "entries": [{"name", "dtype" (f32, bf16, i32, i64, ..., or u8 for a byte section), "shape", "offset", "bytes"}]}.
// Files are written to a temporary file and renamed, so an interrupted save never harms the previous checkpoint.
// Reading checks the magic, the checksum, the header and every entry's extent before anything is used: a truncated,
// corrupted or foreign file is kDataError naming the file. `reckon inspect FILE` prints a header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

inline constexpr char kCheckpointMagic[8] = {'R', 'E', 'C', 'K', 'O', 'N', 'C', 'F'};
inline constexpr std::uint64_t kCheckpointFormatVersion = 1;

struct CheckpointEntry {
  std::string name;
  std::string dtype;  // dtype_name() of a tensor, or "u8" for a byte section
  std::vector<std::int64_t> shape;
  std::uint64_t offset = 0, bytes = 0;
};

class CheckpointWriter {
 public:
  // config_json and vocabulary_json: JSON objects (text), kept verbatim in the header.
  CheckpointWriter(std::string kind, std::string config_json, std::string vocabulary_json = "{}");
  // A packed copy of the tensor (any row stride), read from ctx's device (synchronises ctx). Names are unique.
  void add(Context& ctx, const std::string& name, const TensorView& tensor);
  void add_bytes(const std::string& name, std::string_view bytes);
  void write(const std::string& path) const;

 private:
  std::string& append_entry(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                            std::uint64_t bytes);
  std::string kind_, config_, vocabulary_;
  std::vector<CheckpointEntry> entries_;
  std::string data_;
};

class CheckpointReader {
 public:
  // Reads and checks the whole file.
  explicit CheckpointReader(const std::string& path);
  // Whether these leading bytes are the envelope's magic (other reckon files are older formats).
  static bool recognises(std::string_view leading_bytes);

  const std::string& path() const { return path_; }
  const std::string& kind() const { return kind_; }
  std::uint64_t version() const { return version_; }
  const std::string& header_json() const { return header_; }
  const std::string& config_json() const { return config_; }
  const std::string& vocabulary_json() const { return vocabulary_; }
  const std::vector<CheckpointEntry>& entries() const { return entries_; }
  bool has(const std::string& name) const;
  // Throws kDataError unless the file is of this kind.
  void expect_kind(const std::string& kind) const;
  // Copies an entry into dst (any row stride, on ctx's device): its dtype and element count must match, and its
  // shape too when `exact_shape` (kDataError naming the entry otherwise). Completes before returning.
  void read(Context& ctx, const std::string& name, const TensorView& dst, bool exact_shape = true) const;
  std::string_view bytes(const std::string& name) const;

 private:
  const CheckpointEntry& entry(const std::string& name) const;
  std::string path_, file_, kind_, header_, config_, vocabulary_;
  std::uint64_t version_ = 0, data_start_ = 0;
  std::vector<CheckpointEntry> entries_;
};

}  // namespace reckon
