// context_for on a GPU, built where torch has CUDA: one reckon Context per (thread, device, stream), enqueuing on
// torch's current stream for the tensor's device, so `with torch.cuda.stream(s):` moves reckon's work with torch's.
// A Context serves one host thread; torch runs CUDA backwards on its autograd engine's own threads, so the contexts
// are kept in one registry, where check_cuda_errors finds them all.
#include <c10/cuda/CUDAStream.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include "convert.h"

namespace reckon::torch_ops {
namespace {

using ContextKey = std::tuple<std::thread::id, int, CUstream_st*>;

struct Registry {
  std::mutex mutex;
  std::map<ContextKey, std::unique_ptr<Context>> contexts;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: torch's streams and threads may outlive static teardown
  return *r;
}

}  // namespace

Context& cuda_context_for(const at::Tensor& tensor) {
  const c10::DeviceIndex device = tensor.get_device();
  CUstream_st* stream = c10::cuda::getCurrentCUDAStream(device).stream();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::unique_ptr<Context>& context = r.contexts[{std::this_thread::get_id(), device, stream}];
  if (!context) {
    run_checked([&] { context = std::make_unique<Context>(Context::on_stream(Device::cuda(device), stream)); });
  }
  return *context;
}

// Call it between steps: it synchronises every thread's context on the device, so none may be running reckon
// operators at that moment (after loss.backward() returns, the autograd threads are idle).
void check_cuda_errors(int device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto& [key, context] : r.contexts) {
    if (std::get<1>(key) == device) run_checked([&] { context->check_errors(); });
  }
}

}  // namespace reckon::torch_ops
