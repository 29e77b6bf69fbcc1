// The CPU convolution through oneDNN's convolution primitives (the library PyTorch's CPU nn.Conv3d runs on):
// forward with bias and ReLU as a post-op, data and weight gradients, on the tensors' own plain layouts (NCDHW with
// [K, Cg, T, R, S] filters, or NDHWC with [K, T, R, S, Cg]). Primitives are built once per problem and kept.
#include "reckon/config.h"

#if RECKON_WITH_ONEDNN
#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/runtime/error.h"

namespace reckon::detail {
namespace {

using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct Descs {
  dnnl::memory::desc src, weights, bias, dst;
  dims strides, dilates, pad_l, pad_r;
};

Descs descs(const ConvProblem& P) {
  Descs d;
  const tag volume = P.channels_last ? tag::ndhwc : tag::ncdhw;
  d.src = dnnl::memory::desc(dims{P.n, P.c, P.d, P.h, P.w}, dt::f32, volume);
  d.dst = dnnl::memory::desc(dims{P.n, P.k, P.z, P.p, P.q}, dt::f32, volume);
  if (P.groups == 1) {
    d.weights = dnnl::memory::desc(dims{P.k, P.c, P.t, P.r, P.s}, dt::f32, P.channels_last ? tag::odhwi : tag::oidhw);
  } else {
    d.weights = dnnl::memory::desc(dims{P.groups, P.kg, P.cg, P.t, P.r, P.s}, dt::f32,
                                   P.channels_last ? tag::godhwi : tag::goidhw);
  }
  d.bias = dnnl::memory::desc(dims{P.k}, dt::f32, tag::x);
  const std::int64_t in[3] = {P.d, P.h, P.w}, out[3] = {P.z, P.p, P.q}, taps[3] = {P.t, P.r, P.s};
  for (int i = 0; i < 3; ++i) {
    d.strides.push_back(P.stride[i]);
    d.dilates.push_back(P.dilation[i] - 1);  // oneDNN counts the gaps
    d.pad_l.push_back(P.pad[i]);
    d.pad_r.push_back((out[i] - 1) * P.stride[i] + (taps[i] - 1) * P.dilation[i] + 1 - in[i] - P.pad[i]);
  }
  return d;
}

dnnl::convolution_forward::primitive_desc forward_pd(const ConvProblem& P, const Descs& d, bool with_bias) {
  using fwd = dnnl::convolution_forward;
  const auto desc = with_bias ? fwd::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          d.src, d.weights, d.bias, d.dst, d.strides, d.dilates, d.pad_l, d.pad_r)
                              : fwd::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          d.src, d.weights, d.dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  dnnl::post_ops ops;
  if (P.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return fwd::primitive_desc(desc, attr, cpu_engine());
}

dnnl::primitive make_primitive(const ConvProblem& P, ConvOp op) {
  const Descs d = descs(P);
  switch (op) {
    case ConvOp::kForward: return dnnl::convolution_forward(forward_pd(P, d, P.bias != nullptr));
    case ConvOp::kBackwardData: {
      const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst,
                                                       d.strides, d.dilates, d.pad_l, d.pad_r);
      return dnnl::convolution_backward_data(
          dnnl::convolution_backward_data::primitive_desc(desc, cpu_engine(), forward_pd(P, d, false)));
    }
    case ConvOp::kBackwardWeights: break;
  }
  using bwd = dnnl::convolution_backward_weights;
  const bool bias = P.dbias != nullptr;
  const auto desc = bias ? bwd::desc(dnnl::algorithm::convolution_direct, d.src, d.weights, d.bias, d.dst, d.strides,
                                     d.dilates, d.pad_l, d.pad_r)
                         : bwd::desc(dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst, d.strides,
                                     d.dilates, d.pad_l, d.pad_r);
  return bwd(bwd::primitive_desc(desc, cpu_engine(), forward_pd(P, d, bias)));
}

using Key = std::tuple<std::vector<std::int64_t>, int, bool, bool>;

Key key_of(const ConvProblem& P, ConvOp op) {
  std::vector<std::int64_t> sizes{P.n, P.c, P.d, P.h, P.w, P.k, P.t, P.r, P.s, P.groups};
  for (int i = 0; i < 3; ++i) {
    sizes.push_back(P.stride[i]);
    sizes.push_back(P.pad[i]);
    sizes.push_back(P.dilation[i]);
  }
  const bool bias = op == ConvOp::kForward ? P.bias != nullptr : P.dbias != nullptr;
  return {sizes, static_cast<int>(op) * 2 + (P.channels_last ? 1 : 0), bias, P.relu && op == ConvOp::kForward};
}

// The cached primitive for the problem, or none when oneDNN has no implementation for it.
bool cached_primitive(const ConvProblem& P, ConvOp op, dnnl::primitive& out) {
  struct Cached {
    dnnl::primitive primitive;
    bool ok = false;
  };
  static std::mutex mutex;
  static std::map<Key, Cached> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const Key key = key_of(P, op);
  auto found = cache.find(key);
  if (found == cache.end()) {
    if (cache.size() >= 256) cache.clear();
    Cached made;
    try {
      made.primitive = make_primitive(P, op);
      made.ok = true;
    } catch (const dnnl::error&) {
      made.ok = false;
    }
    found = cache.emplace(key, std::move(made)).first;
  }
  out = found->second.primitive;
  return found->second.ok;
}

}  // namespace

bool conv3d_onednn_supports(const ConvProblem& P, ConvOp op) {
  dnnl::primitive unused;
  return cached_primitive(P, op, unused);
}

void conv3d_onednn(const ConvProblem& P, ConvOp op) {
  dnnl::primitive primitive;
  RECKON_CHECK_ARG(cached_primitive(P, op, primitive), "oneDNN has no convolution for this problem");
  const Descs d = descs(P);
  const dnnl::engine& engine = cpu_engine();
  const auto memory = [&engine](const dnnl::memory::desc& desc, const void* data) {
    return dnnl::memory(desc, engine, const_cast<void*>(data));
  };
  std::unordered_map<int, dnnl::memory> args;
  switch (op) {
    case ConvOp::kForward:
      args = {{DNNL_ARG_SRC, memory(d.src, P.x)}, {DNNL_ARG_WEIGHTS, memory(d.weights, P.wt)},
              {DNNL_ARG_DST, memory(d.dst, P.out)}};
      if (P.bias != nullptr) args.emplace(DNNL_ARG_BIAS, memory(d.bias, P.bias));
      break;
    case ConvOp::kBackwardData:
      args = {{DNNL_ARG_DIFF_DST, memory(d.dst, P.dy)}, {DNNL_ARG_WEIGHTS, memory(d.weights, P.wt)},
              {DNNL_ARG_DIFF_SRC, memory(d.src, P.out)}};
      break;
    case ConvOp::kBackwardWeights:
      args = {{DNNL_ARG_SRC, memory(d.src, P.x)}, {DNNL_ARG_DIFF_DST, memory(d.dst, P.dy)},
              {DNNL_ARG_DIFF_WEIGHTS, memory(d.weights, P.out)}};
      if (P.dbias != nullptr) args.emplace(DNNL_ARG_DIFF_BIAS, memory(d.bias, P.dbias));
      break;
  }
  dnnl::stream stream(engine);
  try {
    primitive.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    RECKON_THROW(StatusCode::kUnsupported, "oneDNN convolution failed: ", e.what());
  }
}

}  // namespace reckon::detail
#endif
