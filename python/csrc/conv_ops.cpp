// torch.ops.reckon's convolution and pooling operators (kernels/conv3d): 3D convolution with its two backwards,
// windowed max / average pooling (max returns the argmax its backward routes through) and global pooling over a
// masked depth (sessions of different lengths). Layouts NCDHW and NDHWC ("ncdhw", "ndhwc"); 2D and 1D are the
// D = 1 (H = 1) cases. CPU, CUDA and Meta implementations; autograd in reckon/ops.py.
#include <torch/library.h>

#include <array>
#include <tuple>
#include <vector>

#include "convert.h"
#include "reckon/kernels/conv3d/conv3d.h"

namespace reckon::torch_ops {
namespace {

ConvLayout layout_of(c10::string_view layout) {
  TORCH_CHECK_VALUE(layout == "ncdhw" || layout == "ndhwc", "layout must be 'ncdhw' or 'ndhwc', got '",
                    std::string(layout), "'");
  return layout == "ncdhw" ? ConvLayout::kNcdhw : ConvLayout::kNdhwc;
}

PoolMode pool_mode_of(c10::string_view mode) {
  TORCH_CHECK_VALUE(mode == "max" || mode == "avg", "mode must be 'max' or 'avg', got '", std::string(mode), "'");
  return mode == "max" ? PoolMode::kMax : PoolMode::kAverage;
}

std::array<std::int64_t, 3> triple(at::IntArrayRef v, const char* name) {
  TORCH_CHECK_VALUE(v.size() == 3, name, " needs 3 values (D, H, W), got ", v.size());
  return {v[0], v[1], v[2]};
}

Conv3dOptions conv_options(at::IntArrayRef stride, at::IntArrayRef pad, at::IntArrayRef dilation, std::int64_t groups,
                           c10::string_view layout) {
  Conv3dOptions o;
  o.stride = triple(stride, "stride");
  o.pad = triple(pad, "pad");
  o.dilation = triple(dilation, "dilation");
  o.groups = groups;
  o.layout = layout_of(layout);
  return o;
}

// Sizes in the layout's order from N, channels and the three spatial sizes.
std::vector<std::int64_t> in_layout(ConvLayout layout, std::int64_t n, std::int64_t c, std::int64_t d, std::int64_t h,
                                    std::int64_t w) {
  if (layout == ConvLayout::kNcdhw) return {n, c, d, h, w};
  return {n, d, h, w, c};
}

at::Tensor conv3d(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                  at::IntArrayRef pad, at::IntArrayRef dilation, std::int64_t groups, c10::string_view layout) {
  const Conv3dOptions o = conv_options(stride, pad, dilation, groups, layout);
  at::Tensor y;
  run_checked([&] {
    const Conv3dShape s = conv3d_shape(view_of(x, "x"), view_of(w, "w"), o);
    y = at::empty(in_layout(o.layout, s.n, s.k, s.z, s.p, s.q), x.options());
    conv3d_fwd(context_for(x), view_of(x, "x"), view_of(w, "w"), optional_view(bias, "bias"), view_of(y, "y"), o);
  });
  return y;
}

at::Tensor conv3d_backward_data(const at::Tensor& dy, const at::Tensor& w, at::IntArrayRef x_sizes, at::IntArrayRef stride,
                                at::IntArrayRef pad, at::IntArrayRef dilation, std::int64_t groups, c10::string_view layout) {
  const Conv3dOptions o = conv_options(stride, pad, dilation, groups, layout);
  at::Tensor dx = at::empty(x_sizes, dy.options());
  const at::Tensor g = dy.contiguous();
  run_checked([&] { conv3d_bwd_data(context_for(g), view_of(g, "dy"), view_of(w, "w"), view_of(dx, "dx"), o); });
  return dx;
}

std::tuple<at::Tensor, at::Tensor> conv3d_backward_weights(const at::Tensor& x, const at::Tensor& dy, at::IntArrayRef w_sizes,
                                                           at::IntArrayRef stride, at::IntArrayRef pad,
                                                           at::IntArrayRef dilation, std::int64_t groups,
                                                           c10::string_view layout) {
  const Conv3dOptions o = conv_options(stride, pad, dilation, groups, layout);
  TORCH_CHECK_VALUE(!w_sizes.empty(), "w_sizes must be the filters' sizes");
  at::Tensor dw = at::empty(w_sizes, x.options()), dbias = at::empty({w_sizes[0]}, x.options());
  const at::Tensor g = dy.contiguous();
  run_checked([&] {
    conv3d_bwd_weights(context_for(x), view_of(x, "x"), view_of(g, "dy"), view_of(dw, "dw"), view_of(dbias, "dbias"), o);
  });
  return {dw, dbias};
}

Pool3dOptions pool_options(c10::string_view mode, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef pad,
                           bool count_include_pad, c10::string_view layout) {
  Pool3dOptions o;
  o.mode = pool_mode_of(mode);
  o.kernel = triple(kernel, "kernel");
  o.stride = triple(stride, "stride");
  o.pad = triple(pad, "pad");
  o.count_include_pad = count_include_pad;
  o.layout = layout_of(layout);
  return o;
}

// A view of t's shape without its data: the kernels' size functions read nothing else (so meta tensors pass too).
TensorView shape_only(const at::Tensor& t) {
  const std::vector<std::int64_t> sizes(t.sizes().begin(), t.sizes().end());
  return TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), sizes.data(), static_cast<int>(sizes.size()));
}

// y [N, C] or pooled [.., Z, P, Q ..] and, for max pooling, an argmax of its shape (average pooling: empty).
std::tuple<at::Tensor, at::Tensor> with_argmax(at::IntArrayRef y_sizes, PoolMode mode, const at::Tensor& x) {
  at::Tensor y = at::empty(y_sizes, x.options());
  return {y, at::empty(mode == PoolMode::kMax ? y.sizes() : at::IntArrayRef{0}, x.options().dtype(at::kInt))};
}

std::tuple<at::Tensor, at::Tensor> pool3d_outputs(const at::Tensor& x, const Pool3dOptions& o) {
  std::array<std::int64_t, 5> s{};
  run_checked([&] { s = pool3d_output_sizes(shape_only(x), o); });
  return with_argmax(in_layout(o.layout, s[0], s[1], s[2], s[3], s[4]), o.mode, x);
}

// y and, for max pooling, its argmax (an empty tensor for average pooling).
std::tuple<at::Tensor, at::Tensor> pool3d(const at::Tensor& x, c10::string_view mode, at::IntArrayRef kernel,
                                          at::IntArrayRef stride, at::IntArrayRef pad, bool count_include_pad,
                                          c10::string_view layout) {
  const Pool3dOptions o = pool_options(mode, kernel, stride, pad, count_include_pad, layout);
  auto [y, argmax] = pool3d_outputs(x, o);
  run_checked([&] {
    pool3d_fwd(context_for(x), view_of(x, "x"), view_of(y, "y"), o.mode == PoolMode::kMax ? view_of(argmax, "argmax") : TensorView{}, o);
  });
  return {y, argmax};
}

at::Tensor pool3d_backward(const at::Tensor& dy, const at::Tensor& argmax, at::IntArrayRef x_sizes, c10::string_view mode,
                           at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef pad, bool count_include_pad,
                           c10::string_view layout) {
  const Pool3dOptions o = pool_options(mode, kernel, stride, pad, count_include_pad, layout);
  at::Tensor dx = at::empty(x_sizes, dy.options());
  const at::Tensor g = dy.contiguous();
  run_checked([&] {
    pool3d_bwd(context_for(g), view_of(g, "dy"), o.mode == PoolMode::kMax ? view_of(argmax, "argmax") : TensorView{},
               view_of(dx, "dx"), o);
  });
  return dx;
}

std::tuple<at::Tensor, at::Tensor> global_pool3d_outputs(const at::Tensor& x, PoolMode mode, ConvLayout layout) {
  TORCH_CHECK_VALUE(x.dim() == 5, "x must be 5-d, got ", x.sizes());
  return with_argmax({x.size(0), layout == ConvLayout::kNcdhw ? x.size(1) : x.size(4)}, mode, x);
}

std::tuple<at::Tensor, at::Tensor> global_pool3d(const at::Tensor& x, const c10::optional<at::Tensor>& lengths,
                                                 c10::string_view mode, c10::string_view layout) {
  const PoolMode m = pool_mode_of(mode);
  const ConvLayout l = layout_of(layout);
  auto [y, argmax] = global_pool3d_outputs(x, m, l);
  run_checked([&] {
    global_pool3d_fwd(context_for(x), view_of(x, "x"), optional_view(lengths, "lengths"), view_of(y, "y"),
                      m == PoolMode::kMax ? view_of(argmax, "argmax") : TensorView{}, m, l);
  });
  return {y, argmax};
}

at::Tensor global_pool3d_backward(const at::Tensor& dy, const c10::optional<at::Tensor>& lengths, const at::Tensor& argmax,
                                  at::IntArrayRef x_sizes, c10::string_view mode, c10::string_view layout) {
  const PoolMode m = pool_mode_of(mode);
  at::Tensor dx = at::empty(x_sizes, dy.options());
  const at::Tensor g = dy.contiguous();
  run_checked([&] {
    global_pool3d_bwd(context_for(g), view_of(g, "dy"), optional_view(lengths, "lengths"),
                      m == PoolMode::kMax ? view_of(argmax, "argmax") : TensorView{}, view_of(dx, "dx"), m, layout_of(layout));
  });
  return dx;
}

// Meta: shapes by the same size rules as the implementations above.
at::Tensor conv3d_backward_data_meta(const at::Tensor& dy, const at::Tensor&, at::IntArrayRef x_sizes, at::IntArrayRef,
                                     at::IntArrayRef, at::IntArrayRef, std::int64_t, c10::string_view) {
  return at::empty(x_sizes, dy.options());
}

std::tuple<at::Tensor, at::Tensor> conv3d_backward_weights_meta(const at::Tensor& x, const at::Tensor&, at::IntArrayRef w_sizes,
                                                                at::IntArrayRef, at::IntArrayRef, at::IntArrayRef,
                                                                std::int64_t, c10::string_view) {
  TORCH_CHECK_VALUE(!w_sizes.empty(), "w_sizes must be the filters' sizes");
  return {at::empty(w_sizes, x.options()), at::empty({w_sizes[0]}, x.options())};
}

std::tuple<at::Tensor, at::Tensor> pool3d_meta(const at::Tensor& x, c10::string_view mode, at::IntArrayRef kernel,
                                               at::IntArrayRef stride, at::IntArrayRef pad, bool count_include_pad,
                                               c10::string_view layout) {
  return pool3d_outputs(x, pool_options(mode, kernel, stride, pad, count_include_pad, layout));
}

at::Tensor pool3d_backward_meta(const at::Tensor& dy, const at::Tensor&, at::IntArrayRef x_sizes, c10::string_view,
                                at::IntArrayRef, at::IntArrayRef, at::IntArrayRef, bool, c10::string_view) {
  return at::empty(x_sizes, dy.options());
}

std::tuple<at::Tensor, at::Tensor> global_pool3d_meta(const at::Tensor& x, const c10::optional<at::Tensor>&,
                                                      c10::string_view mode, c10::string_view layout) {
  return global_pool3d_outputs(x, pool_mode_of(mode), layout_of(layout));
}

at::Tensor global_pool3d_backward_meta(const at::Tensor& dy, const c10::optional<at::Tensor>&, const at::Tensor&,
                                       at::IntArrayRef x_sizes, c10::string_view, c10::string_view) {
  return at::empty(x_sizes, dy.options());
}

at::Tensor conv3d_meta(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>&, at::IntArrayRef stride,
                       at::IntArrayRef pad, at::IntArrayRef dilation, std::int64_t groups, c10::string_view layout) {
  const Conv3dOptions o = conv_options(stride, pad, dilation, groups, layout);
  Conv3dShape s;
  run_checked([&] { s = conv3d_shape(shape_only(x), shape_only(w), o); });
  return at::empty(in_layout(o.layout, s.n, s.k, s.z, s.p, s.q), x.options());
}

// The same functions serve CPU and CUDA tensors: the kernels dispatch on the context's device.
void conv_impls(torch::Library& m) {
  m.impl("conv3d", conv3d);
  m.impl("conv3d_backward_data", conv3d_backward_data);
  m.impl("conv3d_backward_weights", conv3d_backward_weights);
  m.impl("pool3d", pool3d);
  m.impl("pool3d_backward", pool3d_backward);
  m.impl("global_pool3d", global_pool3d);
  m.impl("global_pool3d_backward", global_pool3d_backward);
}

}  // namespace
}  // namespace reckon::torch_ops

TORCH_LIBRARY_FRAGMENT(reckon, m) {
  m.def("conv3d(Tensor x, Tensor w, Tensor? bias=None, int[3] stride=[1, 1, 1], int[3] pad=[0, 0, 0], "
        "int[3] dilation=[1, 1, 1], int groups=1, str layout='ncdhw') -> Tensor");
  m.def("conv3d_backward_data(Tensor dy, Tensor w, int[] x_sizes, int[3] stride, int[3] pad, int[3] dilation, "
        "int groups, str layout) -> Tensor");
  m.def("conv3d_backward_weights(Tensor x, Tensor dy, int[] w_sizes, int[3] stride, int[3] pad, int[3] dilation, "
        "int groups, str layout) -> (Tensor dw, Tensor dbias)");
  m.def("pool3d(Tensor x, str mode, int[3] kernel, int[3] stride=[0, 0, 0], int[3] pad=[0, 0, 0], "
        "bool count_include_pad=True, str layout='ncdhw') -> (Tensor y, Tensor argmax)");
  m.def("pool3d_backward(Tensor dy, Tensor argmax, int[] x_sizes, str mode, int[3] kernel, int[3] stride, int[3] pad, "
        "bool count_include_pad, str layout) -> Tensor");
  m.def("global_pool3d(Tensor x, Tensor? lengths=None, str mode='max', str layout='ncdhw') -> (Tensor y, Tensor argmax)");
  m.def("global_pool3d_backward(Tensor dy, Tensor? lengths, Tensor argmax, int[] x_sizes, str mode, str layout) -> Tensor");
}

TORCH_LIBRARY_IMPL(reckon, CPU, m) { reckon::torch_ops::conv_impls(m); }
TORCH_LIBRARY_IMPL(reckon, CUDA, m) { reckon::torch_ops::conv_impls(m); }

TORCH_LIBRARY_IMPL(reckon, Meta, m) {
  using namespace reckon::torch_ops;
  m.impl("conv3d", conv3d_meta);
  m.impl("conv3d_backward_data", conv3d_backward_data_meta);
  m.impl("conv3d_backward_weights", conv3d_backward_weights_meta);
  m.impl("pool3d", pool3d_meta);
  m.impl("pool3d_backward", pool3d_backward_meta);
  m.impl("global_pool3d", global_pool3d_meta);
  m.impl("global_pool3d_backward", global_pool3d_backward_meta);
}

TORCH_LIBRARY_IMPL(reckon, AutogradMeta, m) {
  for (const char* op : {"conv3d", "conv3d_backward_data", "conv3d_backward_weights", "pool3d", "pool3d_backward",
                         "global_pool3d", "global_pool3d_backward"}) {
    m.impl(op, torch::CppFunction::makeFallthrough());
  }
}
