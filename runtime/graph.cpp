#include "reckon/runtime/graph.h"

#include <utility>

#include "reckon/config.h"
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
    : graph_(std::exchange(other.graph_, nullptr)), exec_(std::exchange(other.exec_, nullptr)) {}

CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept {
  if (this != &other) {
    CudaGraph gone(std::move(*this));
    graph_ = std::exchange(other.graph_, nullptr);
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}

#if RECKON_WITH_CUDA
void CudaGraph::begin_capture(Context& ctx) {
  RECKON_CHECK_ARG(ctx.is_cuda(), "CUDA graphs need a CUDA context, this one is ", ctx.device().str());
  detail::DeviceGuard guard(ctx.device().index);
  // Thread-local mode: another thread's unrelated CUDA calls do not invalidate this capture.
  RECKON_CUDA_CHECK(cudaStreamBeginCapture(detail::cuda_stream(ctx), cudaStreamCaptureModeThreadLocal));
}

CudaGraph CudaGraph::end_capture(Context& ctx) {
  RECKON_CHECK_ARG(ctx.is_cuda(), "CUDA graphs need a CUDA context, this one is ", ctx.device().str());
  detail::DeviceGuard guard(ctx.device().index);
  CudaGraph g;
  cudaGraph_t graph = nullptr;
  RECKON_CUDA_CHECK(cudaStreamEndCapture(detail::cuda_stream(ctx), &graph));
  g.graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  RECKON_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  g.exec_ = exec;
  return g;
}

void CudaGraph::replay(Context& ctx) const {
  RECKON_CHECK_ARG(exec_ != nullptr, "replay of an empty CudaGraph");
  detail::DeviceGuard guard(ctx.device().index);
  RECKON_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), detail::cuda_stream(ctx)));
}
#else
void CudaGraph::begin_capture(Context&) { detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__); }
CudaGraph CudaGraph::end_capture(Context&) { detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__); }
void CudaGraph::replay(Context&) const { detail::throw_not_compiled("CudaGraph", "CUDA", __FILE__, __LINE__); }
#endif

}  // namespace reckon
