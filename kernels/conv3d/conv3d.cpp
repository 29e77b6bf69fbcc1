#include "reckon/kernels/conv3d/conv3d.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <limits>
#include <string_view>

#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"
#include "reckon/runtime/dispatch.h"

namespace reckon {
namespace {

using detail::ConvOp;
using detail::ConvProblem;
using detail::GlobalPoolProblem;
using detail::PoolOp;
using detail::PoolProblem;

// The five sizes of a volume in N, C, D, H, W order, whatever the layout stores.
std::array<std::int64_t, 5> ncdhw(const TensorView& t, ConvLayout layout, const char* name) {
  RECKON_CHECK_ARG(t.ndim == 5, name, " must have 5 dimensions (N, C, D, H, W: 2D is D = 1), got ", t.shape_str());
  if (layout == ConvLayout::kNcdhw) return {t.size(0), t.size(1), t.size(2), t.size(3), t.size(4)};
  return {t.size(0), t.size(4), t.size(1), t.size(2), t.size(3)};
}

void check_f32(const Context& ctx, const TensorView& t, const char* name) {
  check_dtype(t, name, DType::kF32);
  RECKON_CHECK_ARG(t.is_contiguous(), name, " must be contiguous, got ", t.shape_str());
  check_device(t, name, ctx.device());
}

void check_volume(const Context& ctx, const TensorView& t, const char* name, ConvLayout layout, std::int64_t n,
                  std::int64_t c, std::int64_t d, std::int64_t h, std::int64_t w) {
  const std::array<std::int64_t, 5> want = layout == ConvLayout::kNcdhw ? std::array<std::int64_t, 5>{n, c, d, h, w}
                                                                       : std::array<std::int64_t, 5>{n, d, h, w, c};
  bool same = t.ndim == 5;
  for (int i = 0; same && i < 5; ++i) same = t.size(i) == want[static_cast<std::size_t>(i)];
  RECKON_CHECK_ARG(same, name, " must be [", want[0], ", ", want[1], ", ", want[2], ", ", want[3], ", ", want[4],
                   "] (", layout == ConvLayout::kNcdhw ? "NCDHW" : "NDHWC", "), got ", t.shape_str());
  check_f32(ctx, t, name);
}

void check_window(const char* what, const std::array<std::int64_t, 3>& values, std::int64_t least) {
  for (const std::int64_t v : values) RECKON_CHECK_ARG(v >= least, what, " must be >= ", least, " in every dimension");
}

}  // namespace

Conv3dShape conv3d_shape(const TensorView& x, const TensorView& w, const Conv3dOptions& o) {
  check_window("conv3d stride", o.stride, 1);
  check_window("conv3d dilation", o.dilation, 1);
  check_window("conv3d padding", o.pad, 0);
  const auto in = ncdhw(x, o.layout, "conv3d input");
  const auto filters = ncdhw(w, o.layout, "conv3d filters");
  Conv3dShape s;
  s.n = in[0], s.c = in[1], s.d = in[2], s.h = in[3], s.w = in[4];
  s.k = filters[0], s.t = filters[2], s.r = filters[3], s.s = filters[4];
  s.groups = o.groups;
  RECKON_CHECK_ARG(s.groups >= 1 && s.c % s.groups == 0 && s.k % s.groups == 0, "conv3d: ", s.groups,
                   " groups must divide the input's ", s.c, " and the filters' ", s.k, " channels");
  RECKON_CHECK_ARG(filters[1] == s.c / s.groups, "conv3d: the filters have ", filters[1],
                   " input channels where the input's ", s.c, " in ", s.groups, " groups make ", s.c / s.groups);
  RECKON_CHECK_ARG(s.t >= 1 && s.r >= 1 && s.s >= 1 && s.k >= 1, "conv3d: empty filters ", w.shape_str());
  const std::int64_t extent[3] = {s.d, s.h, s.w}, taps[3] = {s.t, s.r, s.s};
  std::int64_t out[3];
  for (int i = 0; i < 3; ++i) {
    const std::int64_t span = o.dilation[i] * (taps[i] - 1) + 1;
    const std::int64_t padded = extent[i] + 2 * o.pad[i];
    RECKON_CHECK_ARG(padded >= span, "conv3d: the filter spans ", span, " positions in dimension ", i,
                     " but the padded input has ", padded, ": no output");
    out[i] = (padded - span) / o.stride[i] + 1;
  }
  s.z = out[0], s.p = out[1], s.q = out[2];
  return s;
}

namespace {

ConvProblem make_problem(const Conv3dShape& s, const Conv3dOptions& o) {
  ConvProblem P{};
  P.n = s.n, P.c = s.c, P.d = s.d, P.h = s.h, P.w = s.w;
  P.k = s.k, P.t = s.t, P.r = s.r, P.s = s.s;
  P.z = s.z, P.p = s.p, P.q = s.q;
  P.groups = s.groups, P.cg = s.c / s.groups, P.kg = s.k / s.groups;
  for (int i = 0; i < 3; ++i) {
    P.stride[i] = o.stride[i];
    P.pad[i] = o.pad[i];
    P.dilation[i] = o.dilation[i];
  }
  P.channels_last = o.layout == ConvLayout::kNdhwc;
  P.relu = o.activation == Activation::kRelu;
  P.bf16 = o.math == ConvMath::kBf16;
  P.allow_tf32 = o.math == ConvMath::kAllowTf32;
  return P;
}

struct ConvCall {
  ConvProblem problem;
  ConvOp op;
  const char* implementation;  // the one asked for, or null
};

// Refuses when another implementation than `name` was asked for.
Status asked_for(const ConvCall& call, const char* name) {
  if (call.implementation == nullptr || std::string_view(call.implementation) == name) return Status::ok();
  return {StatusCode::kUnsupported, detail::concat("the call asked for ", call.implementation)};
}

void conv_cuda_run(Context& ctx, const ConvCall& call) {
#if RECKON_WITH_CUDA
  detail::conv3d_direct_cuda(ctx, call.problem, call.op);
#else
  (void)ctx, (void)call;
#endif
}

// Every element of an [A, B, C, D, E] index space, in parallel, through `f(a, b, c, d, e)`.
template <typename F>
void for_each_5d(Context& ctx, std::int64_t A, std::int64_t B, std::int64_t C, std::int64_t D, std::int64_t E, F f) {
  const std::int64_t total = A * B * C * D * E;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < total; ++i) {
    const detail::Index5 x = detail::split_index(i, B, C, D, E);
    f(x.a, x.b, x.c, x.d, x.e);
  }
}

void conv_cpu_run(Context& ctx, const ConvCall& call) {
  const ConvProblem& P = call.problem;
  switch (call.op) {
    case ConvOp::kForward:
      for_each_5d(ctx, P.n, P.k, P.z, P.p, P.q, [&P](auto n, auto k, auto z, auto p, auto q) {
        P.out[detail::y_index(P, n, k, z, p, q)] = detail::conv_fwd_element(P, n, k, z, p, q);
      });
      break;
    case ConvOp::kBackwardData:
      for_each_5d(ctx, P.n, P.c, P.d, P.h, P.w, [&P](auto n, auto c, auto d, auto h, auto w) {
        P.out[detail::x_index(P, n, c, d, h, w)] = detail::conv_bwd_data_element(P, n, c, d, h, w);
      });
      break;
    case ConvOp::kBackwardWeights:
      for_each_5d(ctx, P.k, P.cg, P.t, P.r, P.s, [&P](auto k, auto c, auto t, auto r, auto s) {
        P.out[detail::w_index(P, k, c, t, r, s)] = detail::conv_bwd_weights_element(P, k, c, t, r, s);
      });
      if (P.dbias != nullptr) {
        for_each_5d(ctx, P.k, 1, 1, 1, 1, [&P](auto k, auto, auto, auto, auto) {
          P.dbias[k] = detail::conv_bwd_bias_element(P, k);
        });
      }
      break;
  }
}

Status conv_igemm_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cuda_implicit_gemm"); !asked) return asked;
  if (Status cuda = requires_cuda_context(ctx); !cuda) return cuda;
  if (call.problem.bf16) return {StatusCode::kUnsupported, "no bf16 variant of the implicit GEMM yet"};
  return Status::ok();
}

Status conv_igemm_tf32_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cuda_implicit_gemm_tf32"); !asked) return asked;
  if (Status cuda = requires_cuda_context(ctx); !cuda) return cuda;
  if (!call.problem.allow_tf32) return {StatusCode::kUnsupported, "the math does not allow TF32 (ConvMath::kAllowTf32)"};
#if RECKON_WITH_CUDA
  if (!detail::cuda_has_tf32_mma(ctx)) return {StatusCode::kUnsupported, "TF32 mma.sync needs sm_80 or later"};
#endif
  return Status::ok();
}

template <bool kTensorCores>
void conv_igemm_run(Context& ctx, const ConvCall& call) {
#if RECKON_WITH_CUDA
  detail::conv3d_igemm_cuda(ctx, call.problem, call.op, kTensorCores);
#else
  (void)ctx, (void)call;
#endif
}

Status conv_cudnn_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cuda_cudnn"); !asked) return asked;
  if (Status cuda = requires_cuda_context(ctx); !cuda) return cuda;
  if (call.problem.bf16) return {StatusCode::kUnsupported, "cuDNN's bf16 convolutions take bf16 tensors; these are f32"};
#if RECKON_WITH_CUDA && RECKON_WITH_CUDNN
  // The heuristics need the context's cuDNN handle, lazy state the query may create.
  return detail::conv3d_cudnn_supports(const_cast<Context&>(ctx), call.problem, call.op);
#else
  (void)call;
  return {StatusCode::kNotCompiled, "this build has no cuDNN"};
#endif
}

void conv_cudnn_run(Context& ctx, const ConvCall& call) {
#if RECKON_WITH_CUDA && RECKON_WITH_CUDNN
  detail::conv3d_cudnn(ctx, call.problem, call.op);
#else
  (void)ctx, (void)call;
#endif
}

template <bool kBlocked>
Status conv_onednn_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, kBlocked ? "cpu_onednn" : "cpu_onednn_plain"); !asked) return asked;
  if (Status cpu = requires_cpu_context(ctx); !cpu) return cpu;
#if RECKON_WITH_ONEDNN
  if (detail::conv3d_onednn_supports(call.problem, call.op, kBlocked)) return Status::ok();
  return {StatusCode::kUnsupported, "oneDNN has no convolution primitive for this problem"};
#else
  (void)call;
  return {StatusCode::kNotCompiled, "this build has no oneDNN (RECKON_CPU_GEMM)"};
#endif
}

template <bool kBlocked>
void conv_onednn_run(Context& ctx, const ConvCall& call) {
  (void)ctx;
#if RECKON_WITH_ONEDNN
  detail::conv3d_onednn(ctx, call.problem, call.op, kBlocked);
#else
  (void)call;
#endif
}

Status conv_small_c_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cpu_small_channels"); !asked) return asked;
  if (Status cpu = requires_cpu_context(ctx); !cpu) return cpu;
  return detail::conv3d_small_c_supports(call.problem, call.op);
}

void conv_small_c_run(Context& ctx, const ConvCall& call) { detail::conv3d_small_c(ctx, call.problem); }

Status conv_small_c_cuda_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cuda_small_channels"); !asked) return asked;
  if (Status cuda = requires_cuda_context(ctx); !cuda) return cuda;
  const ConvProblem& P = call.problem;
  if (call.op != ConvOp::kForward) return {StatusCode::kUnsupported, "the forward only"};
  if (P.cg > 4) return {StatusCode::kUnsupported, "more than 4 input channels per group: the GEMM paths' problem"};
  if (P.cg * P.t * P.r * P.s > detail::kSmallChannelMaxTaps) {
    return {StatusCode::kUnsupported, "a filter of more taps than fit in shared memory"};
  }
  const std::int64_t chunks = (P.kg + detail::kSmallChannelFilters - 1) / detail::kSmallChannelFilters;
  if (P.groups * chunks > 65535) return {StatusCode::kUnsupported, "more filter chunks than a grid's y extent"};
  return Status::ok();
}

void conv_small_c_cuda_run(Context& ctx, const ConvCall& call) {
#if RECKON_WITH_CUDA
  detail::conv3d_small_c_cuda(ctx, call.problem);
#else
  (void)ctx, (void)call;
#endif
}

Status conv_im2col_supported(const Context& ctx, const ConvCall& call) {
  if (Status asked = asked_for(call, "cpu_im2col"); !asked) return asked;
  if (Status cpu = requires_cpu_context(ctx); !cpu) return cpu;
  if (call.problem.bf16) return {StatusCode::kUnsupported, "bf16 math is oneDNN's and the direct loop's"};
  return detail::conv3d_im2col_supports(call.problem);
}

void conv_im2col_run(Context& ctx, const ConvCall& call) { detail::conv3d_im2col(ctx, call.problem, call.op); }

const ImplementationList<ConvCall, 10> kConv{
    "conv3d",
    // cuDNN ahead of the hand-written kernels until a device run has verified them.
    {{{"cuda_cudnn", "a CUDA context and a build with cuDNN (deterministic algorithms, FMA math)",
       conv_cudnn_supported, conv_cudnn_run},
      {"cuda_small_channels", "a CUDA context; the forward with <= 4 input channels per group (8 filters per thread "
       "from shared memory)",
       conv_small_c_cuda_supported, conv_small_c_cuda_run},
      {"cuda_implicit_gemm_tf32", "a CUDA device of sm_80 or later and TF32 allowed (the implicit GEMM on tensor "
       "cores: m16n8k8 mma.sync)",
       conv_igemm_tf32_supported, conv_igemm_run<true>},
      {"cuda_implicit_gemm",
       "a CUDA context (64 x 64 tiles, cp.async double buffering, FMA; split-K for the weight gradient)",
       conv_igemm_supported, conv_igemm_run<false>},
      {"cuda_direct", "a CUDA context (one thread per output element: any shape)",
       [](const Context& c, const ConvCall& call) {
         Status asked = asked_for(call, "cuda_direct");
         return asked ? requires_cuda_context(c) : asked;
       },
       conv_cuda_run},
      {"cpu_small_channels", "a CPU context; the forward with <= 4 input channels per group (NCDHW, unit stride along "
       "W): each output row for every filter at once, vectorised along W",
       conv_small_c_supported, conv_small_c_run},
      {"cpu_onednn", "a CPU context and a build with oneDNN (its convolution primitives on the layouts they choose, "
       "operands reordered: PyTorch's CPU path)",
       conv_onednn_supported<true>, conv_onednn_run<true>},
      {"cpu_onednn_plain", "a CPU context and a build with oneDNN (its convolution primitives on the tensors' layouts)",
       conv_onednn_supported<false>, conv_onednn_run<false>},
      {"cpu_im2col", "a CPU context (the input unrolled into columns, then the BLAS: builds without oneDNN)",
       conv_im2col_supported, conv_im2col_run},
      {"cpu_direct", "a CPU context (the reference: one output element per call, in a fixed order)",
       [](const Context& c, const ConvCall& call) {
         Status asked = asked_for(call, "cpu_direct");
         return asked ? requires_cpu_context(c) : asked;
       },
       conv_cpu_run}}}};

// The autotuner's choices: problem key -> implementation name (a string of kConv's list).
struct Tuning {
  std::mutex mutex;
  std::map<std::string, const char*> chosen;
  bool loaded = false;
};

Tuning& tuning() {
  static Tuning t;
  return t;
}

std::string tuning_key(const Context& ctx, const ConvCall& call) {
  const ConvProblem& P = call.problem;
  return detail::concat(ctx.device().str(), " op", static_cast<int>(call.op), " n", P.n, " c", P.c, " d", P.d, " h", P.h,
                        " w", P.w, " k", P.k, " t", P.t, " r", P.r, " s", P.s, " g", P.groups, " st", P.stride[0], ",",
                        P.stride[1], ",", P.stride[2], " pad", P.pad[0], ",", P.pad[1], ",", P.pad[2], P.bf16 ? " bf16" : "", P.allow_tf32 ? " tf32" : "", " dil",
                        P.dilation[0], ",", P.dilation[1], ",", P.dilation[2], P.channels_last ? " ndhwc" : " ncdhw",
                        P.bias != nullptr || P.dbias != nullptr ? " bias" : "", P.relu ? " relu" : "");
}

const char* implementation_named(const std::string& name) {
  for (const auto& impl : kConv.implementations) {
    if (name == impl.name) return impl.name;
  }
  return nullptr;
}

// RECKON_CONV_TUNING=FILE: earlier choices, "key<TAB>implementation" a line.
void load_tuning_file(Tuning& t) {
  t.loaded = true;
  const char* path = std::getenv("RECKON_CONV_TUNING");
  if (path == nullptr) return;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    if (const char* name = implementation_named(line.substr(tab + 1))) t.chosen[line.substr(0, tab)] = name;
  }
}

void save_tuning(const std::string& key, const char* name) {
  const char* path = std::getenv("RECKON_CONV_TUNING");
  if (path == nullptr) return;
  std::ofstream(path, std::ios::app) << key << '\t' << name << '\n';
}

// Runs every accepting implementation (once to warm up, then the best of three timed runs) and returns the
// fastest's name. The direct reference kernels are timed only when nothing else accepts (they are the slowest by
// far, seconds on a large problem).
const char* tune(Context& ctx, ConvCall call) {
  const char* best = nullptr;
  double best_seconds = 0;
  for (const auto& impl : kConv.implementations) {
    call.implementation = impl.name;
    if (!impl.supported(ctx, call).is_ok()) continue;
    const std::string_view name = impl.name;
    if (best != nullptr && (name == "cpu_direct" || name == "cuda_direct")) continue;
    impl.run(ctx, call);
    ctx.synchronize();
    double seconds = 0;
    for (int run = 0; run < 3; ++run) {  // the best of three: one slow run (a page fault, a neighbour) decides nothing
      const auto start = std::chrono::steady_clock::now();
      impl.run(ctx, call);
      ctx.synchronize();
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      seconds = run == 0 ? took : std::min(seconds, took);
    }
    if (best == nullptr || seconds < best_seconds) best = impl.name, best_seconds = seconds;
  }
  return best;
}

// The call through the dispatcher, with the autotuner's choice when asked for.
void run_conv(Context& ctx, ConvCall call, bool autotune) {
  if (autotune && call.implementation == nullptr) {
    Tuning& t = tuning();
    const std::string key = tuning_key(ctx, call);
    std::unique_lock<std::mutex> lock(t.mutex);
    if (!t.loaded) load_tuning_file(t);
    const auto found = t.chosen.find(key);
    if (found != t.chosen.end()) {
      call.implementation = found->second;
    } else if (!ctx.capturing()) {
      lock.unlock();
      const char* best = tune(ctx, call);
      lock.lock();
      if (best != nullptr && t.chosen.emplace(key, best).second) save_tuning(key, best);
      call.implementation = best;
    }
  }
  dispatch(ctx, kConv, call);
}

}  // namespace

void conv3d_fwd(Context& ctx, const TensorView& x, const TensorView& w, const TensorView& bias, const TensorView& y,
                const Conv3dOptions& options) {
  const Conv3dShape s = conv3d_shape(x, w, options);
  check_volume(ctx, x, "conv3d x", options.layout, s.n, s.c, s.d, s.h, s.w);
  check_f32(ctx, w, "conv3d w");
  check_volume(ctx, y, "conv3d y", options.layout, s.n, s.k, s.z, s.p, s.q);
  if (bias.data != nullptr) {
    check_shape(bias, "conv3d bias", {s.k});
    check_f32(ctx, bias, "conv3d bias");
  }
  ConvProblem P = make_problem(s, options);
  P.x = static_cast<const float*>(x.data);
  P.wt = static_cast<const float*>(w.data);
  P.bias = static_cast<const float*>(bias.data);
  P.out = static_cast<float*>(y.data);
  if (y.numel() == 0) return;
  run_conv(ctx, ConvCall{P, ConvOp::kForward, options.implementation}, options.autotune);
}

void conv3d_bwd_data(Context& ctx, const TensorView& dy, const TensorView& w, const TensorView& dx,
                     const Conv3dOptions& options) {
  const Conv3dShape s = conv3d_shape(dx, w, options);
  check_volume(ctx, dx, "conv3d dx", options.layout, s.n, s.c, s.d, s.h, s.w);
  check_f32(ctx, w, "conv3d w");
  check_volume(ctx, dy, "conv3d dy", options.layout, s.n, s.k, s.z, s.p, s.q);
  ConvProblem P = make_problem(s, options);
  P.relu = false;
  P.wt = static_cast<const float*>(w.data);
  P.dy = static_cast<const float*>(dy.data);
  P.out = static_cast<float*>(dx.data);
  if (dx.numel() == 0) return;
  run_conv(ctx, ConvCall{P, ConvOp::kBackwardData, options.implementation}, options.autotune);
}

void conv3d_bwd_weights(Context& ctx, const TensorView& x, const TensorView& dy, const TensorView& dw,
                        const TensorView& dbias, const Conv3dOptions& options) {
  const Conv3dShape s = conv3d_shape(x, dw, options);
  check_volume(ctx, x, "conv3d x", options.layout, s.n, s.c, s.d, s.h, s.w);
  check_f32(ctx, dw, "conv3d dw");
  check_volume(ctx, dy, "conv3d dy", options.layout, s.n, s.k, s.z, s.p, s.q);
  if (dbias.data != nullptr) {
    check_shape(dbias, "conv3d dbias", {s.k});
    check_f32(ctx, dbias, "conv3d dbias");
  }
  ConvProblem P = make_problem(s, options);
  P.relu = false;
  P.x = static_cast<const float*>(x.data);
  P.dy = static_cast<const float*>(dy.data);
  P.out = static_cast<float*>(dw.data);
  P.dbias = static_cast<float*>(dbias.data);
  run_conv(ctx, ConvCall{P, ConvOp::kBackwardWeights, options.implementation}, options.autotune);
}

namespace {

struct PoolCall {
  const PoolProblem* pool;
  const GlobalPoolProblem* global;
  PoolOp op;
};

void pool_cuda_run(Context& ctx, const PoolCall& call) {
#if RECKON_WITH_CUDA
  detail::pool3d_cuda(ctx, call.pool, call.global, call.op);
#else
  (void)ctx, (void)call;
#endif
}

// Max pooling on the CPU, one sample per iteration and every channel of an output position together (contiguous
// channels last): the taps in pool_fwd_element's order with its comparison, so the same values and argmax.
// best[c], arg[c] = x[c · stride], index where that value wins: the first value, a greater one, or a NaN over a number
// (pool_fwd_element's rule). Without branches, so that the channels-last loop (stride 1) vectorises.
inline void take_max(const float* x, std::int64_t stride, std::int64_t channels, std::int32_t index, float* best,
                     std::int32_t* arg) {
  for (std::int64_t c = 0; c < channels; ++c) {
    const float v = x[c * stride], b = best[c];
    const bool take = (arg[c] < 0) | (v > b) | ((v != v) & (b == b));
    best[c] = take ? v : b;
    arg[c] = take ? index : arg[c];
  }
}

// Where channel c of spatial position `at` lies in one sample's volume of `spatial` positions: channels last, or each
// channel a plane of its own.
struct ChannelStrides {
  std::int64_t position, channel;
  ChannelStrides(const PoolProblem& P, std::int64_t spatial)
      : position(P.channels_last ? P.c : 1), channel(P.channels_last ? 1 : spatial) {}
};

// The window of output (z, p, q) of sample n, every channel at once, into best / arg.
void max_window(const PoolProblem& P, std::int64_t n, std::int64_t z, std::int64_t p, std::int64_t q, float* best,
                std::int32_t* arg) {
  const ChannelStrides xs(P, P.d * P.h * P.w);
  const float* x = P.x + n * P.c * P.d * P.h * P.w;
  std::int64_t f0, l0, f1, l1, f2, l2;
  detail::window_taps(P, 0, z, P.d, f0, l0);
  detail::window_taps(P, 1, p, P.h, f1, l1);
  detail::window_taps(P, 2, q, P.w, f2, l2);
  std::fill(best, best + P.c, -INFINITY);
  std::fill(arg, arg + P.c, -1);
  for (std::int64_t t = f0; t < l0; ++t) {
    const std::int64_t d = z * P.stride[0] - P.pad[0] + t;
    for (std::int64_t r = f1; r < l1; ++r) {
      const std::int64_t h = p * P.stride[1] - P.pad[1] + r;
      for (std::int64_t s = f2; s < l2; ++s) {
        const std::int64_t at = (d * P.h + h) * P.w + q * P.stride[2] - P.pad[2] + s;
        take_max(x + at * xs.position, xs.channel, P.c, static_cast<std::int32_t>(at), best, arg);
      }
    }
  }
}

void max_pool_fwd_cpu(Context& ctx, const PoolProblem& P) {
  const std::int64_t outputs = P.z * P.p * P.q;
  const ChannelStrides ys(P, outputs);
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    std::vector<float> best(static_cast<std::size_t>(P.c));
    std::vector<std::int32_t> arg(static_cast<std::size_t>(P.c));
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < P.n; ++n) {
      for (std::int64_t z = 0, o = 0; z < P.z; ++z) {
        for (std::int64_t p = 0; p < P.p; ++p) {
          for (std::int64_t q = 0; q < P.q; ++q, ++o) {
            max_window(P, n, z, p, q, best.data(), arg.data());
            float* y = P.out + n * P.c * outputs + o * ys.position;
            for (std::int64_t c = 0; c < P.c; ++c) y[c * ys.channel] = arg[static_cast<std::size_t>(c)] < 0 ? 0.0f : best[static_cast<std::size_t>(c)];
            if (P.argmax_out == nullptr) continue;
            std::int32_t* a = P.argmax_out + n * P.c * outputs + o * ys.position;
            for (std::int64_t c = 0; c < P.c; ++c) a[c * ys.channel] = arg[static_cast<std::size_t>(c)];
          }
        }
      }
    }
  }
}

// Max pooling's backward on the CPU, one sample per iteration: its gradient zeroed, then each output's gradient added
// at its argmax (the flat input position) in output order, the order in which pool_bwd_element's gather sums them:
// the same bits, without searching every input's windows. (Writing each input once where the windows tile the input
// measured slower than this memset and scatter.)
void max_pool_bwd_cpu(Context& ctx, const PoolProblem& P) {
  const std::int64_t inputs = P.d * P.h * P.w, outputs = P.z * P.p * P.q;
  const ChannelStrides xs(P, inputs), ys(P, outputs);
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t n = 0; n < P.n; ++n) {
    float* dx = P.out + n * P.c * inputs;
    const float* dy = P.dy + n * P.c * outputs;
    const std::int32_t* argmax = P.argmax_in + n * P.c * outputs;
    std::fill(dx, dx + P.c * inputs, 0.0f);
    for (std::int64_t o = 0; o < outputs; ++o) {
      for (std::int64_t c = 0; c < P.c; ++c) {
        const std::int64_t y = o * ys.position + c * ys.channel;
        const std::int32_t at = argmax[y];
        if (at < 0) continue;
        float& g = dx[at * xs.position + c * xs.channel];
        g = add_rn(g, dy[y]);
      }
    }
  }
}

void pool_cpu_window(Context& ctx, const PoolProblem& P, PoolOp op) {
  if (op == PoolOp::kForward && P.max) {
    max_pool_fwd_cpu(ctx, P);
  } else if (op == PoolOp::kForward) {
    for_each_5d(ctx, P.n, P.c, P.z, P.p, P.q, [&P](auto n, auto c, auto z, auto p, auto q) {
      std::int32_t argmax = -1;
      P.out[detail::pool_y_index(P, n, c, z, p, q)] = detail::pool_fwd_element(P, n, c, z, p, q, argmax);
    });
  } else if (P.max) {
    max_pool_bwd_cpu(ctx, P);
  } else {
    for_each_5d(ctx, P.n, P.c, P.d, P.h, P.w, [&P](auto n, auto c, auto d, auto h, auto w) {
      P.out[detail::pool_x_index(P, n, c, d, h, w)] = detail::pool_bwd_element(P, n, c, d, h, w);
    });
  }
}

// Global max pooling's backward on the CPU: each sample's gradient zeroed, then one value per channel written at
// its argmax (when it lies in the counted depth, as global_pool_bwd_element decides).
void global_max_pool_bwd_cpu(Context& ctx, const GlobalPoolProblem& P) {
  const std::int64_t hw = P.h * P.w, volume = P.c * P.d * hw;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t n = 0; n < P.n; ++n) {
    std::fill(P.out + n * volume, P.out + (n + 1) * volume, 0.0f);
    for (std::int64_t c = 0; c < P.c; ++c) {
      const std::int32_t at = P.argmax_in[n * P.c + c];
      if (at < 0 || at / hw >= detail::counted_depth(P, n)) continue;
      P.out[detail::volume_index(P.channels_last, P.c, P.d, P.h, P.w, n, c, at / hw, at % hw / P.w, at % P.w)] =
          P.dy[n * P.c + c];
    }
  }
}

// Global max pooling's forward on channels-last tensors: each sample's counted positions in order, every channel at
// once (global_pool_fwd_element's values and argmax, read contiguously).
void global_max_pool_fwd_cpu(Context& ctx, const GlobalPoolProblem& P) {
  const std::int64_t hw = P.h * P.w;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t n = 0; n < P.n; ++n) {
    float* best = P.out + n * P.c;
    thread_local std::vector<std::int32_t> arg;
    arg.assign(static_cast<std::size_t>(P.c), -1);
    std::fill(best, best + P.c, -INFINITY);
    const std::int64_t positions = detail::counted_depth(P, n) * hw;
    for (std::int64_t at = 0; at < positions; ++at) {
      take_max(P.x + (n * P.d * hw + at) * P.c, 1, P.c, static_cast<std::int32_t>(at), best, arg.data());
    }
    if (positions == 0) std::fill(best, best + P.c, 0.0f);
    if (P.argmax_out != nullptr) std::copy(arg.begin(), arg.end(), P.argmax_out + n * P.c);
  }
}

void pool_cpu_global(Context& ctx, const GlobalPoolProblem& P, PoolOp op) {
  if (op == PoolOp::kGlobalForward && P.max && P.channels_last) {
    global_max_pool_fwd_cpu(ctx, P);
  } else if (op == PoolOp::kGlobalForward) {
    for_each_5d(ctx, P.n, P.c, 1, 1, 1, [&P](auto n, auto c, auto, auto, auto) {
      std::int32_t argmax = -1;
      P.out[n * P.c + c] = detail::global_pool_fwd_element(P, n, c, argmax);
      if (P.argmax_out != nullptr) P.argmax_out[n * P.c + c] = argmax;
    });
  } else if (P.max) {
    global_max_pool_bwd_cpu(ctx, P);
  } else {
    for_each_5d(ctx, P.n, P.c, P.d, P.h, P.w, [&P](auto n, auto c, auto d, auto h, auto w) {
      P.out[detail::volume_index(P.channels_last, P.c, P.d, P.h, P.w, n, c, d, h, w)] =
          detail::global_pool_bwd_element(P, n, c, d, h, w);
    });
  }
}

void pool_cpu_run(Context& ctx, const PoolCall& call) {
  if (call.pool != nullptr) {
    pool_cpu_window(ctx, *call.pool, call.op);
  } else {
    pool_cpu_global(ctx, *call.global, call.op);
  }
}

const auto kPool = cuda_then_cpu<PoolCall>("pool3d", "cuda_direct", "a CUDA context", pool_cuda_run, pool_cpu_run);

PoolProblem pool_problem(const TensorView& x_like, const Pool3dOptions& o, const std::array<std::int64_t, 5>& out) {
  const auto in = ncdhw(x_like, o.layout, "pool3d input");
  PoolProblem P{};
  P.n = in[0], P.c = in[1], P.d = in[2], P.h = in[3], P.w = in[4];
  P.z = out[2], P.p = out[3], P.q = out[4];
  for (int i = 0; i < 3; ++i) {
    P.kernel[i] = o.kernel[i];
    P.stride[i] = o.stride[i] > 0 ? o.stride[i] : o.kernel[i];
    P.pad[i] = o.pad[i];
  }
  P.channels_last = o.layout == ConvLayout::kNdhwc;
  P.max = o.mode == PoolMode::kMax;
  P.count_include_pad = o.count_include_pad;
  RECKON_CHECK_ARG(P.d * P.h * P.w <= std::numeric_limits<std::int32_t>::max(),
                   "pool3d: a D·H·W volume beyond 2^31 positions cannot be indexed by an i32 argmax");
  return P;
}

void check_argmax(const Context& ctx, const TensorView& argmax, const TensorView& like, const char* name) {
  check_dtype(argmax, name, DType::kI32);
  RECKON_CHECK_ARG(argmax.is_contiguous() && argmax.numel() == like.numel(), name, " must be contiguous i32 of ",
                   like.numel(), " elements, got ", argmax.shape_str());
  check_device(argmax, name, ctx.device());
}

}  // namespace

std::array<std::int64_t, 5> pool3d_output_sizes(const TensorView& x, const Pool3dOptions& o) {
  const auto in = ncdhw(x, o.layout, "pool3d input");
  check_window("pool3d kernel", o.kernel, 1);
  check_window("pool3d stride", o.stride, 0);
  check_window("pool3d padding", o.pad, 0);
  std::array<std::int64_t, 5> out{in[0], in[1], 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    RECKON_CHECK_ARG(o.pad[i] <= o.kernel[i] / 2, "pool3d: padding ", o.pad[i], " beyond half the kernel ",
                     o.kernel[i], " in dimension ", i, " (a window could hold only padding)");
    const std::int64_t stride = o.stride[i] > 0 ? o.stride[i] : o.kernel[i];
    const std::int64_t padded = in[2 + i] + 2 * o.pad[i];
    RECKON_CHECK_ARG(padded >= o.kernel[i], "pool3d: a window of ", o.kernel[i], " in dimension ", i,
                     " over a padded input of ", padded, ": no output");
    out[2 + i] = (padded - o.kernel[i]) / stride + 1;
  }
  return out;
}

void pool3d_fwd(Context& ctx, const TensorView& x, const TensorView& y, const TensorView& argmax,
                const Pool3dOptions& options) {
  const auto out = pool3d_output_sizes(x, options);
  PoolProblem P = pool_problem(x, options, out);
  check_volume(ctx, x, "pool3d x", options.layout, P.n, P.c, P.d, P.h, P.w);
  check_volume(ctx, y, "pool3d y", options.layout, P.n, P.c, P.z, P.p, P.q);
  if (argmax.data != nullptr) check_argmax(ctx, argmax, y, "pool3d argmax");
  P.x = static_cast<const float*>(x.data);
  P.out = static_cast<float*>(y.data);
  P.argmax_out = P.max ? static_cast<std::int32_t*>(argmax.data) : nullptr;
  if (y.numel() == 0) return;
  dispatch(ctx, kPool, PoolCall{&P, nullptr, PoolOp::kForward});
}

void pool3d_bwd(Context& ctx, const TensorView& dy, const TensorView& argmax, const TensorView& dx,
                const Pool3dOptions& options) {
  const auto out = pool3d_output_sizes(dx, options);
  PoolProblem P = pool_problem(dx, options, out);
  check_volume(ctx, dx, "pool3d dx", options.layout, P.n, P.c, P.d, P.h, P.w);
  check_volume(ctx, dy, "pool3d dy", options.layout, P.n, P.c, P.z, P.p, P.q);
  if (P.max) {
    RECKON_CHECK_ARG(argmax.data != nullptr, "pool3d_bwd: max pooling needs the forward's argmax");
    check_argmax(ctx, argmax, dy, "pool3d argmax");
  }
  P.dy = static_cast<const float*>(dy.data);
  P.argmax_in = static_cast<const std::int32_t*>(argmax.data);
  P.out = static_cast<float*>(dx.data);
  if (dx.numel() == 0) return;
  dispatch(ctx, kPool, PoolCall{&P, nullptr, PoolOp::kBackward});
}

namespace {

GlobalPoolProblem global_problem(const Context& ctx, const TensorView& x_like, const TensorView& lengths,
                                 PoolMode mode, ConvLayout layout) {
  const auto in = ncdhw(x_like, layout, "global pool input");
  GlobalPoolProblem P{};
  P.n = in[0], P.c = in[1], P.d = in[2], P.h = in[3], P.w = in[4];
  P.channels_last = layout == ConvLayout::kNdhwc;
  P.max = mode == PoolMode::kMax;
  RECKON_CHECK_ARG(P.d * P.h * P.w <= std::numeric_limits<std::int32_t>::max(),
                   "global pool: a D·H·W volume beyond 2^31 positions cannot be indexed by an i32 argmax");
  if (lengths.data != nullptr) {
    check_shape(lengths, "global pool lengths", {P.n});
    check_dtype(lengths, "global pool lengths", DType::kI32);
    check_device(lengths, "global pool lengths", ctx.device());
    P.lengths = static_cast<const std::int32_t*>(lengths.data);
  }
  return P;
}

}  // namespace

void global_pool3d_fwd(Context& ctx, const TensorView& x, const TensorView& lengths, const TensorView& y,
                       const TensorView& argmax, PoolMode mode, ConvLayout layout) {
  GlobalPoolProblem P = global_problem(ctx, x, lengths, mode, layout);
  check_volume(ctx, x, "global pool x", layout, P.n, P.c, P.d, P.h, P.w);
  check_shape(y, "global pool y", {P.n, P.c});
  check_f32(ctx, y, "global pool y");
  if (argmax.data != nullptr) check_argmax(ctx, argmax, y, "global pool argmax");
  P.x = static_cast<const float*>(x.data);
  P.out = static_cast<float*>(y.data);
  P.argmax_out = P.max ? static_cast<std::int32_t*>(argmax.data) : nullptr;
  if (y.numel() == 0) return;
  dispatch(ctx, kPool, PoolCall{nullptr, &P, PoolOp::kGlobalForward});
}

void global_pool3d_bwd(Context& ctx, const TensorView& dy, const TensorView& lengths, const TensorView& argmax,
                       const TensorView& dx, PoolMode mode, ConvLayout layout) {
  GlobalPoolProblem P = global_problem(ctx, dx, lengths, mode, layout);
  check_volume(ctx, dx, "global pool dx", layout, P.n, P.c, P.d, P.h, P.w);
  check_shape(dy, "global pool dy", {P.n, P.c});
  check_f32(ctx, dy, "global pool dy");
  if (P.max) {
    RECKON_CHECK_ARG(argmax.data != nullptr, "global_pool3d_bwd: max pooling needs the forward's argmax");
    check_argmax(ctx, argmax, dy, "global pool argmax");
  }
  P.dy = static_cast<const float*>(dy.data);
  P.argmax_in = static_cast<const std::int32_t*>(argmax.data);
  P.out = static_cast<float*>(dx.data);
  if (dx.numel() == 0) return;
  dispatch(ctx, kPool, PoolCall{nullptr, &P, PoolOp::kGlobalBackward});
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> conv3d_ops() { return {describe(kConv), describe(kPool)}; }
}  // namespace reckon::detail
