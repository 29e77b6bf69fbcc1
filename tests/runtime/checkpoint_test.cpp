// The shared checkpoint envelope: round trips of tensors (strided too) and byte sections, and every way a file can
// be bad refused with kDataError naming the file before anything is used.
#include "reckon/runtime/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon {
namespace {

TensorView host_view(std::vector<float>& v, std::initializer_list<std::int64_t> sizes) {
  return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), sizes);
}

std::string saved_file(Context& ctx, const std::string& dir) {
  std::vector<float> block = testing::random_floats(4 * 8, -1, 1, 1);  // [4 rows | 3 state columns], stride 8
  std::vector<std::int64_t> ids = {5, -1, 1LL << 40};
  CheckpointWriter w("toy", R"({"layers": 2})", R"({"items": 3})");
  w.add(ctx, "table", TensorView::strided_rows(block.data(), DType::kF32, Device::cpu(), 4, 5, 8));
  w.add(ctx, "ids", TensorView::contiguous(ids.data(), DType::kI64, Device::cpu(), {3}));
  w.add_bytes("names", "a\nbb\nccc");
  const std::string path = dir + "/toy.ckpt";
  w.write(path);
  return path;
}

TEST(Checkpoint, RoundTripsTensorsAndBytes) {
  Context ctx(Device::cpu());
  const std::string path = saved_file(ctx, testing::temp_dir("checkpoint_round_trip"));
  const CheckpointReader r(path);
  EXPECT_EQ(r.kind(), "toy");
  EXPECT_EQ(r.version(), kCheckpointFormatVersion);
  EXPECT_EQ(r.config_json(), R"({"layers":2})");
  EXPECT_EQ(r.vocabulary_json(), R"({"items":3})");
  ASSERT_EQ(r.entries().size(), 3u);
  EXPECT_EQ(r.entries()[0].shape, (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(r.entries()[0].offset % 64, 0u);
  EXPECT_EQ(r.entries()[1].offset % 64, 0u);
  const std::vector<float> block = testing::random_floats(4 * 8, -1, 1, 1);
  std::vector<float> table(4 * 5);
  r.read(ctx, "table", host_view(table, {4, 5}));
  for (int row = 0; row < 4; ++row) {
    for (int c = 0; c < 5; ++c) EXPECT_EQ(table[row * 5 + c], block[row * 8 + c]);
  }
  std::vector<std::int64_t> ids(3);
  r.read(ctx, "ids", TensorView::contiguous(ids.data(), DType::kI64, Device::cpu(), {3}));
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, -1, 1LL << 40}));
  EXPECT_EQ(r.bytes("names"), "a\nbb\nccc");
  EXPECT_TRUE(r.has("ids"));
  EXPECT_FALSE(r.has("missing"));
  EXPECT_NO_THROW(r.expect_kind("toy"));
  EXPECT_THROW(r.expect_kind("ctr"), Error);
  std::vector<float> wrong(4 * 5);
  EXPECT_THROW(r.read(ctx, "table", host_view(wrong, {5, 4})), Error);  // same size, another shape
  EXPECT_NO_THROW(r.read(ctx, "table", host_view(wrong, {5, 4}), /*exact_shape=*/false));
  EXPECT_THROW(r.read(ctx, "ids", host_view(wrong, {3})), Error);  // another dtype
  EXPECT_THROW((void)r.bytes("missing"), Error);
}

// A file with its header replaced and the checksum made right again, so only the header check can refuse it.
std::string with_header(const std::string& bytes, const std::string& header) {
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data() + 16, 8);
  const auto padded = [](std::size_t n) { return (n + 63) / 64 * 64; };
  const std::size_t data = padded(24 + length);
  std::string out = bytes.substr(0, 16);
  append_bytes<std::uint64_t>(out, header.size());
  out += header;
  out.resize(padded(out.size()), '\0');
  out += bytes.substr(data, bytes.size() - 8 - data);
  append_bytes<std::uint64_t>(out, fnv1a(out));
  return out;
}

TEST(Checkpoint, BadFilesAreRefusedWithTheirPath) {
  Context ctx(Device::cpu());
  const std::string dir = testing::temp_dir("checkpoint_bad");
  const std::string bytes = read_file(saved_file(ctx, dir));
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data() + 16, 8);
  const std::string header = bytes.substr(24, length);
  const auto refused = [&](const std::string& name, const std::string& content, const std::string& needle) {
    const std::string path = testing::write_file(dir, name, content);
    try {
      const CheckpointReader r(path);
      ADD_FAILURE() << name << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kDataError) << e.what();
      EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
      EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
    }
  };
  refused("truncated.ckpt", bytes.substr(0, bytes.size() - 100), "checksum");
  refused("short.ckpt", bytes.substr(0, 20), "truncated");
  std::string flipped = bytes;
  flipped[bytes.size() - 20] ^= 4;
  refused("flipped.ckpt", flipped, "checksum");
  refused("foreign.ckpt", "PK\x03\x04 not ours at all, long enough to be read", "not a reckon checkpoint");
  std::string future = bytes.substr(0, bytes.size() - 8);
  const std::uint64_t two = 2;
  std::memcpy(future.data() + 8, &two, 8);
  append_bytes<std::uint64_t>(future, fnv1a(future));
  refused("future.ckpt", future, "format version 2");
  const auto replaced = [&](std::string from, std::string to) {
    std::string h = header;
    h.replace(h.find(from), from.size(), to);
    return with_header(bytes, h);
  };
  refused("beyond.ckpt", replaced("\"offset\":0", "\"offset\":4096"), "does not fit");
  refused("shape.ckpt", replaced("[4,5]", "[4,6]"), "does not fit");
  refused("negative.ckpt", replaced("[4,5]", "[-4,-5]"), "negative");
  refused("dtype.ckpt", replaced("\"dtype\":\"i64\"", "\"dtype\":\"c64\""), "unknown dtype");
  refused("twice.ckpt", replaced("\"name\":\"ids\"", "\"name\":\"table\""), "twice");
  refused("json.ckpt", with_header(bytes, header.substr(0, header.size() / 2)), "unreadable checkpoint header");
  refused("kind.ckpt", replaced("\"kind\":\"toy\"", "\"kind\":7"), "unreadable checkpoint header");
  EXPECT_THROW(CheckpointReader(dir + "/absent.ckpt"), Error);
}

TEST(Checkpoint, AnInterruptedSaveKeepsThePreviousFile) {
  Context ctx(Device::cpu());
  const std::string dir = testing::temp_dir("checkpoint_atomic");
  const std::string path = saved_file(ctx, dir);
  const std::string before = read_file(path);
  std::filesystem::create_directories(path + ".tmp");  // the temporary file cannot be created
  CheckpointWriter w("toy", "{}");
  EXPECT_THROW(w.write(path), Error);
  EXPECT_EQ(read_file(path), before);
  EXPECT_THROW(CheckpointWriter("toy", "[1, 2]"), Error);  // the config must be an object
  w.add_bytes("x", "1");
  EXPECT_THROW(w.add_bytes("x", "2"), Error);  // names are unique
}

}  // namespace
}  // namespace reckon
