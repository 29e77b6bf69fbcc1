#include "reckon/runtime/context.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "reckon/config.h"
#include "reckon/runtime/detail/context_impl.h"
#include "reckon/runtime/detail/device_errors.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"

namespace reckon {
namespace detail {

#if RECKON_WITH_CUDA
StreamHolder::StreamHolder(int dev) : device(dev) {
  DeviceGuard guard(device);
  RECKON_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
}

StreamHolder::StreamHolder(int dev, cudaStream_t borrowed) : device(dev), stream(borrowed), owned(false) {}

StreamHolder::~StreamHolder() {
  if (!owned) return;  // its owner orders our stream-ordered frees before anything it does later
  // Pending work (including stream-ordered frees) must finish before the stream goes away.
  int previous = -1;
  (void)cudaGetDevice(&previous);
  (void)cudaSetDevice(device);
  (void)cudaStreamSynchronize(stream);
  (void)cudaStreamDestroy(stream);
  if (previous >= 0) (void)cudaSetDevice(previous);
  (void)cudaGetLastError();
}
#endif

struct GraphPins {
  std::vector<Buffer> buffers;
};

// cuBLAS's workspace, owned by the context so cuBLAS never allocates one inside a graph capture (32 MiB: what
// cuBLAS's documentation recommends for Hopper).
inline constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

struct ContextImpl {
  Device device;
  std::uint64_t seed = kDefaultSeed;
  std::uint64_t next_stream = 0;
  int cpu_threads = 1;
  Buffer workspace;
  std::shared_ptr<StreamHolder> stream;
  Buffer error_record;    // DeviceErrorRecord on the device, allocated by the first op that may record one
  Buffer error_readback;  // its pinned host copy, read at synchronize()
  bool capturing = false;  // a CUDA graph capture is open on the stream (runtime/graph.h)
  std::shared_ptr<GraphPins> pins = std::make_shared<GraphPins>();
  Buffer cublas_workspace;
#if RECKON_WITH_CUDA
  cublasHandle_t cublas = nullptr;
#if RECKON_WITH_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
#endif

  ~ContextImpl() {
    workspace.reset();
    error_record.reset();
#if RECKON_WITH_CUDA
    if (device.is_cuda()) {
      int previous = -1;
      (void)cudaGetDevice(&previous);
      (void)cudaSetDevice(device.index);
      if (cublas != nullptr) (void)cublasDestroy(cublas);
      cublas_workspace.reset();
#if RECKON_WITH_CUDNN
      if (cudnn != nullptr) (void)cudnnDestroy(cudnn);
#endif
      if (previous >= 0) (void)cudaSetDevice(previous);
      (void)cudaGetLastError();
    }
#endif
  }
};

const std::shared_ptr<StreamHolder>& ContextAccess::stream_holder(const Context& ctx) { return ctx.impl_->stream; }

#if RECKON_WITH_CUDA
cudaStream_t cuda_stream(const Context& ctx) {
  const auto& holder = ContextAccess::stream_holder(ctx);
  return holder ? holder->stream : nullptr;
}

cublasHandle_t cublas_handle(Context& ctx) {
  ContextImpl& impl = ContextAccess::impl(ctx);
  RECKON_CHECK_ARG(impl.device.is_cuda(), "cuBLAS needs a CUDA context, this one is ", impl.device.str());
  if (impl.cublas == nullptr) {
    DeviceGuard guard(impl.device.index);
    RECKON_REFUSE_WHILE_CAPTURING(impl.capturing, "cuBLAS's handle is created on first use, which a CUDA graph "
                                  "capture may not do; run the step once before capturing");
    RECKON_CUDA_CHECK(cublasCreate(&impl.cublas));
    RECKON_CUDA_CHECK(cublasSetStream(impl.cublas, impl.stream->stream));
    // After the stream: setting a stream resets the workspace to cuBLAS's own.
    impl.cublas_workspace = Buffer::on_device(ctx, kCublasWorkspaceBytes);
    RECKON_CUDA_CHECK(cublasSetWorkspace(impl.cublas, impl.cublas_workspace.data(), kCublasWorkspaceBytes));
  }
  return impl.cublas;
}

#if RECKON_WITH_CUDNN
cudnnHandle_t cudnn_handle(Context& ctx) {
  ContextImpl& impl = ContextAccess::impl(ctx);
  RECKON_CHECK_ARG(impl.device.is_cuda(), "cuDNN needs a CUDA context, this one is ", impl.device.str());
  if (impl.cudnn == nullptr) {
    RECKON_REFUSE_WHILE_CAPTURING(impl.capturing, "cuDNN's handle is created on first use, which a CUDA graph capture "
                                  "may not do; run the step once before capturing");
    DeviceGuard guard(impl.device.index);
    RECKON_CUDA_CHECK(cudnnCreate(&impl.cudnn));
    RECKON_CUDA_CHECK(cudnnSetStream(impl.cudnn, impl.stream->stream));
  }
  return impl.cudnn;
}
#endif
#endif

#if RECKON_WITH_CUDA
namespace {

// The clear record ({key, value, limit} all ones, {op, resolved} zero) by two memsets: no host memory involved, so
// it is legal inside a graph capture and reads nothing after the call returns.
void clear_device_error_record(DeviceErrorRecord* record, cudaStream_t stream) {
  static_assert(sizeof(DeviceErrorRecord) == 32 && offsetof(DeviceErrorRecord, op) == 24);
  static_assert(kNoDeviceError == ~std::uint64_t{0});
  RECKON_CUDA_CHECK(cudaMemsetAsync(record, 0xff, offsetof(DeviceErrorRecord, op), stream));
  RECKON_CUDA_CHECK(
      cudaMemsetAsync(&record->op, 0, sizeof(DeviceErrorRecord) - offsetof(DeviceErrorRecord, op), stream));
}

}  // namespace

DeviceErrorRecord* device_error_record(Context& ctx) {
  ContextImpl& impl = ContextAccess::impl(ctx);
  RECKON_CHECK_ARG(impl.device.is_cuda(), "the device error record belongs to CUDA contexts");
  if (impl.error_record.data() == nullptr) {
    RECKON_REFUSE_WHILE_CAPTURING(impl.capturing, "the device error record is created on first use, which a CUDA "
                                  "graph capture may not do");
    impl.error_record = Buffer::on_device(ctx, sizeof(DeviceErrorRecord));
    impl.error_readback = Buffer::pinned(sizeof(DeviceErrorRecord));
    *static_cast<DeviceErrorRecord*>(impl.error_readback.data()) = DeviceErrorRecord{};
    clear_device_error_record(static_cast<DeviceErrorRecord*>(impl.error_record.data()), impl.stream->stream);
  }
  return static_cast<DeviceErrorRecord*>(impl.error_record.data());
}
#else
void resolve_device_error(Context&, const ErrorOperands&) {
  throw_not_compiled("resolve_device_error", "CUDA", __FILE__, __LINE__);
}
#endif

void after_device_op(Context& ctx) {
#if RECKON_WITH_CUDA
  if (ctx.is_cuda() && sync_launches() && !ctx.capturing()) ctx.synchronize();
#else
  (void)ctx;
#endif
}

bool& capture_flag(Context& ctx) { return ContextAccess::impl(ctx).capturing; }

std::shared_ptr<GraphPins> graph_pins(Context& ctx) { return ContextAccess::impl(ctx).pins; }

}  // namespace detail

Context::Context(Device device, std::uint64_t seed) : impl_(std::make_unique<detail::ContextImpl>()) {
  impl_->device = device;
  impl_->seed = seed;
  impl_->cpu_threads = std::max(1, omp_get_max_threads());
  if (device.is_cuda()) {
#if RECKON_WITH_CUDA
    if (device.index < 0 || device.index >= cuda_device_count()) {
      RECKON_THROW(StatusCode::kNoDevice, "cannot create a context on ", device.str(), ": ",
                   cuda_available() ? detail::concat("only ", cuda_device_count(), " CUDA device(s) answer")
                                    : cuda_unavailable_reason());
    }
    impl_->stream = std::make_shared<detail::StreamHolder>(device.index);
#else
    detail::throw_not_compiled("Context", "CUDA", __FILE__, __LINE__);
#endif
  }
}

Context Context::on_stream(Device device, CUstream_st* stream, std::uint64_t seed) {
  RECKON_CHECK_ARG(device.is_cuda(), "Context::on_stream needs a CUDA device, got ", device.str());
#if RECKON_WITH_CUDA
  Context ctx(Device::cpu(), seed);
  ctx.impl_->device = device;
  if (device.index < 0 || device.index >= cuda_device_count()) {
    RECKON_THROW(StatusCode::kNoDevice, "cannot create a context on ", device.str(), ": ",
                 cuda_available() ? detail::concat("only ", cuda_device_count(), " CUDA device(s) answer")
                                  : cuda_unavailable_reason());
  }
  ctx.impl_->stream = std::make_shared<detail::StreamHolder>(device.index, stream);
  return ctx;
#else
  (void)stream;
  (void)seed;
  detail::throw_not_compiled("Context::on_stream", "CUDA", __FILE__, __LINE__);
#endif
}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

Device Context::device() const { return impl_->device; }

CUstream_st* Context::stream() const {
#if RECKON_WITH_CUDA
  return detail::cuda_stream(*this);
#else
  return nullptr;
#endif
}

void Context::synchronize() {
#if RECKON_WITH_CUDA
  if (!impl_->stream) return;
  RECKON_REFUSE_WHILE_CAPTURING(impl_->capturing, "synchronize() inside a CUDA graph capture: a captured step may "
                                "not wait for the device or read to the host (losses, predictions, counts); read them "
                                "after a replay");
  cudaStream_t stream = impl_->stream->stream;
  auto* record = static_cast<detail::DeviceErrorRecord*>(impl_->error_record.data());
  auto* readback = static_cast<detail::DeviceErrorRecord*>(impl_->error_readback.data());
  if (record != nullptr) {
    RECKON_CUDA_CHECK(cudaMemcpyAsync(readback, record, sizeof(*record), cudaMemcpyDeviceToHost, stream));
  }
  RECKON_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (record != nullptr && readback->key != detail::kNoDeviceError) {
    const detail::DeviceErrorRecord error = *readback;
    *readback = detail::DeviceErrorRecord{};
    detail::clear_device_error_record(record, stream);
    detail::throw_device_error(error, __FILE__, __LINE__);
  }
#endif
}

StreamEvent::StreamEvent(Context& ctx) : ctx_(&ctx) {
#if RECKON_WITH_CUDA
  if (ctx.is_cuda()) {
    detail::DeviceGuard guard(ctx.device().index);
    cudaEvent_t event = nullptr;
    RECKON_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    event_ = event;
  }
#endif
}

StreamEvent::~StreamEvent() {
#if RECKON_WITH_CUDA
  if (event_ != nullptr) {
    (void)cudaEventDestroy(static_cast<cudaEvent_t>(event_));
    (void)cudaGetLastError();
  }
#endif
}

StreamEvent::StreamEvent(StreamEvent&& other) noexcept
    : ctx_(other.ctx_),
      event_(std::exchange(other.event_, nullptr)),
      recorded_(std::exchange(other.recorded_, false)) {}

StreamEvent& StreamEvent::operator=(StreamEvent&& other) noexcept {
  if (this != &other) {
    StreamEvent gone(std::move(*this));
    ctx_ = other.ctx_;
    event_ = std::exchange(other.event_, nullptr);
    recorded_ = std::exchange(other.recorded_, false);
  }
  return *this;
}

void StreamEvent::record() {
#if RECKON_WITH_CUDA
  if (event_ != nullptr) {
    detail::DeviceGuard guard(ctx_->device().index);
    RECKON_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event_), detail::cuda_stream(*ctx_)));
  }
#endif
  recorded_ = true;
}

void StreamEvent::wait() {
#if RECKON_WITH_CUDA
  if (event_ != nullptr && recorded_) RECKON_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
#endif
}

void* Context::workspace(std::size_t bytes) {
  if (impl_->workspace.size() < bytes) {
    RECKON_REFUSE_WHILE_CAPTURING(impl_->capturing, "the context's workspace would grow from ",
                                  impl_->workspace.size(), " to ", bytes,
                                  " bytes inside a CUDA graph capture; run the captured step once before capturing");
    // Grow geometrically so a sequence of slightly larger requests does not reallocate every time.
    const std::size_t grown = std::max(bytes, impl_->workspace.size() + impl_->workspace.size() / 2);
    retire(std::move(impl_->workspace));
    impl_->workspace = Buffer::on_device(*this, grown);
  }
  return impl_->workspace.data();
}

bool Context::capturing() const { return impl_->capturing; }

void Context::retire(Buffer&& buffer) {
  Buffer gone(std::move(buffer));
  if (gone.data() == nullptr || impl_->pins.use_count() == 1) return;  // no graph can point into it: freed here
  // The graphs captured so far hold these pins, so the block lives as long as they do; graphs captured from now on
  // get fresh pins and do not keep alive what they never saw.
  impl_->pins->buffers.push_back(std::move(gone));
  impl_->pins = std::make_shared<detail::GraphPins>();
}

void Context::retire(Tensor&& tensor) {
  Tensor gone(std::move(tensor));
  retire(std::move(gone.buffer_));
}

std::size_t Context::workspace_size() const { return impl_->workspace.size(); }

std::uint64_t Context::seed() const { return impl_->seed; }

void Context::set_seed(std::uint64_t seed) {
  impl_->seed = seed;
  impl_->next_stream = 0;
}

std::uint64_t Context::next_rng_stream() { return impl_->next_stream++; }

int Context::cpu_threads() const { return impl_->cpu_threads; }

void Context::set_cpu_threads(int threads) {
  impl_->cpu_threads = threads > 0 ? threads : std::max(1, omp_get_num_procs());
}

}  // namespace reckon
