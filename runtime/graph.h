// CUDA graphs: the work a CUDA context enqueues during a capture, recorded once and replayed with the same arguments
// (kernel launches, cuBLAS calls, copies and memsets between device buffers). A training step whose ops never
// synchronise the host can be captured, so a small batch costs one launch instead of dozens.
//
// What a captured step may do: enqueue ops on the context whose every argument is device memory or a value that is
// the same at every replay. Per-step values that change (an optimizer's step count, bias corrections, learning rate,
// a dropout stream) must live in device memory and be advanced by the step itself (runtime/step_clock.h).
// What it may not do, each refused with an error that names it (kUnsupported): allocate device memory, copy to or
// from host memory, synchronise or read to the host, create the context's library handles. The capture prepares
// what the context creates lazily (its device error record, cuBLAS's handle and workspace); everything else a step
// sizes on first use (the context's workspace, a model's activations) needs one eager step before the capture.
// A graph keeps the memory it points into alive: memory that grows after the capture is retired, not freed
// (Context::retire), until the graph is gone. Errors the captured ops record on the device surface at the
// synchronisation after a replay. CPU contexts have no graphs.
#pragma once

#include <memory>
#include <utility>

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

  // Records what `step()` enqueues on ctx's stream and instantiates it (GraphCapture below). If step throws, the
  // capture is ended and discarded and the exception propagates; the context stays usable.
  template <typename Step>
  static CudaGraph capture(Context& ctx, Step&& step);

  // Enqueue the recorded work on the stream of the context it was captured on.
  void replay(Context& ctx) const;
  bool empty() const { return exec_ == nullptr; }

 private:
  friend class GraphCapture;
  void* graph_ = nullptr;        // cudaGraph_t
  void* exec_ = nullptr;         // cudaGraphExec_t
  const void* owner_ = nullptr;  // the capturing context's state: replay checks it
  std::shared_ptr<void> pins_;   // memory the graph points into, retired by its owners since the capture
};

// A capture as a scope: the constructor prepares the context and begins recording its stream (kInvalidArgument on
// a CPU context or with a capture already open, kNotCompiled without CUDA); finish() ends it and instantiates the
// graph; a capture destroyed unfinished (an exception) is ended and what it recorded discarded.
class GraphCapture {
 public:
  explicit GraphCapture(Context& ctx);
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;

  CudaGraph finish();

 private:
  void end_and_discard() noexcept;
  Context* ctx_;
  bool open_ = false;
  std::shared_ptr<void> pins_;
};

template <typename Step>
CudaGraph CudaGraph::capture(Context& ctx, Step&& step) {
  GraphCapture capture(ctx);
  std::forward<Step>(step)();
  return capture.finish();
}

}  // namespace reckon
