// Internal (not installed): the one record of device-side input errors per Context, and its one key encoding.
//
// Kernels that read by index (embedding ids and offsets, FM ids, SGNS tokens) cannot throw. On a bad value they
// min-merge a key into the context's record, so the first error by (kind, operand, position) wins as it does on
// the CPU, and write nothing for that item. A kernel records only while the record is clear, and kernels that
// update state (optimizers, SGNS) do nothing while it holds an error, so "a rejected call changes nothing" holds
// without a host round trip. After an op's kernels, a one-thread resolve kernel, enqueued while the op's inputs
// are alive, stores the offending value, the bound it broke and the op. The host reads the record at the next
// synchronisation (Context::synchronize / check_errors) and throws there; the CPU paths throw at once, with the
// same message built from the same record.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon {
class Context;

namespace detail {

enum class DeviceErrorKind : std::uint32_t {
  kMalformedOffsets = 0,   // bag or sentence offsets out of order or out of bounds: reported before bad ids
  kIndexOutOfRange = 1,    // an id or token outside its table
  kInvalidAliasEntry = 2,  // an SGNS alias-table entry
};

// The ops that record device errors; the record names its op so the message does.
enum class DeviceOp : std::int32_t {
  kUnknown = 0,
  kEmbeddingBagFwd,
  kEmbeddingBagBwd,
  kEmbeddingBagBwdUpdate,
  kFmFwd,
  kFmBwd,
  kFmFusedFwd,
  kFmFusedBwd,
  kSgnsStep,
};
const char* device_op_name(DeviceOp op) noexcept;

inline constexpr std::uint64_t kNoDeviceError = ~std::uint64_t{0};
inline constexpr int kErrorPositionBits = 40;  // positions below 2^40 (ids of one call)
inline constexpr int kErrorOperandBits = 20;   // tables or fields below 2^20
inline constexpr int kErrorKindShift = kErrorPositionBits + kErrorOperandBits;

struct DeviceErrorRecord {
  unsigned long long key = kNoDeviceError;  // min-merged (atomicMin takes unsigned long long); clear: kNoDeviceError
  long long value = -1;                     // the offending id, once resolved
  long long limit = -1;                     // the exclusive bound it broke (table rows, vocabulary)
  std::int32_t op = 0;                      // DeviceOp
  std::int32_t resolved = 0;
};

RECKON_HOST_DEVICE std::uint64_t device_error_key(DeviceErrorKind kind, std::int64_t operand, std::int64_t position) {
  return (static_cast<std::uint64_t>(kind) << kErrorKindShift) |
         (static_cast<std::uint64_t>(operand) << kErrorPositionBits) | static_cast<std::uint64_t>(position);
}
RECKON_HOST_DEVICE DeviceErrorKind device_error_kind(std::uint64_t key) {
  return static_cast<DeviceErrorKind>(key >> kErrorKindShift);
}
RECKON_HOST_DEVICE std::int64_t device_error_operand(std::uint64_t key) {
  return static_cast<std::int64_t>((key >> kErrorPositionBits) & ((std::uint64_t{1} << kErrorOperandBits) - 1));
}
RECKON_HOST_DEVICE std::int64_t device_error_position(std::uint64_t key) {
  return static_cast<std::int64_t>(key & ((std::uint64_t{1} << kErrorPositionBits) - 1));
}

// What the resolve step reads of an op's inputs: for operand o (a table, a field), the id at
// ids[o - first_operand][position · stride[o - first_operand]] and its bound.
// An op with more operands resolves in chunks of kMaxErrorOperands, enqueued in order, the last with `last` set.
inline constexpr int kMaxErrorOperands = 64;
struct ErrorOperands {
  DeviceOp op = DeviceOp::kUnknown;
  int first_operand = 0;
  int count = 0;
  bool ids_i64 = false;
  bool last = true;  // the op's last chunk: it marks the record resolved even if no chunk held the operand
  const void* ids[kMaxErrorOperands] = {};
  std::int64_t stride[kMaxErrorOperands] = {};
  std::int64_t limit[kMaxErrorOperands] = {};
};

// The resolve step (one thread on the device, or the host on a host copy of the record and host operands): the
// only unresolved error can be the op's own, since every op resolves right after its kernels and no kernel records
// while the record holds a resolved error. The chunk that holds the key's operand adds the value and its bound; a
// chunk that does not leaves the record to the next one.
RECKON_HOST_DEVICE void resolve_device_error_record(DeviceErrorRecord& record, const ErrorOperands& operands) {
  const std::uint64_t key = record.key;
  if (key == kNoDeviceError || record.resolved != 0) return;
  const std::int64_t o = device_error_operand(key) - operands.first_operand;
  const bool held = o >= 0 && o < operands.count;
  if (!held && !operands.last) return;
  record.op = static_cast<std::int32_t>(operands.op);
  record.resolved = 1;
  if (!held) return;
  record.limit = operands.limit[o];
  if (device_error_kind(key) != DeviceErrorKind::kIndexOutOfRange || operands.ids[o] == nullptr) return;
  const std::int64_t at = device_error_position(key) * operands.stride[o];
  record.value = operands.ids_i64 ? static_cast<const long long*>(operands.ids[o])[at]
                                  : static_cast<const int*>(operands.ids[o])[at];
}

// The error a record holds, as the host raises it (the same words on every device).
StatusCode device_error_code(const DeviceErrorRecord& record) noexcept;
std::string device_error_message(const DeviceErrorRecord& record);
[[noreturn]] void throw_device_error(const DeviceErrorRecord& record, const char* file, int line);

// The context's record in device memory, allocated (and cleared, stream-ordered) on first use.
DeviceErrorRecord* device_error_record(Context& ctx);
// Enqueues the resolve step on the context's stream (CUDA contexts only).
void resolve_device_error(Context& ctx, const ErrorOperands& operands);
// Enqueues an op's resolve steps when the op ends, however it ends: a throw between a kernel that recorded and the
// resolve (an allocation, a CUB call, a later launch) would otherwise leave the next op's resolve to decode this
// op's key against its own operands. finish() is the normal path, where errors propagate; the destructor is the
// unwinding path, where they are dropped (the exception in flight is the one to report).
class ResolveAtExit {
 public:
  ResolveAtExit(Context& ctx, std::vector<ErrorOperands> chunks) : ctx_(&ctx), chunks_(std::move(chunks)) {}
  ResolveAtExit(const ResolveAtExit&) = delete;
  ResolveAtExit& operator=(const ResolveAtExit&) = delete;
  ~ResolveAtExit() {
    if (chunks_.empty()) return;
    try {
      finish();
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
  }
  void finish() {
    std::vector<ErrorOperands> chunks = std::exchange(chunks_, {});
    for (const ErrorOperands& chunk : chunks) resolve_device_error(*ctx_, chunk);
  }

 private:
  Context* ctx_;
  std::vector<ErrorOperands> chunks_;
};

// RECKON_SYNC_LAUNCHES=1: synchronise and raise a recorded error here, at the op that recorded it.
void after_device_op(Context& ctx);

}  // namespace detail
}  // namespace reckon
