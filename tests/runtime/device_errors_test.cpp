// The device error record: one key encoding and one set of words for every family; on a GPU, errors recorded by
// ops surface at the next synchronisation and leave state untouched.
#include "reckon/runtime/detail/device_errors.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon::detail {
namespace {

TEST(DeviceErrors, KeysOrderOffsetsBeforeIdsThenOperandThenPosition) {
  const auto key = [](DeviceErrorKind k, std::int64_t o, std::int64_t p) { return device_error_key(k, o, p); };
  EXPECT_LT(key(DeviceErrorKind::kMalformedOffsets, 900, 1'000'000), key(DeviceErrorKind::kIndexOutOfRange, 0, 0));
  EXPECT_LT(key(DeviceErrorKind::kIndexOutOfRange, 0, (std::int64_t{1} << 40) - 1),
            key(DeviceErrorKind::kIndexOutOfRange, 1, 0));
  EXPECT_LT(key(DeviceErrorKind::kIndexOutOfRange, 3, 7), key(DeviceErrorKind::kIndexOutOfRange, 3, 8));
  EXPECT_LT(key(DeviceErrorKind::kIndexOutOfRange, 2, 5), kNoDeviceError);
  const std::uint64_t k = key(DeviceErrorKind::kInvalidAliasEntry, (1 << 20) - 1, (std::int64_t{1} << 40) - 1);
  EXPECT_EQ(device_error_kind(k), DeviceErrorKind::kInvalidAliasEntry);
  EXPECT_EQ(device_error_operand(k), (1 << 20) - 1);
  EXPECT_EQ(device_error_position(k), (std::int64_t{1} << 40) - 1);
}

DeviceErrorRecord record(DeviceOp op, DeviceErrorKind kind, std::int64_t operand, std::int64_t position,
                         long long value, long long limit) {
  DeviceErrorRecord r;
  r.key = device_error_key(kind, operand, position);
  r.op = static_cast<std::int32_t>(op);
  r.value = value;
  r.limit = limit;
  r.resolved = 1;
  return r;
}

TEST(DeviceErrors, MessagesNameTheOpOperandPositionAndValue) {
  const DeviceErrorRecord id = record(DeviceOp::kEmbeddingBagFwd, DeviceErrorKind::kIndexOutOfRange, 1, 2, 20, 20);
  EXPECT_EQ(device_error_code(id), StatusCode::kOutOfRange);
  EXPECT_EQ(device_error_message(id), "embedding_bag_fwd: table 1, index position 2: id 20 is outside [0, 20)");
  const DeviceErrorRecord offsets = record(DeviceOp::kEmbeddingBagBwdUpdate, DeviceErrorKind::kMalformedOffsets, 0, 3, -1, 9);
  EXPECT_EQ(device_error_code(offsets), StatusCode::kInvalidArgument);
  EXPECT_NE(device_error_message(offsets).find("embedding_bag_bwd_update: offsets of table 0 are malformed at bag 3"),
            std::string::npos);
  const DeviceErrorRecord fm = record(DeviceOp::kFmFusedBwd, DeviceErrorKind::kIndexOutOfRange, 2, 5, 107, 100);
  EXPECT_EQ(device_error_message(fm), "fm_interaction_fused_bwd: field 2, sample 5: id 107 is outside [0, 100)");
  const DeviceErrorRecord token = record(DeviceOp::kSgnsStep, DeviceErrorKind::kIndexOutOfRange, 1, 4, 77, 50);
  EXPECT_EQ(device_error_message(token), "sgns_step: token 77 at position 4 outside [0, 50)");
  try {
    throw_device_error(id, __FILE__, __LINE__);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kOutOfRange);
    EXPECT_EQ(e.message(), device_error_message(id));
  }
}

// An op with more than 64 operands resolves in chunks: a chunk that does not hold the key's operand leaves the record
// to the next, so the value and bound are the right table's; the last chunk marks the record resolved regardless.
TEST(DeviceErrors, ResolveInChunksFindsTheOperandsChunk) {
  std::vector<std::int32_t> ids(70 * 4);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
  const auto chunk = [&](int first, int count, bool last) {
    ErrorOperands o;
    o.op = DeviceOp::kEmbeddingBagBwd;
    o.first_operand = first;
    o.count = count;
    o.last = last;
    for (int k = 0; k < count; ++k) {
      o.ids[k] = ids.data() + (first + k) * 4;
      o.stride[k] = 1;
      o.limit[k] = 100 + first + k;
    }
    return o;
  };
  DeviceErrorRecord r;
  r.key = device_error_key(DeviceErrorKind::kIndexOutOfRange, 66, 3);
  resolve_device_error_record(r, chunk(0, 64, false));
  EXPECT_EQ(r.resolved, 0) << "the first chunk does not hold table 66";
  resolve_device_error_record(r, chunk(64, 6, true));
  EXPECT_EQ(r.resolved, 1);
  EXPECT_EQ(r.op, static_cast<std::int32_t>(DeviceOp::kEmbeddingBagBwd));
  EXPECT_EQ(r.value, 66 * 4 + 3);
  EXPECT_EQ(r.limit, 166);
  EXPECT_EQ(device_error_message(r), "embedding_bag_bwd: table 66, index position 3: id 267 is outside [0, 166)");

  DeviceErrorRecord early;
  early.key = device_error_key(DeviceErrorKind::kIndexOutOfRange, 5, 1);
  resolve_device_error_record(early, chunk(0, 64, false));
  EXPECT_EQ(early.value, 21);
  EXPECT_EQ(early.limit, 105);
  const DeviceErrorRecord before = early;
  resolve_device_error_record(early, chunk(64, 6, true));  // resolved already: unchanged
  EXPECT_EQ(early.value, before.value);
  EXPECT_EQ(early.limit, before.limit);

  DeviceErrorRecord nowhere;
  nowhere.key = device_error_key(DeviceErrorKind::kIndexOutOfRange, 90, 0);
  resolve_device_error_record(nowhere, chunk(64, 6, true));
  EXPECT_EQ(nowhere.resolved, 1) << "the last chunk resolves even an operand no chunk holds";
  EXPECT_EQ(nowhere.limit, -1);

  DeviceErrorRecord clear;
  resolve_device_error_record(clear, chunk(0, 64, true));
  EXPECT_EQ(clear.resolved, 0) << "a clear record stays clear";
}

// A forward with a bad id returns without waiting; the error is raised by the next synchronisation, once, and a
// state update enqueued while it is pending changes nothing.
TEST(DeviceErrorsCuda, RecordedByTheOpRaisedAtSynchronize) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const std::int64_t B = 4, D = 8, N = 10;
  Tensor table = Tensor::empty(ctx, DType::kF32, {N, D});
  const std::vector<float> ones(static_cast<std::size_t>(N * D), 1.0f);
  copy_bytes(ctx, table.data<float>(), ctx.device(), ones.data(), Device::cpu(), ones.size() * 4);
  const std::vector<std::int32_t> offsets{0, 1, 2, 3, 4}, bad{1, 2, 12, 3}, good{1, 2, 3, 4};
  Tensor off = Tensor::empty(ctx, DType::kI32, {B + 1}), ids = Tensor::empty(ctx, DType::kI32, {B}),
         good_ids = Tensor::empty(ctx, DType::kI32, {B});
  copy_bytes(ctx, off.data<std::int32_t>(), ctx.device(), offsets.data(), Device::cpu(), 5 * 4);
  copy_bytes(ctx, ids.data<std::int32_t>(), ctx.device(), bad.data(), Device::cpu(), 4 * 4);
  copy_bytes(ctx, good_ids.data<std::int32_t>(), ctx.device(), good.data(), Device::cpu(), 4 * 4);
  Tensor dst = Tensor::empty(ctx, DType::kF32, {B, 1, D});
  const std::vector<TensorView> tables{table.view()};
  const std::vector<EmbeddingBags> bad_bags{{off.view(), ids.view()}}, good_bags{{off.view(), good_ids.view()}};
  ctx.synchronize();
  EXPECT_NO_THROW(embedding_bag_fwd(ctx, tables, bad_bags, dst, {PoolingMode::kSum}));
  // Pending: this update must not move the table.
  const SparseOptimizer sgd{SparseOptimizerKind::kSgd, 1.0f};
  const std::vector<EmbeddingOptimizerState> states(1);
  embedding_bag_bwd_update(ctx, tables, good_bags, dst, {PoolingMode::kSum}, sgd, states);
  try {
    ctx.synchronize();
    ADD_FAILURE() << "no error at synchronize";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kOutOfRange);
    EXPECT_EQ(e.message(), "embedding_bag_fwd: table 0, index position 2: id 12 is outside [0, 10)");
  }
  EXPECT_EQ(testing::to_host<float>(ctx, table.view()), ones) << "an update ran while an error was pending";
  EXPECT_NO_THROW(ctx.synchronize()) << "the record is cleared once raised";
  embedding_bag_fwd(ctx, tables, good_bags, dst, {PoolingMode::kSum});
  EXPECT_NO_THROW(ctx.check_errors());
}

}  // namespace
}  // namespace reckon::detail
