// gru_layer_fwd through cuDNN's RNN API (v8 descriptors, cudnnRNNForward in inference mode), beside the cell path
// as the reference and an alternative on a GPU. cuDNN keeps a layer's weights in its own packed space: each gate's
// matrix [H, in] (out × in, row-major) and its two biases; ours are [in, 3H] (in × out), so each call transposes the
// six gate blocks in with cuBLAS (geam) and copies the six biases. Single bias pair per gate (DOUBLE_BIAS) and the
// reset gate applied after the recurrent product: the same cell as gru.h. FMA math: no TF32.
#include "reckon/config.h"

#if RECKON_WITH_CUDA && RECKON_WITH_CUDNN
#include <cudnn.h>

#include <array>
#include <vector>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/gru/gru_impl.h"
#include "reckon/runtime/detail/cuda_check.h"
#include "reckon/runtime/detail/cuda_context.h"
#include "reckon/runtime/memory.h"

namespace reckon::detail {
namespace {

// The descriptors of one call, released on scope exit.
struct RnnDescriptors {
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDataDescriptor_t x = nullptr, y = nullptr;
  cudnnTensorDescriptor_t h = nullptr, matrix = nullptr, bias = nullptr;

  RnnDescriptors(cudnnHandle_t handle, const GruLayerProblem& p) {
    RECKON_CUDA_CHECK(cudnnCreateRNNDescriptor(&rnn));
    RECKON_CUDA_CHECK(cudnnCreateDropoutDescriptor(&dropout));
    RECKON_CUDA_CHECK(cudnnCreateRNNDataDescriptor(&x));
    RECKON_CUDA_CHECK(cudnnCreateRNNDataDescriptor(&y));
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&h));
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&matrix));
    RECKON_CUDA_CHECK(cudnnCreateTensorDescriptor(&bias));
    RECKON_CUDA_CHECK(cudnnSetDropoutDescriptor(dropout, handle, 0.0f, nullptr, 0, 0));  // one layer: no dropout
    const auto I = static_cast<std::int32_t>(p.input), H = static_cast<std::int32_t>(p.hidden);
    RECKON_CUDA_CHECK(cudnnSetRNNDescriptor_v8(rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_GRU, CUDNN_RNN_DOUBLE_BIAS,
                                               CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                               CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, I, H, H, 1, dropout,
                                               CUDNN_RNN_PADDED_IO_DISABLED));
    const auto T = static_cast<int>(p.steps), B = static_cast<int>(p.batch);
    const std::vector<int> lengths(static_cast<std::size_t>(B), T);
    RECKON_CUDA_CHECK(cudnnSetRNNDataDescriptor(x, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B,
                                                I, lengths.data(), nullptr));
    RECKON_CUDA_CHECK(cudnnSetRNNDataDescriptor(y, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B,
                                                H, lengths.data(), nullptr));
    const std::array<int, 3> dims{1, B, H}, strides{B * H, H, 1};
    RECKON_CUDA_CHECK(cudnnSetTensorNdDescriptor(h, CUDNN_DATA_FLOAT, 3, dims.data(), strides.data()));
  }
  ~RnnDescriptors() {
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(matrix);
    cudnnDestroyTensorDescriptor(h);
    cudnnDestroyRNNDataDescriptor(y);
    cudnnDestroyRNNDataDescriptor(x);
    cudnnDestroyDropoutDescriptor(dropout);
    cudnnDestroyRNNDescriptor(rnn);
  }
  RnnDescriptors(const RnnDescriptors&) = delete;
  RnnDescriptors& operator=(const RnnDescriptors&) = delete;
};

// Gate g of w [in, 3H] (columns g·H .. g·H + H − 1) into cuDNN's [H, in] block: in column-major terms the block is
// an H × in matrix with leading dimension 3H, and cuDNN's is in × H with leading dimension in, its transpose.
void transpose_gate(Context& ctx, const float* w, std::int64_t in, std::int64_t H, int gate, float* out) {
  const float one = 1.0f, zero = 0.0f;
  const auto m = static_cast<int>(in), n = static_cast<int>(H);
  RECKON_CUDA_CHECK(cublasSgeam(cublas_handle(ctx), CUBLAS_OP_T, CUBLAS_OP_N, m, n, &one, w + gate * H,
                                static_cast<int>(3 * H), &zero, out, m, out, m));
}

// Our weights into cuDNN's packed space: linear layers 0-2 are the input side's r, z, n; 3-5 the recurrent side's.
void pack_weights(Context& ctx, cudnnHandle_t handle, const RnnDescriptors& d, const GruLayerProblem& p,
                  std::size_t bytes, void* space) {
  for (int layer = 0; layer < 6; ++layer) {
    void* matrix = nullptr;
    void* bias = nullptr;
    RECKON_CUDA_CHECK(cudnnGetRNNWeightParams(handle, d.rnn, 0, bytes, space, layer, d.matrix, &matrix, d.bias, &bias));
    const bool input_side = layer < 3;
    const int gate = layer % 3;
    const TensorView& w = input_side ? p.w.w_x : p.w.w_h;
    const TensorView& b = input_side ? p.w.b_x : p.w.b_h;
    transpose_gate(ctx, static_cast<const float*>(w.data), input_side ? p.input : p.hidden, p.hidden, gate,
                   static_cast<float*>(matrix));
    copy_bytes(ctx, bias, ctx.device(), static_cast<const float*>(b.data) + gate * p.hidden, ctx.device(),
               static_cast<std::size_t>(p.hidden) * sizeof(float));
  }
}

}  // namespace

void gru_layer_fwd_cudnn(Context& ctx, const GruLayerProblem& p) {
  DeviceGuard guard(ctx.device().index);
  cudnnHandle_t handle = cudnn_handle(ctx);
  const RnnDescriptors d(handle, p);
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  RECKON_CUDA_CHECK(cudnnGetRNNWeightSpaceSize(handle, d.rnn, &weight_bytes));
  RECKON_CUDA_CHECK(cudnnGetRNNTempSpaceSizes(handle, d.rnn, CUDNN_FWD_MODE_INFERENCE, d.x, &work_bytes, &reserve_bytes));
  const auto bytes_of = [](std::size_t n) { return static_cast<std::int64_t>((n + 3) / 4); };
  const Tensor weights = Tensor::empty(ctx, DType::kF32, {bytes_of(weight_bytes)});
  const Tensor work = Tensor::empty(ctx, DType::kF32, {std::max<std::int64_t>(1, bytes_of(work_bytes))});
  const Tensor lengths = Tensor::empty(ctx, DType::kI32, {p.batch});
  const std::vector<std::int32_t> host_lengths(static_cast<std::size_t>(p.batch), static_cast<std::int32_t>(p.steps));
  copy_bytes(ctx, lengths.view().data, ctx.device(), host_lengths.data(), Device::cpu(), host_lengths.size() * 4);
  fill(ctx, weights, 0.0f);  // geam reads its B operand (the destination, scaled by 0): no NaN from stale memory
  pack_weights(ctx, handle, d, p, weight_bytes, weights.view().data);
  RECKON_CUDA_CHECK(cudnnRNNForward(handle, d.rnn, CUDNN_FWD_MODE_INFERENCE, lengths.data<std::int32_t>(), d.x,
                                    p.x.data, d.y, p.y.data, d.h, p.h0.data, nullptr, d.h, nullptr, nullptr,
                                    weight_bytes, weights.view().data, work_bytes, work.view().data, 0, nullptr));
}

}  // namespace reckon::detail
#endif  // RECKON_WITH_CUDA && RECKON_WITH_CUDNN
