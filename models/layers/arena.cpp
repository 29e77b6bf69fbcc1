#include "reckon/models/layers/arena.h"

#include "reckon/runtime/error.h"

namespace reckon::layers {

namespace {
constexpr std::int64_t kSlotAlignment = 16;  // f32 values: every slot starts on a 64-byte line
}

int ActivationArena::add(std::int64_t per_sample, std::int64_t fixed) {
  RECKON_CHECK_ARG(per_sample >= 0 && fixed >= 0, "an arena slot needs sizes >= 0, got ", per_sample, ", ", fixed);
  RECKON_CHECK_ARG(capacity_ == 0, "arena slots are added before the arena is first sized");
  slots_.push_back({per_sample, fixed, 0});
  return static_cast<int>(slots_.size() - 1);
}

void ActivationArena::reserve(Context& ctx, std::int64_t batch) {
  if (batch <= capacity_) return;
  if (ctx.capturing()) {
    RECKON_THROW(StatusCode::kUnsupported, "the model's activations would grow from ", capacity_, " to ", batch,
                 " samples inside a CUDA graph capture; take one step at this batch size before capturing");
  }
  std::int64_t total = 0;
  for (Slot& s : slots_) {
    s.offset = total;
    total += (s.per_sample * batch + s.fixed + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
  }
  ctx.retire(std::move(block_));
  block_ = Buffer::on_device(ctx, static_cast<std::size_t>(std::max<std::int64_t>(total, 1)) * sizeof(float));
  capacity_ = batch;
  device_ = ctx.device();
}

TensorView ActivationArena::view(int slot, std::initializer_list<std::int64_t> sizes, DType dtype) const {
  RECKON_CHECK_ARG(slot >= 0 && static_cast<std::size_t>(slot) < slots_.size(), "no arena slot ", slot);
  RECKON_CHECK_ARG(dtype_size(dtype) == 4, "arena slots hold 4-byte values, not ", dtype_name(dtype));
  const Slot& s = slots_[static_cast<std::size_t>(slot)];
  TensorView v = TensorView::contiguous(static_cast<float*>(block_.data()) + s.offset, dtype, device_, sizes);
  RECKON_CHECK_ARG(v.numel() <= s.per_sample * capacity_ + s.fixed, "a view of ", v.numel(),
                   " elements into an arena slot of ", s.per_sample * capacity_ + s.fixed);
  return v;
}

}  // namespace reckon::layers
