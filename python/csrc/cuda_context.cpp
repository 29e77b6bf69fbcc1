// context_for on a GPU, built where torch has CUDA: one reckon Context per (device, stream) and thread, enqueuing on
// torch's current stream for the tensor's device, so `with torch.cuda.stream(s):` moves reckon's work with torch's.
#include <c10/cuda/CUDAStream.h>

#include <map>
#include <memory>
#include <utility>

#include "convert.h"

namespace reckon::torch_ops {

Context& cuda_context_for(const at::Tensor& tensor) {
  const c10::DeviceIndex device = tensor.get_device();
  CUstream_st* stream = c10::cuda::getCurrentCUDAStream(device).stream();
  thread_local std::map<std::pair<int, CUstream_st*>, std::unique_ptr<Context>> contexts;
  std::unique_ptr<Context>& context = contexts[{device, stream}];
  if (!context) {
    run_checked([&] { context = std::make_unique<Context>(Context::on_stream(Device::cuda(device), stream)); });
  }
  return *context;
}

}  // namespace reckon::torch_ops
