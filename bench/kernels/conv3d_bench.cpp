// 3D convolution: GFLOP/s of the forward, data gradient and weight gradient on the shapes (the session
// model's first layer, C = 1; its deeper layer; C3D-wide; VNet's strided layer; on the GPU also TensorFlow issue
// 39985's tensor-core check, in f32 and with TF32 allowed), on the CPU and on a GPU. The peers (PyTorch's
// nn.Conv3d, cuDNN) are measured beside them by `make compare` and the device check.
#include "reckon/kernels/conv3d/conv3d.h"

#include <string>
#include <vector>

#include "bench_util.h"
#include "reckon/kernels/random/random.h"
#include "reckon/runtime/dispatch.h"

namespace reckon::bench {
namespace {

struct Shape {
  const char* name;
  std::int64_t n, c, d, h, w, k, t, r, s, pad, stride;
  bool cpu;  // small enough for the CPU (the tensor-core check is 28 TFLOP a pass)
};
const Shape kShapes[] = {
    {"session_first", 64, 1, 8, 32, 64, 16, 3, 3, 3, 1, 1, true},
    {"session_deeper", 64, 16, 8, 16, 32, 32, 3, 3, 3, 1, 1, true},
    {"c3d_wide", 2, 64, 8, 28, 28, 64, 3, 3, 3, 1, 1, true},
    {"vnet_down", 2, 32, 64, 64, 64, 64, 2, 2, 2, 0, 2, true},  // benchdnn's VNet: 32 -> 64, kernel 2, stride 2
    {"tf39985", 16, 256, 50, 50, 50, 256, 3, 3, 3, 1, 1, false},  // TensorFlow issue 39985's tensor-core check
};

struct Operands {
  Tensor x, w, bias, y, dy, dx, dw, dbias;
  Conv3dOptions o;
  Conv3dShape shape;
};

Operands make(Context& ctx, const Shape& s, ConvMath math = ConvMath::kF32) {
  Operands a;
  a.o.pad = {s.pad, s.pad, s.pad};
  a.o.stride = {s.stride, s.stride, s.stride};
  a.o.math = math;
  a.o.autotune = true;  // each operation on the fastest implementation for its shape
  a.x = Tensor::empty(ctx, DType::kF32, {s.n, s.c, s.d, s.h, s.w});
  a.w = Tensor::empty(ctx, DType::kF32, {s.k, s.c, s.t, s.r, s.s});
  a.bias = Tensor::empty(ctx, DType::kF32, {s.k});
  a.shape = conv3d_shape(a.x, a.w, a.o);
  const Conv3dShape& c = a.shape;
  a.y = Tensor::empty(ctx, DType::kF32, {c.n, c.k, c.z, c.p, c.q});
  a.dy = Tensor::empty(ctx, DType::kF32, {c.n, c.k, c.z, c.p, c.q});
  a.dx = Tensor::empty(ctx, DType::kF32, {s.n, s.c, s.d, s.h, s.w});
  a.dw = Tensor::empty(ctx, DType::kF32, {s.k, s.c, s.t, s.r, s.s});
  a.dbias = Tensor::empty(ctx, DType::kF32, {s.k});
  for (Tensor* t : {&a.x, &a.w, &a.bias, &a.dy}) random_uniform(ctx, *t, -1.0f, 1.0f);
  ctx.synchronize();
  return a;
}

// op 0: forward, 1: data gradient, 2: weight gradient.
void run(Context& ctx, Operands& a, int op) {
  switch (op) {
    case 0: conv3d_fwd(ctx, a.x, a.w, a.bias, a.y, a.o); break;
    case 1: conv3d_bwd_data(ctx, a.dy, a.w, a.dx, a.o); break;
    default: conv3d_bwd_weights(ctx, a.x, a.dy, a.dw, a.dbias, a.o); break;
  }
}

// GFLOP/s, and the implementation the autotuner chose as the label.
void report(benchmark::State& state, const Operands& a) {
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(a.shape.flops()) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(last_dispatch("conv3d").implementation);
}

void BM_Conv3d_cpu(benchmark::State& state, const Shape& s, int op) {
  Context& ctx = cpu_context();
  Operands a = make(ctx, s);
  run(ctx, a, op);  // tunes outside the timing
  for (auto _ : state) {
    run(ctx, a, op);
    ctx.synchronize();
  }
  report(state, a);
}

void BM_Conv3d_cuda(benchmark::State& state, const Shape& s, int op, ConvMath math) {
  if (!has_cuda(state)) return;
  Context& ctx = cuda_context();
  Operands a = make(ctx, s, math);
  run(ctx, a, op);  // tunes outside the timing
  time_iterations(state, ctx, [&] { run(ctx, a, op); });
  report(state, a);
}

const char* kOps[] = {"fwd", "bwd_data", "bwd_weights"};

[[maybe_unused]] const bool kRegistered = [] {
  for (const Shape& s : kShapes) {
    for (int op = 0; op < 3; ++op) {
      const std::string tail = std::string(kOps[op]) + "/" + s.name;
      if (s.cpu) {
        benchmark::RegisterBenchmark(("BM_Conv3d/cpu/" + tail).c_str(), BM_Conv3d_cpu, s, op)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
      for (const ConvMath math : {ConvMath::kF32, ConvMath::kAllowTf32}) {
        const std::string name = "BM_Conv3d/cuda/" + tail + (math == ConvMath::kAllowTf32 ? "/tf32" : "");
        benchmark::RegisterBenchmark(name.c_str(), BM_Conv3d_cuda, s, op, math)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace reckon::bench
