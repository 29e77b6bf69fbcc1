// Log-mel spectrograms: the mel scales' fixed points, the filterbank's triangles (peak at the centre, unit area),
// a sine landing in its band and a chirp sweeping upwards, the CPU against a direct DFT in double precision, bad
// arguments, and CUDA against the CPU within FFT rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "reckon/kernels/logmel/logmel.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

Tensor put(Context& ctx, const std::vector<float>& v, std::initializer_list<std::int64_t> sizes) {
  Tensor t = Tensor::empty(ctx, DType::kF32, sizes);
  if (!v.empty()) copy_bytes(ctx, t.view().data, ctx.device(), v.data(), Device::cpu(), v.size() * sizeof(float));
  return t;
}

// [B, frames, mels] on the host.
std::vector<float> run(Context& ctx, const std::vector<float>& signals, std::int64_t batch, const MelFilterbankOptions& o,
                       int hop) {
  const std::int64_t samples = static_cast<std::int64_t>(signals.size()) / batch;
  const std::int64_t frames = logmel_frames(samples, o.fft_size, hop), bins = o.fft_size / 2 + 1;
  const Tensor s = put(ctx, signals, {batch, samples});
  const Tensor fb = put(ctx, mel_filterbank(o), {bins, o.mels});
  const Tensor out = Tensor::empty(ctx, DType::kF32, {batch, frames, o.mels});
  logmel(ctx, s.view(), fb.view(), out.view(), hop);
  return testing::to_host<float>(ctx, out.view());
}

std::vector<float> tone(double hz, double sample_rate, std::int64_t samples, double amplitude = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(samples));
  for (std::int64_t n = 0; n < samples; ++n) {
    x[static_cast<std::size_t>(n)] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(n) / sample_rate));
  }
  return x;
}

std::int64_t loudest_band(const float* row, std::int64_t mels) {
  return std::max_element(row, row + mels) - row;
}

TEST(MelScale, FixedPointsAndRoundTrips) {
  EXPECT_DOUBLE_EQ(hz_to_mel(1000, MelScale::kSlaney), 15.0);
  EXPECT_DOUBLE_EQ(hz_to_mel(500, MelScale::kSlaney), 7.5);
  EXPECT_NEAR(hz_to_mel(6400, MelScale::kSlaney), 42.0, 1e-9);  // 27 mels per factor 6.4 above 1 kHz
  EXPECT_NEAR(hz_to_mel(700, MelScale::kHtk), 2595 * std::log10(2.0), 1e-9);
  for (const MelScale s : {MelScale::kSlaney, MelScale::kHtk}) {
    for (const double hz : {0.0, 60.0, 999.0, 1000.0, 4321.0, 11025.0}) EXPECT_NEAR(mel_to_hz(hz_to_mel(hz, s), s), hz, 1e-6);
  }
}

TEST(MelFilterbank, TrianglesPeakAtTheirCentresWithUnitArea) {
  MelFilterbankOptions o;
  o.fft_size = 2048;
  o.mels = 40;
  const std::vector<float> fb = mel_filterbank(o);
  const int bins = o.fft_size / 2 + 1;
  ASSERT_EQ(fb.size(), static_cast<std::size_t>(bins * o.mels));
  const double bin_hz = static_cast<double>(o.sample_rate) / o.fft_size, top = hz_to_mel(o.sample_rate / 2.0, o.scale);
  for (int m = 0; m < o.mels; ++m) {
    double area = 0, best = 0;
    int peak = 0, width = 0;
    for (int k = 0; k < bins; ++k) {
      const float w = fb[static_cast<std::size_t>(k * o.mels + m)];
      ASSERT_GE(w, 0.0f);
      area += w * bin_hz;
      width += w > 0 ? 1 : 0;
      if (w > best) best = w, peak = k;
    }
    const double centre = mel_to_hz(top * (m + 1) / (o.mels + 1), o.scale);
    EXPECT_NEAR(peak * bin_hz, centre, bin_hz) << m;
    if (width >= 8) {
      EXPECT_NEAR(area, 1.0, 0.05) << m;  // sampled triangles: exact as the bins get finer
    }
  }
  o.fmin = 30000;
  EXPECT_THROW((void)mel_filterbank(o), Error);
  o = MelFilterbankOptions{};
  o.fft_size = 1001;
  EXPECT_THROW((void)mel_filterbank(o), Error);
}

TEST(LogMelCpu, ASineLandsInItsBand) {
  Context ctx(Device::cpu());
  MelFilterbankOptions o;
  const double top = hz_to_mel(o.sample_rate / 2.0, o.scale);
  for (const std::int64_t band : {3, 12, 19, 40, 61}) {
    const double hz = mel_to_hz(top * static_cast<double>(band + 1) / (o.mels + 1), o.scale);  // the band's centre
    const std::vector<float> out = run(ctx, tone(hz, o.sample_rate, 22050), 1, o, 512);
    const std::int64_t frames = static_cast<std::int64_t>(out.size()) / o.mels;
    ASSERT_EQ(frames, logmel_frames(22050, o.fft_size, 512));
    for (std::int64_t f = 0; f < frames; ++f) EXPECT_EQ(loudest_band(out.data() + f * o.mels, o.mels), band) << hz << " Hz";
  }
}

TEST(LogMelCpu, AChirpSweepsUpwards) {
  Context ctx(Device::cpu());
  MelFilterbankOptions o;
  const double rate = o.sample_rate, seconds = 3, f0 = 200, f1 = 8000;
  std::vector<float> x(static_cast<std::size_t>(rate * seconds));
  for (std::size_t n = 0; n < x.size(); ++n) {
    const double t = static_cast<double>(n) / rate;
    x[n] = static_cast<float>(0.5 * std::sin(2 * std::numbers::pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))));
  }
  const std::vector<float> out = run(ctx, x, 1, o, 512);
  const std::int64_t frames = static_cast<std::int64_t>(out.size()) / o.mels;
  std::int64_t previous = 0;
  for (std::int64_t f = 0; f < frames; ++f) {
    const std::int64_t band = loudest_band(out.data() + f * o.mels, o.mels);
    EXPECT_GE(band, previous) << f;
    previous = band;
  }
  EXPECT_LT(loudest_band(out.data(), o.mels), 12);
  EXPECT_GT(previous, 50);
}

// The definition in double precision: a direct DFT of each windowed frame.
TEST(LogMelCpu, MatchesADirectDftInDoublePrecision) {
  Context ctx(Device::cpu());
  MelFilterbankOptions o;
  o.fft_size = 64;
  o.mels = 12;
  o.sample_rate = 8000;
  const int hop = 24;
  const std::int64_t batch = 2, samples = 400, bins = o.fft_size / 2 + 1;
  const std::vector<float> x = testing::random_floats(static_cast<std::size_t>(batch * samples), -1, 1, 7);
  const std::vector<float> got = run(ctx, x, batch, o, hop), fb = mel_filterbank(o);
  const std::int64_t frames = logmel_frames(samples, o.fft_size, hop);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t f = 0; f < frames; ++f) {
      std::vector<double> power(static_cast<std::size_t>(bins));
      for (std::int64_t k = 0; k < bins; ++k) {
        std::complex<double> sum = 0;
        for (std::int64_t n = 0; n < o.fft_size; ++n) {
          const double w = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(n) / o.fft_size);
          sum += x[static_cast<std::size_t>(b * samples + f * hop + n)] * w *
                 std::polar(1.0, -2 * std::numbers::pi * static_cast<double>(k * n) / o.fft_size);
        }
        power[static_cast<std::size_t>(k)] = std::norm(sum);
      }
      for (std::int64_t m = 0; m < o.mels; ++m) {
        double mel = 0;
        for (std::int64_t k = 0; k < bins; ++k) mel += power[static_cast<std::size_t>(k)] * fb[static_cast<std::size_t>(k * o.mels + m)];
        const float value = got[static_cast<std::size_t>((b * frames + f) * o.mels + m)];
        EXPECT_NEAR(value, 10 * std::log10(std::max(mel, 1e-10)), 1e-3) << b << " " << f << " " << m;
      }
    }
  }
}

TEST(LogMelCpu, BadArgumentsAreRefusedAndShortSignalsHaveNoFrames) {
  Context ctx(Device::cpu());
  const MelFilterbankOptions o;
  const Tensor s = put(ctx, std::vector<float>(2 * 4096, 0.1f), {2, 4096});
  const Tensor fb = put(ctx, mel_filterbank(o), {513, 64});
  const std::int64_t frames = logmel_frames(4096, 1024, 512);
  const Tensor out = Tensor::empty(ctx, DType::kF32, {2, frames, 64}), wrong = Tensor::empty(ctx, DType::kF32, {2, frames + 1, 64});
  EXPECT_NO_THROW(logmel(ctx, s.view(), fb.view(), out.view(), 512));
  EXPECT_THROW(logmel(ctx, s.view(), fb.view(), wrong.view(), 512), Error);
  EXPECT_THROW(logmel(ctx, s.view(), fb.view(), out.view(), 0), Error);
  EXPECT_THROW(logmel(ctx, s.view(), fb.view(), out.view(), 512, 0.0f), Error);
  const Tensor tiny = put(ctx, std::vector<float>(8 * 4, 0.0f), {8, 4});  // an FFT of 14 points
  EXPECT_THROW(logmel(ctx, s.view(), tiny.view(), out.view(), 512), Error);
  const Tensor short_signal = put(ctx, std::vector<float>(1000, 0.1f), {1, 1000});
  EXPECT_EQ(logmel_frames(1000, 1024, 512), 0);
  EXPECT_NO_THROW(logmel(ctx, short_signal.view(), fb.view(), Tensor::empty(ctx, DType::kF32, {1, 0, 64}).view(), 512));
  // Silence is the floor: 10 · log10(amin).
  const Tensor silence = put(ctx, std::vector<float>(2048, 0.0f), {1, 2048});
  const Tensor quiet = Tensor::empty(ctx, DType::kF32, {1, 3, 64});
  logmel(ctx, silence.view(), fb.view(), quiet.view(), 512);
  for (const float v : testing::to_host<float>(ctx, quiet.view())) EXPECT_FLOAT_EQ(v, -100.0f);
}

// Noise and tones through both devices; with fft 16384 a chunk is 512 frames, so 700 frames cross a chunk boundary.
// Mel energies agree to FFT rounding relative to their frame's loudest band (a quiet band's decibels may not).
TEST(LogMelCuda, MatchesTheCpu) {
  RECKON_SKIP_WITHOUT_CUDA();
  for (const int fft : {1024, 16384}) {
    MelFilterbankOptions o;
    o.fft_size = fft;
    o.mels = 64;
    const int hop = fft / 32;
    const std::int64_t batch = 3, samples = fft + 699LL * hop / 3 + 5;
    std::vector<float> x = testing::random_floats(static_cast<std::size_t>(batch * samples), -0.1f, 0.1f, 11);
    const std::vector<float> t = tone(440, o.sample_rate, batch * samples);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += t[i];
    Context cpu(Device::cpu()), gpu(Device::cuda(0));
    const std::vector<float> a = run(cpu, x, batch, o, hop), b = run(gpu, x, batch, o, hop);
    ASSERT_EQ(a.size(), b.size());
    const double tolerance = 8 * 6e-8 * std::log2(fft);
    for (std::size_t row = 0; row < a.size() / 64; ++row) {
      const float loudest = *std::max_element(a.begin() + static_cast<std::ptrdiff_t>(row * 64), a.begin() + static_cast<std::ptrdiff_t>(row * 64 + 64));
      for (std::size_t m = 0; m < 64; ++m) {
        const double pa = std::pow(10.0, a[row * 64 + m] / 10), pb = std::pow(10.0, b[row * 64 + m] / 10);
        EXPECT_LE(std::abs(pa - pb), tolerance * std::pow(10.0, loudest / 10) + 1e-10) << fft << " " << row << " " << m;
      }
    }
  }
}

}  // namespace
}  // namespace reckon
