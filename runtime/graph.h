// CudaGraph: the work a CUDA context enqueues between begin_capture() and end_capture(), recorded once and replayed
// with the same arguments (kernel launches, cuBLAS calls, copies between device buffers). A training step whose
// ops never synchronise the host can be captured this way, so a small batch costs one launch instead of dozens.
//
// While capturing, nothing may synchronise the context or read to the host. Errors the captured ops record on the
// device (runtime/context.h) surface at the synchronisation after a replay. CPU contexts have no graphs.
#pragma once

#include "reckon/runtime/context.h"

namespace reckon {

class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(CudaGraph&& other) noexcept;
  CudaGraph& operator=(CudaGraph&& other) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Start recording ctx's stream (kInvalidArgument on a CPU context, kNotCompiled without CUDA).
  static void begin_capture(Context& ctx);
  // Stop recording and instantiate what was recorded.
  static CudaGraph end_capture(Context& ctx);
  // Enqueue the recorded work on ctx's stream.
  void replay(Context& ctx) const;

 private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

}  // namespace reckon
