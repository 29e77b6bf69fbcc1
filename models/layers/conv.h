// Convolution layers over the conv3d kernel family: Conv3d (filters and bias, ReLU fused in the forward), Pool3d
// (max or average windows) and GlobalPool (one value per sample and channel, masked by lengths along D for inputs
// of different lengths). 2D layers are D = 1. Same conventions as layers.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "reckon/kernels/conv3d/conv3d.h"
#include "reckon/models/layers/layers.h"

namespace reckon::layers {

class Conv3d {
 public:
  // Filters [K, C/groups, T, R, S] (or [K, T, R, S, C/groups] channels-last), Glorot-uniform over the fans
  // (C/groups and K/groups times the kernel volume); bias zero, or none (bias false: an all-zero input window then
  // gives exactly zero, so zero padding stays zero through the layer).
  Conv3d(Context& ctx, const std::string& name, std::int64_t in_channels, std::int64_t out_channels,
         std::array<std::int64_t, 3> kernel, const Conv3dOptions& options, std::uint64_t weight_stream,
         std::uint64_t bias_stream, bool bias = true);
  // The output's shape for input x.
  Conv3dShape shape(const TensorView& x) const { return conv3d_shape(x, weight_.value, options_); }
  void forward(Context& ctx, const TensorView& x, const TensorView& y) const;
  // dy: the gradient of the output before its activation (with ReLU, the caller has applied relu_bwd against y).
  // Writes the parameter gradients and, when dx is given, the input's gradient.
  void backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx) const;
  void update(Context& ctx, const ParameterGroup& group, float weight_decay) const;
  const Conv3dOptions& options() const { return options_; }
  void append_parameters(std::vector<NamedTensor>& out) const;
  void append_optimizer_state(std::vector<NamedTensor>& out) const;

 private:
  Conv3dOptions options_;
  bool has_bias_;
  DenseParameter weight_, bias_;
};

class Pool3d {
 public:
  explicit Pool3d(const Pool3dOptions& options) : options_(options) {}
  std::array<std::int64_t, 5> output_sizes(const TensorView& x) const { return pool3d_output_sizes(x, options_); }
  // argmax: i32 of y's shape (max pooling; empty when no backward follows).
  void forward(Context& ctx, const TensorView& x, const TensorView& y, const TensorView& argmax) const;
  void backward(Context& ctx, const TensorView& dy, const TensorView& argmax, const TensorView& dx) const;

 private:
  Pool3dOptions options_;
};

class GlobalPool {
 public:
  explicit GlobalPool(PoolMode mode, ConvLayout layout = ConvLayout::kNcdhw) : mode_(mode), layout_(layout) {}
  // lengths: i32 [N] (positions along D that count) or empty for all.
  void forward(Context& ctx, const TensorView& x, const TensorView& lengths, const TensorView& y,
               const TensorView& argmax) const;
  void backward(Context& ctx, const TensorView& dy, const TensorView& lengths, const TensorView& argmax,
                const TensorView& dx) const;

 private:
  PoolMode mode_;
  ConvLayout layout_;
};

}  // namespace reckon::layers
