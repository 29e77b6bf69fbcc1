#include "reckon/runtime/checkpoint.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "reckon/runtime/memory.h"

namespace reckon {

namespace {

constexpr std::uint64_t kAlignment = 64;
std::uint64_t aligned(std::uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// The dtype of a directory entry: a tensor's, or u8 for a byte section (one byte each).
bool entry_dtype(const std::string& name, DType& dtype) {
  for (const DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
    if (name == dtype_name(t)) {
      dtype = t;
      return true;
    }
  }
  return false;
}

std::uint64_t element_size(const std::string& dtype) {
  DType t{};
  return entry_dtype(dtype, t) ? dtype_size(t) : 1;
}

nlohmann::json parse_object(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  RECKON_CHECK_ARG(j.is_object(), "a checkpoint's ", what, " must be a JSON object");
  return j;
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string kind, std::string config_json, std::string vocabulary_json)
    : kind_(std::move(kind)), config_(std::move(config_json)), vocabulary_(std::move(vocabulary_json)) {
  (void)parse_object(config_, "configuration");
  (void)parse_object(vocabulary_, "vocabulary summary");
}

std::string& CheckpointWriter::append_entry(const std::string& name, const std::string& dtype,
                                            std::vector<std::int64_t> shape, std::uint64_t bytes) {
  for (const CheckpointEntry& e : entries_) {
    RECKON_CHECK_ARG(e.name != name, "checkpoint entry '", name, "' added twice");
  }
  const std::uint64_t offset = aligned(data_.size());
  data_.resize(offset, '\0');
  entries_.push_back({name, dtype, std::move(shape), offset, bytes});
  return data_;
}

void CheckpointWriter::add(Context& ctx, const std::string& name, const TensorView& t) {
  std::string& data = append_entry(name, dtype_name(t.dtype), std::vector<std::int64_t>(t.sizes.data(), t.sizes.data() + t.ndim),
                                   t.nbytes());
  const std::size_t at = data.size();
  data.resize(at + t.nbytes());
  copy(ctx, TensorView::contiguous(data.data() + at, t.dtype, Device::cpu(), t.sizes.data(), t.ndim), t);
  ctx.synchronize();
}

void CheckpointWriter::add_bytes(const std::string& name, std::string_view bytes) {
  append_entry(name, "u8", {static_cast<std::int64_t>(bytes.size())}, bytes.size()).append(bytes);
}

void CheckpointWriter::write(const std::string& path) const {
  nlohmann::json entries = nlohmann::json::array();
  for (const CheckpointEntry& e : entries_) {
    entries.push_back({{"name", e.name}, {"dtype", e.dtype}, {"shape", e.shape}, {"offset", e.offset},
                       {"bytes", e.bytes}});
  }
  const nlohmann::json header{{"kind", kind_},
                              {"config", parse_object(config_, "configuration")},
                              {"vocabulary", parse_object(vocabulary_, "vocabulary summary")},
                              {"entries", entries}};
  const std::string text = header.dump();
  std::string out(kCheckpointMagic, sizeof(kCheckpointMagic));
  append_bytes<std::uint64_t>(out, kCheckpointFormatVersion);
  append_bytes<std::uint64_t>(out, text.size());
  out += text;
  out.resize(aligned(out.size()), '\0');
  out += data_;
  append_bytes<std::uint64_t>(out, fnv1a(out));
  write_file_atomically(path, out);
}

bool CheckpointReader::recognises(std::string_view leading) {
  return leading.size() >= sizeof(kCheckpointMagic) &&
         std::memcmp(leading.data(), kCheckpointMagic, sizeof(kCheckpointMagic)) == 0;
}

namespace {

// The directory, each entry's extent checked against the data (in 128-bit-safe arithmetic: the numbers come from
// the file).
std::vector<CheckpointEntry> read_entries(const nlohmann::json& list, std::uint64_t data_size, const std::string& path) {
  std::vector<CheckpointEntry> out;
  std::set<std::string> names;
  for (const nlohmann::json& j : list) {
    CheckpointEntry e{j.at("name").get<std::string>(), j.at("dtype").get<std::string>(),
                      j.at("shape").get<std::vector<std::int64_t>>(), j.at("offset").get<std::uint64_t>(),
                      j.at("bytes").get<std::uint64_t>()};
    DType unused{};
    if (!entry_dtype(e.dtype, unused) && e.dtype != "u8") {
      RECKON_THROW(StatusCode::kDataError, path, ": entry '", e.name, "' has unknown dtype '", e.dtype, "'");
    }
    long double elements = 1;
    for (const std::int64_t s : e.shape) {
      if (s < 0) RECKON_THROW(StatusCode::kDataError, path, ": entry '", e.name, "' has a negative size");
      elements *= static_cast<long double>(s);
    }
    if (elements * element_size(e.dtype) != static_cast<long double>(e.bytes) || e.offset > data_size ||
        e.bytes > data_size - e.offset) {
      RECKON_THROW(StatusCode::kDataError, path, ": entry '", e.name, "' does not fit its shape or the file");
    }
    if (!names.insert(e.name).second) RECKON_THROW(StatusCode::kDataError, path, ": entry '", e.name, "' twice");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

CheckpointReader::CheckpointReader(const std::string& path) : path_(path), file_(read_file(path)) {
  if (!recognises(file_)) RECKON_THROW(StatusCode::kDataError, path, ": not a reckon checkpoint");
  if (file_.size() < sizeof(kCheckpointMagic) + 24) RECKON_THROW(StatusCode::kDataError, path, ": truncated checkpoint");
  const std::string_view body = checksummed_body(file_, path);
  ByteReader r(body, path, "checkpoint");
  (void)r.bytes(sizeof(kCheckpointMagic));
  version_ = r.get<std::uint64_t>();
  if (version_ < 1 || version_ > kCheckpointFormatVersion) {
    RECKON_THROW(StatusCode::kDataError, path, ": checkpoint format version ", version_, ", this build reads 1 to ",
                 kCheckpointFormatVersion);
  }
  header_ = r.bytes(r.get<std::uint64_t>());
  data_start_ = aligned(body.size() - r.remaining());
  if (data_start_ > body.size()) RECKON_THROW(StatusCode::kDataError, path, ": truncated checkpoint");
  try {
    const nlohmann::json h = nlohmann::json::parse(header_);
    kind_ = h.at("kind").get<std::string>();
    config_ = h.at("config").dump();
    vocabulary_ = h.at("vocabulary").dump();
    entries_ = read_entries(h.at("entries"), body.size() - data_start_, path);
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": unreadable checkpoint header: ", e.what());
  }
}

bool CheckpointReader::has(const std::string& name) const {
  for (const CheckpointEntry& e : entries_) {
    if (e.name == name) return true;
  }
  return false;
}

void CheckpointReader::expect_kind(const std::string& kind) const {
  if (kind_ != kind) {
    RECKON_THROW(StatusCode::kDataError, path_, ": a checkpoint of a ", kind_, " model, not of a ", kind, " model");
  }
}

const CheckpointEntry& CheckpointReader::entry(const std::string& name) const {
  for (const CheckpointEntry& e : entries_) {
    if (e.name == name) return e;
  }
  RECKON_THROW(StatusCode::kDataError, path_, ": no entry '", name, "' in the checkpoint");
}

void CheckpointReader::read(Context& ctx, const std::string& name, const TensorView& dst, bool exact_shape) const {
  const CheckpointEntry& e = entry(name);
  const std::vector<std::int64_t> want(dst.sizes.data(), dst.sizes.data() + dst.ndim);
  if (e.dtype != dtype_name(dst.dtype) || e.bytes != dst.nbytes() || (exact_shape && e.shape != want)) {
    RECKON_THROW(StatusCode::kDataError, path_, ": entry '", name, "' is ", e.dtype, " of ", e.bytes,
                 " bytes where ", dtype_name(dst.dtype), " ", dst.shape_str(), " is expected");
  }
  // The file is const: the copy reads through a view of its bytes.
  auto* src = const_cast<char*>(file_.data() + data_start_ + e.offset);
  copy(ctx, dst, TensorView::contiguous(src, dst.dtype, Device::cpu(), dst.sizes.data(), dst.ndim));
  ctx.synchronize();
}

std::string_view CheckpointReader::bytes(const std::string& name) const {
  const CheckpointEntry& e = entry(name);
  return std::string_view(file_).substr(data_start_ + e.offset, e.bytes);
}

}  // namespace reckon
