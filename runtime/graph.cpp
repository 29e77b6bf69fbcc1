#include "reckon/runtime/graph.h"

#include <utility>

#include "reckon/config.h"
#include "reckon/runtime/detail/context_impl.h"
#include "reckon/runtime/detail/device_errors.h"
#include "reckon/runtime/error.h"
#if RECKON_WITH_CUDA
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"
#endif

namespace reckon {

CudaGraph::~CudaGraph() {
#if RECKON_WITH_CUDA
  if (exec_ != nullptr) (void)cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_ != nullptr) (void)cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  (void)cudaGetLastError();
#endif
}

CudaGraph::CudaGraph(CudaGraph&& other) noexcept
    : graph_(std::exchange(other.graph_, nullptr)),
      exec_(std::exchange(other.exec_, nullptr)),
      owner_(std::exchange(other.owner_, nullptr)),
      pins_(std::move(other.pins_)) {}

CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept {
  if (this != &other) {
    CudaGraph gone(std::move(*this));
    graph_ = std::exchange(other.graph_, nullptr);
    exec_ = std::exchange(other.exec_, nullptr);
    owner_ = std::exchange(other.owner_, nullptr);
    pins_ = std::move(other.pins_);
  }
  return *this;
}

#if RECKON_WITH_CUDA
GraphCapture::GraphCapture(Context& ctx) : ctx_(&ctx) {
  RECKON_CHECK_ARG(ctx.is_cuda(), "CUDA graphs need a CUDA context, this one is ", ctx.device().str());
  RECKON_CHECK_ARG(!ctx.capturing(), "a CUDA graph capture is already open on this context");
  detail::DeviceGuard guard(ctx.device().index);
  // What the context would create on first use, created now: a capture may not allocate or copy from the host.
  (void)detail::device_error_record(ctx);
  (void)detail::cublas_handle(ctx);
  pins_ = detail::graph_pins(ctx);
  // Thread-local mode: another thread's unrelated CUDA calls do not invalidate this capture.
  RECKON_CUDA_CHECK(cudaStreamBeginCapture(detail::cuda_stream(ctx), cudaStreamCaptureModeThreadLocal));
  open_ = true;
  detail::capture_flag(ctx) = true;
}

GraphCapture::~GraphCapture() {
  if (open_) end_and_discard();
}

void GraphCapture::end_and_discard() noexcept {
  open_ = false;
  detail::capture_flag(*ctx_) = false;
  int previous = -1;
  (void)cudaGetDevice(&previous);
  (void)cudaSetDevice(ctx_->device().index);
  cudaGraph_t graph = nullptr;
  (void)cudaStreamEndCapture(detail::cuda_stream(*ctx_), &graph);
  if (graph != nullptr) (void)cudaGraphDestroy(graph);
  if (previous >= 0) (void)cudaSetDevice(previous);
  (void)cudaGetLastError();
}

CudaGraph GraphCapture::finish() {
  RECKON_CHECK_ARG(open_, "finish() of a graph capture that is not open");
  detail::DeviceGuard guard(ctx_->device().index);
  open_ = false;
  detail::capture_flag(*ctx_) = false;
  CudaGraph g;
  cudaGraph_t graph = nullptr;
  RECKON_CUDA_CHECK(cudaStreamEndCapture(detail::cuda_stream(*ctx_), &graph));
  g.graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  // Nothing in a capture allocates (it is refused), so no launch waits on a free; the flag makes sure.
  RECKON_CUDA_CHECK(cudaGraphInstantiateWithFlags(&exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch));
  g.exec_ = exec;
  g.owner_ = &detail::ContextAccess::impl(*ctx_);
  g.pins_ = std::move(pins_);
  return g;
}

void CudaGraph::replay(Context& ctx) const {
  RECKON_CHECK_ARG(exec_ != nullptr, "replay of an empty CudaGraph");
  RECKON_CHECK_ARG(owner_ == &detail::ContextAccess::impl(ctx),
                   "a CUDA graph replays on the context it was "
                   "captured on (its kernels write that context's error record and workspace)");
  detail::DeviceGuard guard(ctx.device().index);
  RECKON_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), detail::cuda_stream(ctx)));
  detail::after_device_op(ctx);
}
#else
GraphCapture::GraphCapture(Context& ctx) : ctx_(&ctx) {
  detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__);
}
GraphCapture::~GraphCapture() = default;
void GraphCapture::end_and_discard() noexcept {}
CudaGraph GraphCapture::finish() {
  detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__);
}
void CudaGraph::replay(Context&) const {
  detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__);
}
#endif

}  // namespace reckon
