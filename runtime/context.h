// Context: where and how operations run. It owns the device, one non-blocking CUDA stream, the cuBLAS and cuDNN
// handles bound to that stream (created on first use), a workspace arena, the random seed and the CPU thread count.
//
// Every operation takes the Context first, enqueues on its stream and returns without synchronising; results in
// host memory are valid after synchronize(). A Context is used by one host thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "reckon/runtime/device.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared here so this header needs no CUDA headers.

namespace reckon {

class Buffer;  // runtime/memory.h
class Tensor;

namespace detail {
struct ContextImpl;
struct ContextAccess;
}  // namespace detail

inline constexpr std::uint64_t kDefaultSeed = 0x5eed'0f'2ec0'0000ull;

class Context {
 public:
  // Throws kNoDevice when `device` is a CUDA device that does not answer.
  explicit Context(Device device = default_device(), std::uint64_t seed = kDefaultSeed);
  // A context on a CUDA stream that someone else owns, e.g. PyTorch's current stream (nullptr: the legacy default
  // stream), so reckon's ops order with the owner's work without any synchronisation between them. The stream
  // must outlive the context and every buffer allocated through it (their frees are enqueued on it); the context
  // never synchronises or destroys it except through synchronize(). Throws kNoDevice as the constructor does.
  static Context on_stream(Device device, CUstream_st* stream, std::uint64_t seed = kDefaultSeed);
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }

  // The stream every operation of this context is enqueued on (nullptr for a CPU context).
  CUstream_st* stream() const;
  // Wait for all work enqueued on this context; on a CPU context work is already complete. Then raise the first
  // input error a device op recorded since the last synchronisation (an out-of-range id, malformed offsets):
  // device ops cannot throw when they are enqueued, so their errors surface here, and at every host read that
  // synchronises (losses, predictions, copies to the host). An op that recorded an error wrote nothing for the bad
  // item, and ops that update state do nothing until the error is raised. The record is clear again afterwards.
  // RECKON_SYNC_LAUNCHES=1 raises it at the op that recorded it instead.
  void synchronize();
  // The same as synchronize(): the explicit point where device errors surface.
  void check_errors() { synchronize(); }

  // Scratch memory on the context's device, at least `bytes` long, valid until the next call to workspace().
  // Stream-ordered: operations on this context may use it back to back without synchronising. Growing it while a
  // CUDA graph is being captured is refused (kUnsupported, naming the size): run the step once before capturing.
  void* workspace(std::size_t bytes);
  std::size_t workspace_size() const;

  // Whether a CUDA graph is being captured on this context's stream (runtime/graph.h). While it is, nothing may
  // allocate, copy to or from host memory or synchronise: each is refused with an error that names it.
  bool capturing() const;
  // Gives up memory that a live CUDA graph captured on this context may still point into: it is freed once every
  // graph captured while it was alive is gone (at once when there is none). Owners of memory that grows (the
  // workspace, a model's activations) retire the old block instead of freeing it.
  void retire(Buffer&& buffer);
  void retire(Tensor&& tensor);

  // Random numbers: every op that draws them takes a fresh stream id, so the same seed and the same sequence of
  // operations give the same numbers on CPU and GPU.
  std::uint64_t seed() const;
  void set_seed(std::uint64_t seed);  // also restarts the stream ids
  std::uint64_t next_rng_stream();

  int cpu_threads() const;
  void set_cpu_threads(int threads);  // <= 0 means all hardware threads

 private:
  friend struct detail::ContextAccess;
  std::unique_ptr<detail::ContextImpl> impl_;
};

// A mark in a context's stream: record() marks the work enqueued so far; wait() blocks the calling thread until that
// work is done, not waiting for anything enqueued after it (as synchronize() would). On a CPU context work is done
// when it returns, so both do nothing. Used to refill a pinned staging buffer as soon as its copy to the device is
// done while the device goes on computing.
class StreamEvent {
 public:
  explicit StreamEvent(Context& ctx);
  ~StreamEvent();
  StreamEvent(StreamEvent&& other) noexcept;
  StreamEvent& operator=(StreamEvent&& other) noexcept;
  StreamEvent(const StreamEvent&) = delete;
  StreamEvent& operator=(const StreamEvent&) = delete;

  void record();
  void wait();  // at once when never recorded

 private:
  Context* ctx_;
  void* event_ = nullptr;  // cudaEvent_t
  bool recorded_ = false;
};

}  // namespace reckon
