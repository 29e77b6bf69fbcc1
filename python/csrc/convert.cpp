#include "convert.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <memory>
#include <vector>

#include "reckon/runtime/error.h"

namespace reckon::torch_ops {

TensorView view_of(const at::Tensor& tensor, const char* name) {
  TORCH_CHECK_VALUE(tensor.defined(), name, " is undefined");
  TORCH_CHECK_VALUE(tensor.is_contiguous(), name, " must be contiguous");
  DType dtype = DType::kF32;
  switch (tensor.scalar_type()) {
    case at::kFloat: dtype = DType::kF32; break;
    case at::kBFloat16: dtype = DType::kBF16; break;
    case at::kInt: dtype = DType::kI32; break;
    case at::kLong: dtype = DType::kI64; break;
    default: TORCH_CHECK_VALUE(false, name, " holds ", tensor.scalar_type(), "; reckon takes float32, bfloat16, int32, int64");
  }
  Device device = Device::cpu();
  if (tensor.is_cuda()) {
    device = Device::cuda(tensor.get_device());
  } else {
    TORCH_CHECK_VALUE(tensor.is_cpu(), name, " is on ", tensor.device(), "; reckon runs on the CPU and CUDA");
  }
  const std::vector<std::int64_t> sizes(tensor.sizes().begin(), tensor.sizes().end());
  return TensorView::contiguous(tensor.data_ptr(), dtype, device, sizes.data(), static_cast<int>(sizes.size()));
}

TensorView optional_view(const c10::optional<at::Tensor>& tensor, const char* name) {
  if (!tensor.has_value() || !tensor->defined()) return TensorView{};
  return view_of(*tensor, name);
}

Context& context_for(const at::Tensor& tensor) {
  if (tensor.is_cuda()) return cuda_context_for(tensor);
  TORCH_CHECK_VALUE(tensor.is_cpu(), "reckon's operators run on the CPU and CUDA devices, not ", tensor.device());
  thread_local std::unique_ptr<Context> cpu;
  if (!cpu) cpu = std::make_unique<Context>(Device::cpu());
  cpu->set_cpu_threads(at::get_num_threads());
  return *cpu;
}

#if !RECKON_TORCH_CUDA
Context& cuda_context_for(const at::Tensor& tensor) {
  TORCH_CHECK_VALUE(false, "this libreckon_torch was built against a torch without CUDA, so it cannot run on ",
                    tensor.device(), ": rebuild it against a CUDA torch (python/CMakeLists.txt)");
}

void check_cuda_errors(int) {}  // no CUDA context can exist in this build
#endif

void run_checked(const std::function<void()>& op) {
  try {
    op();
  } catch (const Error& e) {
    if (e.code() == StatusCode::kInvalidArgument) TORCH_CHECK_VALUE(false, e.message());
    if (e.code() == StatusCode::kOutOfRange) TORCH_CHECK_INDEX(false, e.message());
    TORCH_CHECK(false, e.message());
  }
}

}  // namespace reckon::torch_ops
