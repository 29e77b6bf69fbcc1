// Random fills: statistics on the CPU, bitwise CPU/CUDA parity for bits and uniforms, near-parity for normals.
#include "reckon/kernels/random/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "testing.h"

namespace reckon {
namespace {

using testing::GuardedBuffer;

constexpr std::size_t kAwkwardSizes[] = {1, 3, 4, 5, 31, 32, 33, 255, 256, 257, 100003};

template <typename T>
std::vector<T> fill_on(Device device, std::size_t n, std::uint64_t seed, void (*fill)(Context&, const TensorView&)) {
  Context ctx(device, seed);
  GuardedBuffer<T> out(ctx, n);
  fill(ctx, out.view());
  return out.download();
}

void fill_bits(Context& ctx, const TensorView& t) { random_bits(ctx, t, 11); }
void fill_uniform(Context& ctx, const TensorView& t) { random_uniform(ctx, t, -0.25f, 0.75f, 12); }
void fill_normal(Context& ctx, const TensorView& t) { random_normal(ctx, t, 1.5f, 2.0f, 13); }

TEST(RandomCpu, BitsAreThePhiloxStream) {
  RECKON_TRACE_SEED();
  for (std::size_t n : kAwkwardSizes) {
    const auto got = fill_on<std::int32_t>(Device::cpu(), n, testing::test_seed(), fill_bits);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(static_cast<std::uint32_t>(got[i]), philox_word(testing::test_seed(), 11, i)) << "n=" << n << " i=" << i;
    }
  }
}

TEST(RandomCpu, UniformMomentsAndRange) {
  RECKON_TRACE_SEED();
  const std::size_t n = 1 << 20;
  const auto got = fill_on<float>(Device::cpu(), n, testing::test_seed(), fill_uniform);
  double sum = 0, sq = 0;
  for (float x : got) {
    ASSERT_GE(x, -0.25f);
    ASSERT_LT(x, 0.75f);
    sum += x;
    sq += static_cast<double>(x) * x;
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.25, 6 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(var, 1.0 / 12, 1e-3);
}

TEST(RandomCpu, NormalMoments) {
  RECKON_TRACE_SEED();
  const std::size_t n = 1 << 20;
  const auto got = fill_on<float>(Device::cpu(), n, testing::test_seed(), fill_normal);
  double sum = 0, sq = 0, fourth = 0;
  for (float x : got) {
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
  }
  const double mean = sum / n;
  for (float x : got) {
    const double d = x - mean;
    sq += d * d;
    fourth += d * d * d * d;
  }
  const double var = sq / n;
  EXPECT_NEAR(mean, 1.5, 6 * 2.0 / std::sqrt(n));
  EXPECT_NEAR(var, 4.0, 0.05);
  EXPECT_NEAR(fourth / n / (var * var), 3.0, 0.05);  // kurtosis of a normal
}

TEST(RandomCpu, DeterministicPerSeedAndStream) {
  Context a(Device::cpu(), 1), b(Device::cpu(), 1), c(Device::cpu(), 2);
  std::vector<float> xa(1000), xb(1000), xc(1000), xa2(1000);
  auto view = [](std::vector<float>& v) {
    return TensorView::contiguous(v.data(), DType::kF32, Device::cpu(), {static_cast<std::int64_t>(v.size())});
  };
  random_uniform(a, view(xa), 0, 1);   // stream 0 of seed 1
  random_uniform(b, view(xb), 0, 1);   // stream 0 of seed 1
  random_uniform(c, view(xc), 0, 1);   // stream 0 of seed 2
  random_uniform(a, view(xa2), 0, 1);  // stream 1 of seed 1
  EXPECT_EQ(xa, xb);
  EXPECT_NE(xa, xc);
  EXPECT_NE(xa, xa2);
}

TEST(RandomCpu, Bf16IsTheRoundedF32) {
  Context ctx(Device::cpu(), 3);
  std::vector<float> f(777);
  std::vector<bf16> h(777);
  random_normal(ctx, TensorView::contiguous(f.data(), DType::kF32, Device::cpu(), {777}), 0, 1, 5);
  random_normal(ctx, TensorView::contiguous(h.data(), DType::kBF16, Device::cpu(), {777}), 0, 1, 5);
  for (std::size_t i = 0; i < f.size(); ++i) ASSERT_EQ(h[i].bits, to_bf16(f[i]).bits) << i;
}

TEST(RandomCpu, BadArgumentsAreErrors) {
  Context ctx(Device::cpu());
  std::vector<float> f(16);
  std::vector<std::int64_t> l(16);
  const TensorView fv = TensorView::contiguous(f.data(), DType::kF32, Device::cpu(), {4, 4});
  TensorView strided = fv;
  strided.sizes[1] = 2;
  EXPECT_THROW(random_uniform(ctx, strided, 0, 1), Error);
  EXPECT_THROW(random_uniform(ctx, fv, 1, 0), Error);
  EXPECT_THROW(random_normal(ctx, fv, 0, -1), Error);
  EXPECT_THROW(random_bits(ctx, fv), Error);
  EXPECT_THROW(random_uniform(ctx, TensorView::contiguous(l.data(), DType::kI64, Device::cpu(), {16}), 0, 1), Error);
  const TensorView on_gpu = TensorView::contiguous(f.data(), DType::kF32, Device::cuda(0), {16});
  EXPECT_THROW(random_uniform(ctx, on_gpu, 0, 1), Error);  // tensor not on the context's device
  EXPECT_NO_THROW(random_uniform(ctx, TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), {0}), 0, 1));
}

TEST(RandomCuda, BitsAndUniformsAreBitwiseIdenticalToCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  for (std::size_t n : kAwkwardSizes) {
    const auto cpu_bits = fill_on<std::int32_t>(Device::cpu(), n, testing::test_seed(), fill_bits);
    const auto gpu_bits = fill_on<std::int32_t>(Device::cuda(0), n, testing::test_seed(), fill_bits);
    EXPECT_TRUE(testing::bitwise_equal(cpu_bits.data(), gpu_bits.data(), n * 4)) << "bits, n=" << n;
    const auto cpu_u = fill_on<float>(Device::cpu(), n, testing::test_seed(), fill_uniform);
    const auto gpu_u = fill_on<float>(Device::cuda(0), n, testing::test_seed(), fill_uniform);
    EXPECT_TRUE(testing::bitwise_equal(cpu_u.data(), gpu_u.data(), n * 4)) << "uniform, n=" << n;
  }
}

TEST(RandomCuda, NormalsAgreeWithCpuToFewUlps) {
  RECKON_SKIP_WITHOUT_CUDA();
  RECKON_TRACE_SEED();
  for (std::size_t n : kAwkwardSizes) {
    const auto cpu = fill_on<float>(Device::cpu(), n, testing::test_seed(), fill_normal);
    const auto gpu = fill_on<float>(Device::cuda(0), n, testing::test_seed(), fill_normal);
    // logf/sinf/cosf differ by up to ~2 ulp between glibc and CUDA; |x| <= ~12 here, so 2e-5 absolute covers it.
    EXPECT_TRUE(testing::all_close(gpu, cpu, {1e-5, 2e-5})) << "n=" << n;
  }
}

TEST(RandomCuda, LargeTensorAndBf16) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu(), 77), gpu(Device::cuda(0), 77);
  const std::size_t n = (std::size_t{1} << 24) + 5;  // grid-stride loop with many blocks per thread
  GuardedBuffer<bf16> g(gpu, n);
  random_uniform(gpu, g.view(), -1, 1, 4);
  std::vector<bf16> c(n);
  random_uniform(cpu, TensorView::contiguous(c.data(), DType::kBF16, Device::cpu(), {static_cast<std::int64_t>(n)}), -1,
                 1, 4);
  const auto got = g.download();
  EXPECT_TRUE(testing::bitwise_equal(got.data(), c.data(), n * 2));
}

}  // namespace
}  // namespace reckon
