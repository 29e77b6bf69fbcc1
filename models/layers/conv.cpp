#include "reckon/models/layers/conv.h"

#include <cmath>

namespace reckon::layers {

namespace {
float glorot_bound(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups,
                   const std::array<std::int64_t, 3>& kernel) {
  const auto volume = static_cast<float>(kernel[0] * kernel[1] * kernel[2]);
  const float fan_in = static_cast<float>(in_channels / groups) * volume;
  const float fan_out = static_cast<float>(out_channels / groups) * volume;
  return std::sqrt(6.0f / (fan_in + fan_out));
}
}  // namespace

Conv3d::Conv3d(Context& ctx, const std::string& name, std::int64_t in_channels, std::int64_t out_channels,
               std::array<std::int64_t, 3> kernel, const Conv3dOptions& options, std::uint64_t weight_stream,
               std::uint64_t bias_stream, bool bias)
    : options_(options), has_bias_(bias) {
  RECKON_CHECK_ARG(options.groups >= 1 && in_channels % options.groups == 0 && out_channels % options.groups == 0,
                   name, ": ", options.groups, " groups must divide ", in_channels, " and ", out_channels, " channels");
  const std::int64_t cg = in_channels / options.groups;
  const float bound = glorot_bound(in_channels, out_channels, options.groups, kernel);
  if (options.layout == ConvLayout::kNcdhw) {
    weight_ = DenseParameter(ctx, name + ".weight", {out_channels, cg, kernel[0], kernel[1], kernel[2]}, bound,
                             weight_stream);
  } else {
    weight_ = DenseParameter(ctx, name + ".weight", {out_channels, kernel[0], kernel[1], kernel[2], cg}, bound,
                             weight_stream);
  }
  if (bias) bias_ = DenseParameter(ctx, name + ".bias", {out_channels}, 0.0f, bias_stream);
}

void Conv3d::forward(Context& ctx, const TensorView& x, const TensorView& y) const {
  conv3d_fwd(ctx, x, weight_.value, bias_.value, y, options_);
}

void Conv3d::backward(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dx) const {
  conv3d_bwd_weights(ctx, x, dy, weight_.grad, bias_.grad, options_);
  if (dx.data != nullptr) conv3d_bwd_data(ctx, dy, weight_.value, dx, options_);
}

void Conv3d::update(Context& ctx, const ParameterGroup& group, float weight_decay) const {
  weight_.update(ctx, group, weight_decay);
  if (has_bias_) bias_.update(ctx, group);
}

void Conv3d::append_parameters(std::vector<NamedTensor>& out) const {
  out.push_back({weight_.name, weight_.value});
  if (has_bias_) out.push_back({bias_.name, bias_.value});
}

void Conv3d::append_optimizer_state(std::vector<NamedTensor>& out) const {
  for (const DenseParameter* p : {&weight_, &bias_}) {
    if (p == &bias_ && !has_bias_) break;
    out.push_back({p->name + ".m", p->m});
    out.push_back({p->name + ".v", p->v});
  }
}

void Pool3d::forward(Context& ctx, const TensorView& x, const TensorView& y, const TensorView& argmax) const {
  pool3d_fwd(ctx, x, y, argmax, options_);
}

void Pool3d::backward(Context& ctx, const TensorView& dy, const TensorView& argmax, const TensorView& dx) const {
  pool3d_bwd(ctx, dy, argmax, dx, options_);
}

void GlobalPool::forward(Context& ctx, const TensorView& x, const TensorView& lengths, const TensorView& y,
                         const TensorView& argmax) const {
  global_pool3d_fwd(ctx, x, lengths, y, argmax, mode_, layout_);
}

void GlobalPool::backward(Context& ctx, const TensorView& dy, const TensorView& lengths, const TensorView& argmax,
                          const TensorView& dx) const {
  global_pool3d_bwd(ctx, dy, lengths, argmax, dx, mode_, layout_);
}

}  // namespace reckon::layers
