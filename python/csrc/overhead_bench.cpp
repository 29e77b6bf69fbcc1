// The operators' cost over calling reckon's kernels directly: each torch.ops.reckon operator called through torch's
// dispatcher (as Python's torch.ops does, without the interpreter) against the kernel on the same memory, at a
// small shape where the per-call cost shows. Prints one JSON object; `make compare` runs it.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/fm/fm.h"
#include "reckon/runtime/context.h"

namespace {

// The median over rounds of the mean time per call, in microseconds.
double per_call_us(const std::function<void()>& call) {
  constexpr int kRounds = 15, kCalls = 2000;
  std::vector<double> rounds;
  for (int r = 0; r < kRounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) call();
    rounds.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kCalls);
  }
  std::nth_element(rounds.begin(), rounds.begin() + kRounds / 2, rounds.end());
  return rounds[kRounds / 2];
}

reckon::TensorView view(const at::Tensor& t, reckon::DType dtype) {
  std::vector<std::int64_t> sizes(t.sizes().begin(), t.sizes().end());
  return reckon::TensorView::contiguous(t.data_ptr(), dtype, reckon::Device::cpu(), sizes.data(), static_cast<int>(sizes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::fprintf(stderr, "usage: reckon_torch_overhead path/to/libreckon_torch.so\n");
    return 2;
  }
  at::set_num_threads(1);
  reckon::Context ctx(reckon::Device::cpu());
  ctx.set_cpu_threads(1);
  const at::Tensor src = at::randn({4, 3, 8}), out = at::empty({4});
  auto fm = c10::Dispatcher::singleton().findSchemaOrThrow("reckon::fm_interaction", "")
                .typed<at::Tensor(const at::Tensor&, const c10::optional<at::Tensor>&)>();
  const double fm_op = per_call_us([&] { (void)fm.call(src, c10::nullopt); });
  const double fm_direct = per_call_us([&] { reckon::fm_interaction_fwd(ctx, view(src, reckon::DType::kF32), {}, view(out, reckon::DType::kF32)); });
  const at::Tensor weight = at::randn({100, 8}), ids = at::randint(0, 100, {8}, at::kLong),
                   offsets = at::arange(0, 9, 2, at::kLong), pooled = at::empty({4, 8});
  auto bag = c10::Dispatcher::singleton().findSchemaOrThrow("reckon::embedding_bag", "")
                 .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::string_view, const c10::optional<at::Tensor>&)>();
  const double bag_op = per_call_us([&] { (void)bag.call(weight, ids, offsets, "sum", c10::nullopt); });
  const reckon::TensorView table = view(weight, reckon::DType::kF32);
  const reckon::EmbeddingBags bags{view(offsets, reckon::DType::kI64), view(ids, reckon::DType::kI64), {}};
  const double bag_direct = per_call_us([&] { reckon::embedding_bag_fwd(ctx, {&table, 1}, {&bags, 1}, view(pooled, reckon::DType::kF32)); });
  std::printf("{\"fm_interaction\": {\"op_us\": %.3f, \"direct_us\": %.3f, \"overhead_us\": %.3f}, "
              "\"embedding_bag\": {\"op_us\": %.3f, \"direct_us\": %.3f, \"overhead_us\": %.3f}}\n",
              fm_op, fm_direct, fm_op - fm_direct, bag_op, bag_direct, bag_op - bag_direct);
  return 0;
}
