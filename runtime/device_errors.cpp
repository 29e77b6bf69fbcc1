// Host side of the device error record: the words of each error (runtime/detail/device_errors.h).
#include "reckon/runtime/detail/device_errors.h"

#include "reckon/runtime/context.h"

namespace reckon::detail {

const char* device_op_name(DeviceOp op) noexcept {
  switch (op) {
    case DeviceOp::kUnknown: break;
    case DeviceOp::kEmbeddingBagFwd: return "embedding_bag_fwd";
    case DeviceOp::kEmbeddingBagBwd: return "embedding_bag_bwd";
    case DeviceOp::kEmbeddingBagBwdUpdate: return "embedding_bag_bwd_update";
    case DeviceOp::kFmFwd: return "fm_interaction_fwd";
    case DeviceOp::kFmBwd: return "fm_interaction_bwd";
    case DeviceOp::kFmFusedFwd: return "fm_interaction_fused_fwd";
    case DeviceOp::kFmFusedBwd: return "fm_interaction_fused_bwd";
    case DeviceOp::kSgnsStep: return "sgns_step";
  }
  return "a device operation";
}

StatusCode device_error_code(const DeviceErrorRecord& record) noexcept {
  return device_error_kind(record.key) == DeviceErrorKind::kMalformedOffsets ? StatusCode::kInvalidArgument
                                                                              : StatusCode::kOutOfRange;
}

std::string device_error_message(const DeviceErrorRecord& record) {
  const auto op = static_cast<DeviceOp>(record.op);
  const char* name = device_op_name(op);
  const std::int64_t operand = device_error_operand(record.key), position = device_error_position(record.key);
  const DeviceErrorKind kind = device_error_kind(record.key);
  if (op == DeviceOp::kSgnsStep) {
    switch (kind) {
      case DeviceErrorKind::kMalformedOffsets:
        return concat(name, ": sentence offsets malformed at entry ", position, " (must run from 0 to ", record.limit,
                      ", non-decreasing)");
      case DeviceErrorKind::kIndexOutOfRange:
        return concat(name, ": token ", record.value, " at position ", position, " outside [0, ", record.limit, ")");
      case DeviceErrorKind::kInvalidAliasEntry: return concat(name, ": alias table entry ", position, " is invalid");
    }
  }
  if (op == DeviceOp::kFmFusedFwd || op == DeviceOp::kFmFusedBwd) {
    return concat(name, ": field ", operand, ", sample ", position, ": id ", record.value, " is outside [0, ",
                  record.limit, ")");
  }
  if (kind == DeviceErrorKind::kMalformedOffsets) {
    return concat(name, ": offsets of table ", operand, " are malformed at bag ", position,
                  " (offsets must be non-decreasing, start at >= 0 and end at <= the index count)");
  }
  return concat(name, ": table ", operand, ", index position ", position, ": id ", record.value, " is outside [0, ",
                record.limit, ")");
}

void throw_device_error(const DeviceErrorRecord& record, const char* file, int line) {
  throw Error(device_error_code(record), device_error_message(record), file, line);
}

}  // namespace reckon::detail
