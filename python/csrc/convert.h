// Between PyTorch and reckon: torch tensors viewed as reckon TensorViews (no copy), the reckon Context an operator
// runs on, and reckon's errors raised as torch's (ValueError, IndexError, RuntimeError) with the same message.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon::torch_ops {

// The tensor's memory as a view: contiguous, of a dtype reckon has (f32, bf16, i32, i64), on the CPU or a CUDA
// device; ValueError naming `name` otherwise.
TensorView view_of(const at::Tensor& tensor, const char* name);
// An absent optional tensor is a view with no data (reckon's "all ones" / "none").
TensorView optional_view(const c10::optional<at::Tensor>& tensor, const char* name);

// This thread's Context for the tensor's device, using torch's intra-op thread count on the CPU. (The CUDA path
// needs torch's current stream, which a CPU-only torch does not have: see ops.cpp.)
Context& context_for(const at::Tensor& tensor);

// Runs `op`, raising a reckon::Error as the matching torch error with the same message.
void run_checked(const std::function<void()>& op);

}  // namespace reckon::torch_ops
