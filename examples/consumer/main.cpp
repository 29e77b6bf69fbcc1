// Uses the installed reckon: picks a device, fills a tensor from the shared Philox streams and prints a summary.
#include <cstdio>
#include <vector>

#include "reckon/kernels/random/random.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"

int main() {
  try {
    reckon::Context ctx(reckon::default_device(), /*seed=*/42);
    reckon::Tensor t = reckon::Tensor::empty(ctx, reckon::DType::kF32, {1000});
    reckon::random_uniform(ctx, t, 0.0f, 1.0f);
    reckon::Tensor host = t.to(ctx, reckon::Device::cpu());
    ctx.synchronize();
    double sum = 0;
    for (int i = 0; i < 1000; ++i) sum += host.data<float>()[i];
    std::printf("reckon consumer: device %s, mean of 1000 uniforms %.4f\n", ctx.device().str().c_str(), sum / 1000);
    return sum > 400 && sum < 600 ? 0 : 1;
  } catch (const reckon::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
