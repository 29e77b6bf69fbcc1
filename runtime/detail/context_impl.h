// Internal (not installed): the parts of Context that memory and CUDA code reach into.
#pragma once

#include <memory>

#include "reckon/config.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"

#if RECKON_WITH_CUDA
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"
#endif

namespace reckon::detail {

// A CUDA stream shared by a context and the buffers allocated on it: buffers free themselves in order on the
// stream, so the stream must outlive them even when the context goes first.
struct StreamHolder {
#if RECKON_WITH_CUDA
  explicit StreamHolder(int device);
  // Another owner's stream (a framework's current stream): used, never synchronised or destroyed here.
  StreamHolder(int device, cudaStream_t borrowed);
  ~StreamHolder();
  StreamHolder(const StreamHolder&) = delete;
  StreamHolder& operator=(const StreamHolder&) = delete;
  int device = 0;
  cudaStream_t stream = nullptr;
  bool owned = true;
#endif
};

// Memory that CUDA graphs captured on a context may point into, kept alive while any of them is (a graph holds a
// reference to its context's pins from capture to destruction).
struct GraphPins;

// Refuses what a CUDA graph capture may not contain (kUnsupported, with the words given).
#define RECKON_REFUSE_WHILE_CAPTURING(capturing, ...)                        \
  do {                                                                       \
    if (capturing) RECKON_THROW(::reckon::StatusCode::kUnsupported, __VA_ARGS__); \
  } while (0)

// What graph capture needs of a context.
bool& capture_flag(Context& ctx);
std::shared_ptr<GraphPins> graph_pins(Context& ctx);

struct ContextAccess {
  static const std::shared_ptr<StreamHolder>& stream_holder(const Context& ctx);
  static ContextImpl& impl(Context& ctx) { return *ctx.impl_; }
};

}  // namespace reckon::detail
