// The CUDA convolution through cuDNN's convolution API, beside the hand-written kernels as the reference and an
// alternative: FMA math pinned unless ConvMath::kAllowTf32 allows TF32 tensor cores, deterministic algorithms only
// (the heuristics' list filtered), workspace from the context. Bias and ReLU as separate cuDNN ops after the product.
#include "reckon/config.h"

#if RECKON_WITH_CUDA && RECKON_WITH_CUDNN
#include <cudnn.h>

#include <array>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"

namespace reckon::detail {
namespace {

// A [N, C, D, H, W] volume in NCDHW or NDHWC memory order.
void set_volume(cudnnTensorDescriptor_t desc, const ConvProblem& P, std::int64_t n, std::int64_t c, std::int64_t d,
                std::int64_t h, std::int64_t w) {
  const std::array<int, 5> dims{static_cast<int>(n), static_cast<int>(c), static_cast<int>(d), static_cast<int>(h),
                                static_cast<int>(w)};
  std::array<int, 5> strides{};
  if (P.channels_last) {
    strides = {static_cast<int>(d * h * w * c), 1, static_cast<int>(h * w * c), static_cast<int>(w * c),
               static_cast<int>(c)};
  } else {
    strides = {static_cast<int>(c * d * h * w), static_cast<int>(d * h * w), static_cast<int>(h * w),
               static_cast<int>(w), 1};
  }
  RECKON_CUDA_CHECK(cudnnSetTensorNdDescriptor(desc, CUDNN_DATA_FLOAT, 5, dims.data(), strides.data()));
}

// The descriptors of one problem, released on scope exit.
class Descriptors {
 public:
  explicit Descriptors(const ConvProblem& P) {
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&x));
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&y));
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&bias));
    RECKON_CUDA_CHECK(cudnnCreateFilterDescriptor(&w));
    RECKON_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    set_volume(x, P, P.n, P.c, P.d, P.h, P.w);
    set_volume(y, P, P.n, P.k, P.z, P.p, P.q);
    const std::array<int, 5> bias_dims{1, static_cast<int>(P.k), 1, 1, 1}, bias_strides{static_cast<int>(P.k), 1, 1, 1, 1};
    RECKON_CUDA_CHECK(cudnnSetTensorNdDescriptor(bias, CUDNN_DATA_FLOAT, 5, bias_dims.data(), bias_strides.data()));
    const std::array<int, 5> filter{static_cast<int>(P.k), static_cast<int>(P.cg), static_cast<int>(P.t),
                                    static_cast<int>(P.r), static_cast<int>(P.s)};
    RECKON_CUDA_CHECK(cudnnSetFilterNdDescriptor(w, CUDNN_DATA_FLOAT,
                                                 P.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, 5,
                                                 filter.data()));
    std::array<int, 3> pad{}, stride{}, dilation{};
    for (int i = 0; i < 3; ++i) {
      pad[static_cast<std::size_t>(i)] = static_cast<int>(P.pad[i]);
      stride[static_cast<std::size_t>(i)] = static_cast<int>(P.stride[i]);
      dilation[static_cast<std::size_t>(i)] = static_cast<int>(P.dilation[i]);
    }
    RECKON_CUDA_CHECK(cudnnSetConvolutionNdDescriptor(conv, 3, pad.data(), stride.data(), dilation.data(),
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    RECKON_CUDA_CHECK(cudnnSetConvolutionGroupCount(conv, static_cast<int>(P.groups)));
    // FMA unless TF32 is allowed (ConvMath::kAllowTf32): then tensor-core algorithms may be chosen too.
    math = P.allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    RECKON_CUDA_CHECK(cudnnSetConvolutionMathType(conv, math));
  }
  ~Descriptors() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
};

// The heuristics' first deterministic algorithm in the allowed math (FMA, or tensor ops when TF32 is allowed), from
// their ranked list.
template <typename Perf>
bool first_deterministic(const Perf* perf, int count, cudnnMathType_t allowed, Perf& out) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        (perf[i].mathType == CUDNN_FMA_MATH || perf[i].mathType == allowed)) {
      out = perf[i];
      return true;
    }
  }
  return false;
}

constexpr int kMaxAlgorithms = 16;

bool forward_algorithm(cudnnHandle_t handle, const Descriptors& d, cudnnConvolutionFwdAlgoPerf_t& chosen) {
  cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgorithms];
  int count = 0;
  RECKON_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x, d.w, d.conv, d.y, kMaxAlgorithms, &count, perf));
  return first_deterministic(perf, count, d.math, chosen);
}

bool data_algorithm(cudnnHandle_t handle, const Descriptors& d, cudnnConvolutionBwdDataAlgoPerf_t& chosen) {
  cudnnConvolutionBwdDataAlgoPerf_t perf[kMaxAlgorithms];
  int count = 0;
  RECKON_CUDA_CHECK(
      cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.w, d.y, d.conv, d.x, kMaxAlgorithms, &count, perf));
  return first_deterministic(perf, count, d.math, chosen);
}

bool filter_algorithm(cudnnHandle_t handle, const Descriptors& d, cudnnConvolutionBwdFilterAlgoPerf_t& chosen) {
  cudnnConvolutionBwdFilterAlgoPerf_t perf[kMaxAlgorithms];
  int count = 0;
  RECKON_CUDA_CHECK(
      cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.x, d.y, d.conv, d.w, kMaxAlgorithms, &count, perf));
  return first_deterministic(perf, count, d.math, chosen);
}

void forward(Context& ctx, cudnnHandle_t handle, const Descriptors& d, const ConvProblem& P) {
  cudnnConvolutionFwdAlgoPerf_t algo{};
  RECKON_CHECK_ARG(forward_algorithm(handle, d, algo), "cuDNN offers no deterministic FMA forward algorithm");
  RECKON_CUDA_CHECK(cudnnSetConvolutionMathType(d.conv, algo.mathType));
  const float one = 1.0f, zero = 0.0f;
  RECKON_CUDA_CHECK(cudnnConvolutionForward(handle, &one, d.x, P.x, d.w, P.wt, d.conv, algo.algo,
                                            ctx.workspace(algo.memory), algo.memory, &zero, d.y, P.out));
  if (P.bias != nullptr) RECKON_CUDA_CHECK(cudnnAddTensor(handle, &one, d.bias, P.bias, &one, d.y, P.out));
  if (!P.relu) return;
  cudnnActivationDescriptor_t relu = nullptr;
  RECKON_CUDA_CHECK(cudnnCreateActivationDescriptor(&relu));
  const cudnnStatus_t set = cudnnSetActivationDescriptor(relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0);
  const cudnnStatus_t ran =
      set == CUDNN_STATUS_SUCCESS ? cudnnActivationForward(handle, relu, &one, d.y, P.out, &zero, d.y, P.out) : set;
  cudnnDestroyActivationDescriptor(relu);
  RECKON_CUDA_CHECK(ran);
}

void backward_data(Context& ctx, cudnnHandle_t handle, const Descriptors& d, const ConvProblem& P) {
  cudnnConvolutionBwdDataAlgoPerf_t algo{};
  RECKON_CHECK_ARG(data_algorithm(handle, d, algo), "cuDNN offers no deterministic FMA data-gradient algorithm");
  RECKON_CUDA_CHECK(cudnnSetConvolutionMathType(d.conv, algo.mathType));
  const float one = 1.0f, zero = 0.0f;
  RECKON_CUDA_CHECK(cudnnConvolutionBackwardData(handle, &one, d.w, P.wt, d.y, P.dy, d.conv, algo.algo,
                                                 ctx.workspace(algo.memory), algo.memory, &zero, d.x, P.out));
}

void backward_weights(Context& ctx, cudnnHandle_t handle, const Descriptors& d, const ConvProblem& P) {
  cudnnConvolutionBwdFilterAlgoPerf_t algo{};
  RECKON_CHECK_ARG(filter_algorithm(handle, d, algo), "cuDNN offers no deterministic FMA weight-gradient algorithm");
  RECKON_CUDA_CHECK(cudnnSetConvolutionMathType(d.conv, algo.mathType));
  const float one = 1.0f, zero = 0.0f;
  RECKON_CUDA_CHECK(cudnnConvolutionBackwardFilter(handle, &one, d.x, P.x, d.y, P.dy, d.conv, algo.algo,
                                                   ctx.workspace(algo.memory), algo.memory, &zero, d.w, P.out));
  if (P.dbias != nullptr) RECKON_CUDA_CHECK(cudnnConvolutionBackwardBias(handle, &one, d.y, P.dy, &zero, d.bias, P.dbias));
}

}  // namespace

Status conv3d_cudnn_supports(Context& ctx, const ConvProblem& P, ConvOp op) {
  constexpr std::int64_t kIntMax = 2147483647;
  if (P.n * P.c * P.d * P.h * P.w > kIntMax || P.n * P.k * P.z * P.p * P.q > kIntMax) {
    return {StatusCode::kUnsupported, "cuDNN's descriptors hold 32-bit sizes and strides"};
  }
  if (P.channels_last && P.groups > 1) {
    return {StatusCode::kUnsupported, "grouped channels-last convolutions are left to the direct kernel"};
  }
  DeviceGuard guard(ctx.device().index);
  const Descriptors d(P);
  cudnnHandle_t handle = cudnn_handle(ctx);
  bool ok = false;
  switch (op) {
    case ConvOp::kForward: {
      cudnnConvolutionFwdAlgoPerf_t a{};
      ok = forward_algorithm(handle, d, a);
      break;
    }
    case ConvOp::kBackwardData: {
      cudnnConvolutionBwdDataAlgoPerf_t a{};
      ok = data_algorithm(handle, d, a);
      break;
    }
    case ConvOp::kBackwardWeights: {
      cudnnConvolutionBwdFilterAlgoPerf_t a{};
      ok = filter_algorithm(handle, d, a);
      break;
    }
  }
  if (ok) return Status::ok();
  return {StatusCode::kUnsupported, "cuDNN offers no deterministic algorithm in FMA math for this problem"};
}

void conv3d_cudnn(Context& ctx, const ConvProblem& P, ConvOp op) {
  DeviceGuard guard(ctx.device().index);
  const Descriptors d(P);
  cudnnHandle_t handle = cudnn_handle(ctx);
  switch (op) {
    case ConvOp::kForward: forward(ctx, handle, d, P); break;
    case ConvOp::kBackwardData: backward_data(ctx, handle, d, P); break;
    case ConvOp::kBackwardWeights: backward_weights(ctx, handle, d, P); break;
  }
}

}  // namespace reckon::detail
#endif
