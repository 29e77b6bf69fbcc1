// Memory: owning buffers (aligned host, pinned host, device from a stream-ordered pool), owning tensors, and
// copies between any two of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

namespace detail {
struct StreamHolder;
}

enum class MemoryKind : std::uint8_t { kHost, kPinned, kDevice };

inline constexpr std::size_t kHostAlignment = 64;  // a cache line; also satisfies every SIMD load we issue

class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  static Buffer host(std::size_t bytes, std::size_t alignment = kHostAlignment);
  // Page-locked host memory when a CUDA device answers (fast, asynchronous copies); aligned pageable memory
  // otherwise, so CPU-only programs can use the same code.
  static Buffer pinned(std::size_t bytes);
  // Memory on the context's device: from the device's stream-ordered pool on a GPU (allocated and later freed
  // in order on the context's stream), aligned host memory on a CPU context.
  static Buffer on_device(Context& ctx, std::size_t bytes);

  void* data() const { return ptr_; }
  std::size_t size() const { return bytes_; }
  Device device() const { return device_; }
  MemoryKind kind() const { return kind_; }
  bool empty() const { return bytes_ == 0; }
  void reset();

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t alignment_ = 0;
  Device device_ = Device::cpu();
  MemoryKind kind_ = MemoryKind::kHost;
  std::shared_ptr<detail::StreamHolder> stream_;  // keeps the allocating stream alive for the ordered free
};

// Bytes held by a GPU's pool: in use by live buffers, and reserved from the driver (cached for reuse).
struct DevicePoolStats {
  std::size_t used_bytes = 0;
  std::size_t reserved_bytes = 0;
};
DevicePoolStats device_pool_stats(Device device);
// Return cached, unused pool memory to the driver.
void device_pool_trim(Device device);

// Copy `bytes` from src to dst, each on the given device, enqueued on ctx's stream. Copies that read device memory
// into pageable host memory complete before returning; others are complete after ctx.synchronize().
void copy_bytes(Context& ctx, void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
// Copy between two tensors of the same dtype and shape on any devices: contiguous, or 2-D with unit column
// stride and any row strides (one strided 2-D copy). Completion as for copy_bytes.
void copy(Context& ctx, const TensorView& dst, const TensorView& src);

// An owning tensor: a Buffer and a contiguous view of it.
class Tensor {
 public:
  Tensor() = default;
  // Uninitialised tensor on ctx's device.
  static Tensor empty(Context& ctx, DType dtype, std::initializer_list<std::int64_t> sizes);
  static Tensor empty(Context& ctx, DType dtype, const std::int64_t* sizes, int ndim);
  // Uninitialised tensor in host memory (pinned when `pinned`).
  static Tensor empty_host(DType dtype, std::initializer_list<std::int64_t> sizes, bool pinned = false);

  const TensorView& view() const { return view_; }
  operator const TensorView&() const { return view_; }  // NOLINT: a Tensor is usable wherever a view is
  Device device() const { return view_.device; }
  DType dtype() const { return view_.dtype; }
  int ndim() const { return view_.ndim; }
  std::int64_t size(int dim) const { return view_.size(dim); }
  std::int64_t numel() const { return view_.numel(); }
  std::size_t nbytes() const { return view_.nbytes(); }
  template <typename T>
  T* data() const {
    return view_.data_as<T>();
  }

  // A copy on `device` (enqueued on ctx's stream; synchronise before reading a host result).
  Tensor to(Context& ctx, Device device) const;

 private:
  friend class Context;  // Context::retire takes the buffer
  Buffer buffer_;
  TensorView view_;
};

}  // namespace reckon
