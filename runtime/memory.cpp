#include "reckon/runtime/memory.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>

#include <sys/mman.h>

#include "reckon/config.h"
#include "reckon/runtime/detail/context_impl.h"
#include "reckon/runtime/error.h"

namespace reckon {

namespace {

void* host_alloc(std::size_t bytes, std::size_t alignment) {
  RECKON_CHECK_ARG(alignment > 0 && (alignment & (alignment - 1)) == 0, "alignment ", alignment,
                   " is not a power of two");
  void* p = ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
  if (p == nullptr) RECKON_THROW(StatusCode::kOutOfMemory, "host allocation of ", bytes, " bytes failed");
  return p;
}

#if RECKON_WITH_CUDA
// One stream-ordered pool per device. Freed blocks stay cached in the pool (release threshold: unlimited) so
// steady-state training allocates nothing from the driver.
cudaMemPool_t device_pool(int device) {
  static std::mutex mutex;
  static cudaMemPool_t pools[64] = {};
  RECKON_CHECK_ARG(device >= 0 && device < 64, "device index ", device, " out of range");
  std::lock_guard<std::mutex> lock(mutex);
  if (pools[device] == nullptr) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    cudaMemPool_t pool = nullptr;
    RECKON_CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    RECKON_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    pools[device] = pool;
  }
  return pools[device];
}
#endif

}  // namespace

Buffer::~Buffer() { reset(); }

Buffer::Buffer(Buffer&& other) noexcept
    : ptr_(other.ptr_),
      bytes_(other.bytes_),
      alignment_(other.alignment_),
      device_(other.device_),
      kind_(other.kind_),
      stream_(std::move(other.stream_)) {
  other.ptr_ = nullptr;
  other.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    reset();
    ptr_ = other.ptr_;
    bytes_ = other.bytes_;
    alignment_ = other.alignment_;
    device_ = other.device_;
    kind_ = other.kind_;
    stream_ = std::move(other.stream_);
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void Buffer::reset() {
  if (ptr_ != nullptr) {
    switch (kind_) {
      case MemoryKind::kHost: ::operator delete(ptr_, std::align_val_t(alignment_)); break;
      case MemoryKind::kPinned:
#if RECKON_WITH_CUDA
        (void)cudaFreeHost(ptr_);
        (void)cudaGetLastError();
#endif
        break;
      case MemoryKind::kDevice:
#if RECKON_WITH_CUDA
        // Destructors must not throw; a failed free here means the device is already broken, and the next
        // checked call will report it.
        if (cudaFreeAsync(ptr_, stream_->stream) != cudaSuccess) {
          std::fprintf(stderr, "reckon: cudaFreeAsync failed: %s\n", cudaGetErrorString(cudaGetLastError()));
        }
#endif
        break;
    }
  }
  ptr_ = nullptr;
  bytes_ = 0;
  stream_.reset();
}

Buffer Buffer::host(std::size_t bytes, std::size_t alignment) {
  // Large buffers (embedding tables and their optimizer state) are read at random rows: on 2 MiB pages a lookup
  // costs a cache miss instead of a cache miss plus a page walk. Ask for them where the kernel only gives huge
  // pages on request (transparent_hugepage=madvise); a refusal changes nothing but speed.
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const bool huge = bytes >= 2 * kHugePage;
  if (huge) alignment = std::max(alignment, kHugePage);
  Buffer b;
  b.bytes_ = bytes;
  b.alignment_ = alignment;
  b.kind_ = MemoryKind::kHost;
  b.device_ = Device::cpu();
  if (bytes > 0) b.ptr_ = host_alloc(bytes, alignment);
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(b.ptr_, bytes & ~(kHugePage - 1), MADV_HUGEPAGE);
#endif
  return b;
}

Buffer Buffer::pinned(std::size_t bytes) {
#if RECKON_WITH_CUDA
  if (cuda_available()) {
    Buffer b;
    b.bytes_ = bytes;
    b.kind_ = MemoryKind::kPinned;
    b.device_ = Device::cpu();
    if (bytes > 0) RECKON_CUDA_CHECK(cudaMallocHost(&b.ptr_, bytes));
    return b;
  }
#endif
  return host(bytes);
}

Buffer Buffer::on_device(Context& ctx, std::size_t bytes) {
  if (ctx.device().is_cpu()) return host(bytes);
#if RECKON_WITH_CUDA
  RECKON_REFUSE_WHILE_CAPTURING(ctx.capturing(), "device allocation of ", bytes, " bytes inside a CUDA graph capture "
                                "(memory a graph allocates is the graph's); allocate it before capturing");
  Buffer b;
  b.bytes_ = bytes;
  b.kind_ = MemoryKind::kDevice;
  b.device_ = ctx.device();
  b.stream_ = detail::ContextAccess::stream_holder(ctx);
  if (bytes > 0) {
    detail::DeviceGuard guard(ctx.device().index);
    const cudaError_t status =
        cudaMallocFromPoolAsync(&b.ptr_, bytes, device_pool(ctx.device().index), b.stream_->stream);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      RECKON_THROW(StatusCode::kOutOfMemory, "device allocation of ", bytes, " bytes on ", ctx.device().str(),
                   " failed (pool holds ", device_pool_stats(ctx.device()).reserved_bytes, " bytes)");
    }
    RECKON_CUDA_CHECK(status);
  }
  return b;
#else
  detail::throw_not_compiled("Buffer::on_device", "CUDA", __FILE__, __LINE__);
#endif
}

DevicePoolStats device_pool_stats(Device device) {
  DevicePoolStats stats;
  RECKON_CHECK_ARG(device.is_cuda(), "device_pool_stats needs a CUDA device, got ", device.str());
#if RECKON_WITH_CUDA
  cudaMemPool_t pool = device_pool(device.index);
  std::uint64_t used = 0;
  std::uint64_t reserved = 0;
  RECKON_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used));
  RECKON_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
  stats.used_bytes = used;
  stats.reserved_bytes = reserved;
#else
  detail::throw_not_compiled("device_pool_stats", "CUDA", __FILE__, __LINE__);
#endif
  return stats;
}

void device_pool_trim(Device device) {
  RECKON_CHECK_ARG(device.is_cuda(), "device_pool_trim needs a CUDA device, got ", device.str());
#if RECKON_WITH_CUDA
  detail::DeviceGuard guard(device.index);
  RECKON_CUDA_CHECK(cudaDeviceSynchronize());
  RECKON_CUDA_CHECK(cudaMemPoolTrimTo(device_pool(device.index), 0));
#else
  detail::throw_not_compiled("device_pool_trim", "CUDA", __FILE__, __LINE__);
#endif
}

#if RECKON_WITH_CUDA
namespace {

// A captured copy would replay from the host address it saw, whatever lives there by then; and a copy into pageable
// memory synchronises. Copies between device buffers are what a graph may hold.
void refuse_host_copy_while_capturing(Context& ctx, Device dst_device, Device src_device, std::size_t bytes) {
  RECKON_REFUSE_WHILE_CAPTURING(ctx.capturing() && (dst_device.is_cpu() || src_device.is_cpu()), "a copy of ", bytes,
                                " bytes from ", src_device.str(), " to ", dst_device.str(),
                                " inside a CUDA graph capture; copy host data in before capturing or after a replay");
}

}  // namespace
#endif

void copy_bytes(Context& ctx, void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  RECKON_CHECK_ARG(dst != nullptr && src != nullptr, "copy_bytes: null pointer with ", bytes, " bytes to copy");
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    // Host to host: ordered after earlier work on the stream, which may be writing src.
    ctx.synchronize();
    std::memmove(dst, src, bytes);
    return;
  }
#if RECKON_WITH_CUDA
  RECKON_CHECK_ARG(ctx.is_cuda(), "copy_bytes between ", src_device.str(), " and ", dst_device.str(),
                   " needs a CUDA context, got ", ctx.device().str());
  refuse_host_copy_while_capturing(ctx, dst_device, src_device, bytes);
  detail::DeviceGuard guard(ctx.device().index);
  RECKON_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, detail::cuda_stream(ctx)));
#else
  detail::throw_not_compiled("copy_bytes", "CUDA", __FILE__, __LINE__);
#endif
}

namespace {

// `rows` rows of `width` bytes, dst_pitch / src_pitch bytes apart: one strided 2-D copy.
void copy_rows(Context& ctx, void* dst, Device dst_device, std::size_t dst_pitch, const void* src, Device src_device,
               std::size_t src_pitch, std::size_t width, std::size_t rows) {
  if (rows == 0 || width == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    ctx.synchronize();
    for (std::size_t r = 0; r < rows; ++r) {
      std::memmove(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, width);
    }
    return;
  }
#if RECKON_WITH_CUDA
  RECKON_CHECK_ARG(ctx.is_cuda(), "copy between ", src_device.str(), " and ", dst_device.str(),
                   " needs a CUDA context, got ", ctx.device().str());
  refuse_host_copy_while_capturing(ctx, dst_device, src_device, rows * width);
  detail::DeviceGuard guard(ctx.device().index);
  RECKON_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDefault,
                                      detail::cuda_stream(ctx)));
#else
  detail::throw_not_compiled("copy", "CUDA", __FILE__, __LINE__);
#endif
}

}  // namespace

void copy(Context& ctx, const TensorView& dst, const TensorView& src) {
  RECKON_CHECK_ARG(dst.dtype == src.dtype, "copy: dtype mismatch, dst ", dst.shape_str(), ", src ", src.shape_str());
  bool same_shape = dst.ndim == src.ndim;
  for (int d = 0; same_shape && d < dst.ndim; ++d) same_shape = dst.size(d) == src.size(d);
  RECKON_CHECK_ARG(same_shape, "copy: shape mismatch, dst ", dst.shape_str(), ", src ", src.shape_str());
  if (dst.is_contiguous() && src.is_contiguous()) {
    copy_bytes(ctx, dst.data, dst.device, src.data, src.device, src.nbytes());
    return;
  }
  const std::int64_t dst_stride = dst.row_stride(), src_stride = src.row_stride();
  RECKON_CHECK_ARG(dst_stride >= 0 && src_stride >= 0,
                   "copy: tensors must be contiguous, or 1-/2-D with unit column stride, got dst ", dst.shape_str(),
                   " and src ", src.shape_str());
  const std::size_t element = dtype_size(src.dtype);
  const std::int64_t cols = src.ndim == 2 ? src.size(1) : 1;
  copy_rows(ctx, dst.data, dst.device, static_cast<std::size_t>(dst_stride) * element, src.data, src.device,
            static_cast<std::size_t>(src_stride) * element, static_cast<std::size_t>(cols) * element,
            static_cast<std::size_t>(src.size(0)));
}

Tensor Tensor::empty(Context& ctx, DType dtype, const std::int64_t* sizes, int ndim) {
  Tensor t;
  t.view_ = TensorView::contiguous(nullptr, dtype, ctx.device(), sizes, ndim);
  t.buffer_ = Buffer::on_device(ctx, t.view_.nbytes());
  t.view_.data = t.buffer_.data();
  return t;
}

Tensor Tensor::empty(Context& ctx, DType dtype, std::initializer_list<std::int64_t> sizes) {
  return empty(ctx, dtype, sizes.begin(), static_cast<int>(sizes.size()));
}

Tensor Tensor::empty_host(DType dtype, std::initializer_list<std::int64_t> sizes, bool pinned) {
  Tensor t;
  t.view_ = TensorView::contiguous(nullptr, dtype, Device::cpu(), sizes);
  t.buffer_ = pinned ? Buffer::pinned(t.view_.nbytes()) : Buffer::host(t.view_.nbytes());
  t.view_.data = t.buffer_.data();
  return t;
}

Tensor Tensor::to(Context& ctx, Device device) const {
  Tensor t;
  t.view_ = TensorView::contiguous(nullptr, dtype(), device, view_.sizes.data(), view_.ndim);
  if (device.is_cpu()) {
    t.buffer_ = Buffer::host(t.view_.nbytes());
  } else {
    RECKON_CHECK_ARG(ctx.device() == device, "Tensor::to(", device.str(), ") needs a context on that device, got ",
                     ctx.device().str());
    t.buffer_ = Buffer::on_device(ctx, t.view_.nbytes());
  }
  t.view_.data = t.buffer_.data();
  copy(ctx, t.view_, view_);
  return t;
}

}  // namespace reckon
