// A model's activations in one block, sized once per batch shape: each slot holds `per_sample` f32 values per sample
// of the largest batch seen (plus `fixed` values), so a training step allocates nothing. Parameters and optimizer
// state live in the layers, never here.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/tensor.h"

namespace reckon::layers {

class ActivationArena {
 public:
  // A new slot; its id names it in view(). Slots are added before the first reserve().
  int add(std::int64_t per_sample, std::int64_t fixed = 0);
  // Room for batches of up to `batch` samples. Grows only past the capacity; the old block is retired, not freed
  // (a CUDA graph captured at the smaller size still points into it), and growing inside a capture is refused.
  void reserve(Context& ctx, std::int64_t batch);
  std::int64_t capacity() const { return capacity_; }
  // A contiguous view of the first elements of a slot: f32, or another 4-byte type (i32 for pooling's argmax).
  TensorView view(int slot, std::initializer_list<std::int64_t> sizes, DType dtype = DType::kF32) const;

 private:
  struct Slot {
    std::int64_t per_sample, fixed, offset;
  };
  std::vector<Slot> slots_;
  Buffer block_;
  std::int64_t capacity_ = 0;
  Device device_ = Device::cpu();
};

}  // namespace reckon::layers
