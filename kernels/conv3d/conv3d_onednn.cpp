// The CPU convolution through oneDNN's convolution primitives (the library PyTorch's CPU nn.Conv3d runs on):
// forward with bias and ReLU as a post-op, data and weight gradients. Two variants: "blocked", where oneDNN picks
// the memory layouts its fastest kernels want (blocked channels, nCdhw16c, on AVX-512) and operands are reordered
// to them and the result back, as PyTorch does - on the wider shapes 2x faster than the plain variant - and "plain",
// on the tensors' own layouts, which measured faster for the gradients of a one-channel input (docs/PERF.md).
// Primitives are built once per problem and kept.
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

// The operands as the tensors hold them (user), and as the primitive may choose them (any).
struct Descs {
  dnnl::memory::desc src, weights, bias, dst;
  dnnl::memory::desc any_src, any_weights, any_dst;
  dims strides, dilates, pad_l, pad_r;
};

// blocked: the primitive picks its layouts (tag any) and operands are reordered; otherwise it runs on the
// tensors' own layouts.
// bf16 math: the factors of the operation (forward: source and weights; data gradient: weights and output
// gradient; weight gradient: source and output gradient) in bf16, its result in f32.
Descs descs(const ConvProblem& P, bool blocked, ConvOp op) {
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
  const tag weights_tag = P.groups == 1 ? (P.channels_last ? tag::odhwi : tag::oidhw)
                                        : (P.channels_last ? tag::godhwi : tag::goidhw);
  const auto chosen = [&](const dnnl::memory::desc& user, bool factor, tag plain) {
    const dt type = P.bf16 && factor ? dt::bf16 : dt::f32;
    return dnnl::memory::desc(user.dims(), type, blocked ? tag::any : plain);
  };
  d.any_src = chosen(d.src, op != ConvOp::kBackwardData, volume);
  d.any_weights = chosen(d.weights, op != ConvOp::kBackwardWeights, weights_tag);
  d.any_dst = chosen(d.dst, op != ConvOp::kForward, volume);
  const std::int64_t in[3] = {P.d, P.h, P.w}, out[3] = {P.z, P.p, P.q}, taps[3] = {P.t, P.r, P.s};
  for (int i = 0; i < 3; ++i) {
    d.strides.push_back(P.stride[i]);
    d.dilates.push_back(P.dilation[i] - 1);  // oneDNN counts the gaps
    d.pad_l.push_back(P.pad[i]);
    d.pad_r.push_back((out[i] - 1) * P.stride[i] + (taps[i] - 1) * P.dilation[i] + 1 - in[i] - P.pad[i]);
  }
  return d;
}

// The primitive's scratch memory comes from the context's workspace (execute()): left to oneDNN, each call
// allocated and zeroed fresh pages, an eighth of the 3D CNN's training step.
dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc forward_pd(const ConvProblem& P, const Descs& d, bool with_bias) {
  using fwd = dnnl::convolution_forward;
  const auto desc = with_bias ? fwd::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          d.any_src, d.any_weights, d.bias, d.any_dst, d.strides, d.dilates, d.pad_l,
                                          d.pad_r)
                              : fwd::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  dnnl::post_ops ops;
  if (P.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr = user_scratchpad();
  attr.set_post_ops(ops);
  return fwd::primitive_desc(desc, attr, cpu_engine());
}

// The primitive's three layouts (source, weights, destination), as it chose them, and its scratch memory.
struct Wanted {
  dnnl::memory::desc src, weights, dst, scratchpad;
};

struct Made {
  dnnl::primitive primitive;
  Wanted wanted;
};

Made make_primitive(const ConvProblem& P, ConvOp op, bool blocked) {
  const Descs d = descs(P, blocked, op);
  const Descs hint = descs(P, blocked, ConvOp::kForward);
  switch (op) {
    case ConvOp::kForward: {
      const auto pd = forward_pd(P, d, P.bias != nullptr);
      return {dnnl::convolution_forward(pd), {pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.scratchpad_desc()}};
    }
    case ConvOp::kBackwardData: {
      const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_weights,
                                                       d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
      const dnnl::convolution_backward_data::primitive_desc pd(desc, user_scratchpad(), cpu_engine(),
                                                               forward_pd(P, hint, false));
      return {dnnl::convolution_backward_data(pd),
              {pd.diff_src_desc(), pd.weights_desc(), pd.diff_dst_desc(), pd.scratchpad_desc()}};
    }
    case ConvOp::kBackwardWeights: break;
  }
  using bwd = dnnl::convolution_backward_weights;
  const bool bias = P.dbias != nullptr;
  const auto desc = bias ? bwd::desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_weights, d.bias,
                                     d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r)
                         : bwd::desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_weights, d.any_dst,
                                     d.strides, d.dilates, d.pad_l, d.pad_r);
  const bwd::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), forward_pd(P, hint, bias));
  return {bwd(pd), {pd.src_desc(), pd.diff_weights_desc(), pd.diff_dst_desc(), pd.scratchpad_desc()}};
}

using Key = std::tuple<std::vector<std::int64_t>, int, bool, bool, bool>;

Key key_of(const ConvProblem& P, ConvOp op, bool blocked) {
  std::vector<std::int64_t> sizes{P.n, P.c, P.d, P.h, P.w, P.k, P.t, P.r, P.s, P.groups, P.bf16 ? 1 : 0};
  for (int i = 0; i < 3; ++i) {
    sizes.push_back(P.stride[i]);
    sizes.push_back(P.pad[i]);
    sizes.push_back(P.dilation[i]);
  }
  const bool bias = op == ConvOp::kForward ? P.bias != nullptr : P.dbias != nullptr;
  return {sizes, static_cast<int>(op) * 2 + (P.channels_last ? 1 : 0), bias, P.relu && op == ConvOp::kForward, blocked};
}

// The cached primitive for the problem, or none when oneDNN has no implementation for it.
bool cached_primitive(const ConvProblem& P, ConvOp op, bool blocked, Made& out) {
  struct Cached {
    Made made;
    bool ok = false;
  };
  static std::mutex mutex;
  static std::map<Key, Cached> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const Key key = key_of(P, op, blocked);
  auto found = cache.find(key);
  if (found == cache.end()) {
    if (cache.size() >= 256) cache.clear();
    Cached made;
    try {
      made.made = make_primitive(P, op, blocked);
      made.ok = true;
    } catch (const dnnl::error&) {
      made.ok = false;
    }
    found = cache.emplace(key, std::move(made)).first;
  }
  out = found->second.made;
  return found->second.ok;
}

}  // namespace

bool conv3d_onednn_supports(const ConvProblem& P, ConvOp op, bool blocked) {
  Made unused;
  return cached_primitive(P, op, blocked, unused);
}

namespace {

// An operand in the layout the primitive wants: the tensor itself when the layouts agree, else a copy in the
// context's workspace (no allocation, and no fresh pages to fault in, per call).
struct Operand {
  dnnl::memory user, used;
  bool reordered() const { return user.get_desc() != used.get_desc(); }
};

// Carves the primitive's scratchpad and the reordered copies out of one workspace block, 64-byte aligned.
class Scratch {
 public:
  Scratch(Context& ctx, const dnnl::memory::desc& scratchpad,
          std::initializer_list<std::pair<const dnnl::memory::desc*, const dnnl::memory::desc*>> pairs) {
    std::size_t bytes = round_up(scratchpad.get_size());
    for (const auto& [user, wanted] : pairs) {
      if (*user != *wanted) bytes += round_up(wanted->get_size());
    }
    next_ = static_cast<char*>(bytes == 0 ? nullptr : ctx.workspace(bytes));
    if (scratchpad.get_size() == 0) return;
    scratchpad_ = dnnl::memory(scratchpad, cpu_engine(), next_);
    next_ += round_up(scratchpad.get_size());
  }
  // Adds the scratchpad to a primitive's arguments (when it wants one).
  void add_to(std::unordered_map<int, dnnl::memory>& args) const {
    if (scratchpad_) args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_);
  }
  Operand operand(const dnnl::memory::desc& user, const void* data, const dnnl::memory::desc& wanted,
                  const dnnl::stream& stream, bool input) {
    const dnnl::engine& engine = cpu_engine();
    Operand o{dnnl::memory(user, engine, const_cast<void*>(data)), {}};
    if (user == wanted) {
      o.used = o.user;
      return o;
    }
    o.used = dnnl::memory(wanted, engine, next_);
    next_ += round_up(wanted.get_size());
    if (input) dnnl::reorder(o.user, o.used).execute(stream, o.user, o.used);
    return o;
  }

 private:
  static std::size_t round_up(std::size_t bytes) { return (bytes + 63) / 64 * 64; }
  char* next_ = nullptr;
  dnnl::memory scratchpad_;
};

void copy_back(Operand& o, const dnnl::stream& stream) {
  if (o.reordered()) dnnl::reorder(o.used, o.user).execute(stream, o.used, o.user);
}

void execute(Context& ctx, const ConvProblem& P, ConvOp op, const Descs& d, const Wanted& want,
             dnnl::primitive& primitive, const dnnl::stream& stream) {
  std::unordered_map<int, dnnl::memory> args;
  if (op == ConvOp::kForward) {
    Scratch scratch(ctx, want.scratchpad, {{&d.src, &want.src}, {&d.weights, &want.weights}, {&d.dst, &want.dst}});
    const Operand x = scratch.operand(d.src, P.x, want.src, stream, true);
    const Operand w = scratch.operand(d.weights, P.wt, want.weights, stream, true);
    Operand y = scratch.operand(d.dst, P.out, want.dst, stream, false);
    args = {{DNNL_ARG_SRC, x.used}, {DNNL_ARG_WEIGHTS, w.used}, {DNNL_ARG_DST, y.used}};
    if (P.bias != nullptr) args.emplace(DNNL_ARG_BIAS, dnnl::memory(d.bias, cpu_engine(), const_cast<float*>(P.bias)));
    scratch.add_to(args);
    primitive.execute(stream, args);
    copy_back(y, stream);
  } else if (op == ConvOp::kBackwardData) {
    Scratch scratch(ctx, want.scratchpad, {{&d.dst, &want.dst}, {&d.weights, &want.weights}, {&d.src, &want.src}});
    const Operand dy = scratch.operand(d.dst, P.dy, want.dst, stream, true);
    const Operand w = scratch.operand(d.weights, P.wt, want.weights, stream, true);
    Operand dx = scratch.operand(d.src, P.out, want.src, stream, false);
    args = {{DNNL_ARG_DIFF_DST, dy.used}, {DNNL_ARG_WEIGHTS, w.used}, {DNNL_ARG_DIFF_SRC, dx.used}};
    scratch.add_to(args);
    primitive.execute(stream, args);
    copy_back(dx, stream);
  } else {
    Scratch scratch(ctx, want.scratchpad, {{&d.src, &want.src}, {&d.dst, &want.dst}, {&d.weights, &want.weights}});
    const Operand x = scratch.operand(d.src, P.x, want.src, stream, true);
    const Operand dy = scratch.operand(d.dst, P.dy, want.dst, stream, true);
    Operand dw = scratch.operand(d.weights, P.out, want.weights, stream, false);
    args = {{DNNL_ARG_SRC, x.used}, {DNNL_ARG_DIFF_DST, dy.used}, {DNNL_ARG_DIFF_WEIGHTS, dw.used}};
    if (P.dbias != nullptr) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(d.bias, cpu_engine(), P.dbias));
    scratch.add_to(args);
    primitive.execute(stream, args);
    copy_back(dw, stream);
  }
}

}  // namespace

void conv3d_onednn(Context& ctx, const ConvProblem& P, ConvOp op, bool blocked) {
  Made made;
  RECKON_CHECK_ARG(cached_primitive(P, op, blocked, made), "oneDNN has no convolution for this problem");
  const Descs d = descs(P, blocked, op);
  dnnl::stream stream(cpu_engine());
  try {
    execute(ctx, P, op, d, made.wanted, made.primitive, stream);
    stream.wait();
  } catch (const dnnl::error& e) {
    RECKON_THROW(StatusCode::kUnsupported, "oneDNN convolution failed: ", e.what());
  }
}

}  // namespace reckon::detail
#endif
