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

// This thread's Context for the tensor's device: on the CPU with torch's intra-op thread count; on a GPU one
// enqueuing on torch's current CUDA stream (Context::on_stream), so reckon's kernels order with torch's work with
// no synchronisation between them.
Context& context_for(const at::Tensor& tensor);
// The GPU half of context_for: cuda_context.cpp where torch was built with CUDA, an error naming the build otherwise.
Context& cuda_context_for(const at::Tensor& tensor);
// Synchronises this thread's contexts on CUDA device `device` and raises the first input error their kernels
// recorded since the last check (an out-of-range id, malformed offsets): device code cannot raise when it runs.
void check_cuda_errors(int device);

// Runs `op`, raising a reckon::Error as the matching torch error with the same message.
void run_checked(const std::function<void()>& op);

}  // namespace reckon::torch_ops
