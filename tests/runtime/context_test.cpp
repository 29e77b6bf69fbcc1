#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/runtime/graph.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/timer.h"
#include "testing.h"

namespace reckon {
namespace {

TEST(Context, CpuContextBasics) {
  Context ctx(Device::cpu(), 42);
  EXPECT_TRUE(ctx.device().is_cpu());
  EXPECT_EQ(ctx.stream(), nullptr);
  EXPECT_EQ(ctx.seed(), 42u);
  EXPECT_GE(ctx.cpu_threads(), 1);
  ctx.set_cpu_threads(1);
  EXPECT_EQ(ctx.cpu_threads(), 1);
  ctx.set_cpu_threads(0);
  EXPECT_GE(ctx.cpu_threads(), 1);
  ctx.synchronize();
}

TEST(Context, RngStreamsAdvanceAndRestartWithSeed) {
  Context ctx(Device::cpu(), 7);
  EXPECT_EQ(ctx.next_rng_stream(), 0u);
  EXPECT_EQ(ctx.next_rng_stream(), 1u);
  ctx.set_seed(8);
  EXPECT_EQ(ctx.seed(), 8u);
  EXPECT_EQ(ctx.next_rng_stream(), 0u);
}

TEST(Context, WorkspaceGrowsAndIsReused) {
  Context ctx(Device::cpu());
  void* a = ctx.workspace(1000);
  ASSERT_NE(a, nullptr);
  EXPECT_GE(ctx.workspace_size(), 1000u);
  EXPECT_EQ(ctx.workspace(500), a);  // smaller requests reuse the same memory
  void* b = ctx.workspace(100000);
  ASSERT_NE(b, nullptr);
  EXPECT_GE(ctx.workspace_size(), 100000u);
}

TEST(Context, MovesKeepState) {
  Context a(Device::cpu(), 99);
  Context b = std::move(a);
  EXPECT_EQ(b.seed(), 99u);
}

TEST(Context, CpuTimerMeasuresElapsedTime) {
  Context ctx(Device::cpu());
  DeviceTimer timer(ctx);
  timer.start();
  volatile double sink = 0;
  for (int i = 0; i < 100000; ++i) sink = sink + i;
  EXPECT_GE(timer.stop_ms(), 0.0);
}

TEST(Context, StageTimerChargesEachIntervalToItsStage) {
  Context ctx(Device::cpu());
  StageTimer stages(ctx, {"short", "long"});
  for (int pass = 0; pass < 3; ++pass) {
    stages.begin();
    stages.end_stage(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stages.end_stage(1);
  }
  const auto& ms = stages.totals_ms();
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_LT(ms[0], 20.0);
  EXPECT_GE(ms[1], 60.0);
  // Time between passes (after the last mark, before begin()) is charged to nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  stages.begin();
  stages.end_stage(0);
  EXPECT_LT(stages.totals_ms()[0], 20.0);
  stages.reset();
  EXPECT_EQ(stages.totals_ms()[1], 0.0);
  EXPECT_THROW(stages.end_stage(2), Error);
}

TEST(ContextCuda, StreamWorkspaceAndTimer) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  EXPECT_NE(ctx.stream(), nullptr);
  Context other(Device::cuda(0));
  EXPECT_NE(ctx.stream(), other.stream());  // each context has its own stream
  void* w = ctx.workspace(std::size_t{1} << 20);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(ctx.workspace(1024), w);
  DeviceTimer timer(ctx);
  timer.start();
  Buffer big = Buffer::on_device(ctx, std::size_t{256} << 20);
  Buffer big2 = Buffer::on_device(ctx, std::size_t{256} << 20);
  copy_bytes(ctx, big2.data(), ctx.device(), big.data(), ctx.device(), big.size());
  const double ms = timer.stop_ms();
  EXPECT_GT(ms, 0.0);
  ctx.synchronize();
}

TEST(Context, OnStreamNeedsACudaDevice) {
  EXPECT_THROW(
      {
        try {
          (void)Context::on_stream(Device::cpu(), nullptr);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
          throw;
        }
      },
      Error);
  if (!cuda_available()) {
    EXPECT_THROW((void)Context::on_stream(Device::cuda(0), nullptr), Error);
  }
}

TEST(ContextCuda, OnStreamEnqueuesOnTheOwnersStreamAndLeavesIt) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context owner(Device::cuda(0));
  std::vector<float> back(1024, 0.0f);
  {
    Context borrowed = Context::on_stream(Device::cuda(0), owner.stream());
    EXPECT_EQ(borrowed.stream(), owner.stream());
    Buffer data = Buffer::on_device(borrowed, back.size() * sizeof(float));
    fill(borrowed, TensorView::contiguous(data.data(), DType::kF32, borrowed.device(), {1024}), 2.5f);
    copy_bytes(borrowed, back.data(), Device::cpu(), data.data(), borrowed.device(), back.size() * sizeof(float));
  }  // the borrowed context and its buffer go; the stream stays the owner's
  owner.synchronize();
  EXPECT_EQ(back[0], 2.5f);
  EXPECT_EQ(back[1023], 2.5f);
  Buffer after = Buffer::on_device(owner, 64);  // the owner's stream still works
  owner.synchronize();
}

TEST(Context, StreamEventOnTheCpuIsImmediate) {
  Context ctx(Device::cpu());
  StreamEvent event(ctx);
  event.wait();  // never recorded
  event.record();
  event.wait();
  StreamEvent moved(std::move(event));
  moved.wait();
}

TEST(ContextCuda, StreamEventWaitsForWorkBeforeItOnly) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  StreamEvent copied(ctx);
  copied.wait();  // never recorded: returns at once
  const std::size_t n = std::size_t{64} << 20;
  Buffer pinned = Buffer::pinned(n), device = Buffer::on_device(ctx, n), other = Buffer::on_device(ctx, n);
  std::memset(pinned.data(), 0x5a, n);
  copy_bytes(ctx, device.data(), ctx.device(), pinned.data(), Device::cpu(), n);
  copied.record();
  // Work enqueued after the mark (a device copy) need not be done when wait() returns; the pinned source may be
  // reused, and the copy holds what it held when the copy ran.
  copy_bytes(ctx, other.data(), ctx.device(), device.data(), ctx.device(), n);
  copied.wait();
  std::memset(pinned.data(), 0, n);
  std::vector<unsigned char> back(n);
  copy_bytes(ctx, back.data(), Device::cpu(), other.data(), ctx.device(), n);
  ctx.synchronize();
  EXPECT_EQ(back[0], 0x5a);
  EXPECT_EQ(back[n - 1], 0x5a);
}

TEST(Context, CpuContextsHaveNoGraphsAndRetireFrees) {
  Context ctx(Device::cpu());
  EXPECT_FALSE(ctx.capturing());
  try {
    GraphCapture capture(ctx);
    ADD_FAILURE() << "a CPU context began a capture";
  } catch (const Error& e) {
    EXPECT_TRUE(e.code() == StatusCode::kInvalidArgument || e.code() == StatusCode::kNotCompiled) << e.what();
  }
  Buffer b = Buffer::on_device(ctx, 64);
  ctx.retire(std::move(b));
  EXPECT_EQ(b.data(), nullptr);
  Tensor t = Tensor::empty(ctx, DType::kF32, {4});
  ctx.retire(std::move(t));
}

Tensor filled(Context& ctx, std::int64_t n, float value) {
  Tensor t = Tensor::empty(ctx, DType::kF32, {n});
  const std::vector<float> host(static_cast<std::size_t>(n), value);
  copy_bytes(ctx, t.data<float>(), ctx.device(), host.data(), Device::cpu(), host.size() * sizeof(float));
  ctx.synchronize();
  return t;
}

// What a capture may not do is refused with an error that names it, the capture ends on every exit path, and the
// context goes on working; a capture on a fresh context records ops that need nothing created.
TEST(CudaGraphCuda, RefusalsAndFailuresEndTheCapture) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  Tensor a = filled(ctx, 16, 1.0f), b = filled(ctx, 16, 0.5f), wrong = filled(ctx, 8, 0.0f);
  const auto expect_refused = [&](auto&& step, StatusCode code, const char* words) {
    try {
      (void)CudaGraph::capture(ctx, step);
      ADD_FAILURE() << "no error for " << words;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(e.message().find(words), std::string::npos) << e.message();
    }
    EXPECT_FALSE(ctx.capturing());
    EXPECT_NO_THROW(ctx.synchronize()) << "the stream is left capturing after: " << words;
  };
  expect_refused([&] { add_inplace(ctx, a, wrong); }, StatusCode::kInvalidArgument, "");
  expect_refused([&] { (void)Tensor::empty(ctx, DType::kF32, {4}); }, StatusCode::kUnsupported, "device allocation");
  const std::vector<float> host(16, 2.0f);
  expect_refused([&] { copy_bytes(ctx, a.data<float>(), ctx.device(), host.data(), Device::cpu(), 64); },
                 StatusCode::kUnsupported, "inside a CUDA graph capture");
  expect_refused([&] { ctx.synchronize(); }, StatusCode::kUnsupported, "synchronize()");
  expect_refused([&] { (void)ctx.workspace(std::size_t{1} << 24); }, StatusCode::kUnsupported, "workspace");
  expect_refused([&] { GraphCapture nested(ctx); }, StatusCode::kInvalidArgument, "already open");

  const CudaGraph add = CudaGraph::capture(ctx, [&] { add_inplace(ctx, a, b); });
  add.replay(ctx);
  add.replay(ctx);
  EXPECT_EQ(testing::to_host<float>(ctx, a), std::vector<float>(16, 2.0f));
  Context other(Device::cuda(0));
  EXPECT_THROW(add.replay(other), Error) << "a graph replays on its own context";
}

// Memory that grows after a capture is retired, not freed, while a graph captured before may point into it.
TEST(CudaGraphCuda, RetiredMemoryLivesAsLongAsTheGraph) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  Tensor a = filled(ctx, 16, 1.0f), b = filled(ctx, 16, 0.5f);
  (void)ctx.workspace(std::size_t{8} << 20);
  ctx.synchronize();
  CudaGraph graph = CudaGraph::capture(ctx, [&] { add_inplace(ctx, a, b); });
  (void)ctx.workspace(std::size_t{64} << 20);  // the 8 MiB block is retired: the graph holds it
  ctx.synchronize();
  const std::size_t held = device_pool_stats(ctx.device()).used_bytes;
  graph = CudaGraph();
  ctx.synchronize();
  EXPECT_LE(device_pool_stats(ctx.device()).used_bytes + (std::size_t{8} << 20), held)
      << "the retired block outlived the graph";
}

}  // namespace
}  // namespace reckon
