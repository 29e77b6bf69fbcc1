#include "reckon/kernels/logmel/logmel.h"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>

#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/kernels/logmel/logmel_impl.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/error.h"

namespace reckon {

namespace {

constexpr double kSlaneyHzPerMel = 200.0 / 3.0, kSlaneyLogHz = 1000.0, kSlaneyLogMel = 15.0;
const double kSlaneyLogStep = std::log(6.4) / 27.0;

}  // namespace

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::kHtk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz < kSlaneyLogHz) return hz / kSlaneyHzPerMel;
  return kSlaneyLogMel + std::log(hz / kSlaneyLogHz) / kSlaneyLogStep;
}

double mel_to_hz(double mel, MelScale scale) {
  if (scale == MelScale::kHtk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel < kSlaneyLogMel) return mel * kSlaneyHzPerMel;
  return kSlaneyLogHz * std::exp(kSlaneyLogStep * (mel - kSlaneyLogMel));
}

std::vector<float> mel_filterbank(const MelFilterbankOptions& o) {
  const double nyquist = o.sample_rate / 2.0, fmax = o.fmax > 0 ? o.fmax : nyquist;
  RECKON_CHECK_ARG(o.sample_rate > 0 && o.fft_size >= 16 && o.fft_size % 2 == 0 && o.mels >= 1,
                   "mel filterbank: sample_rate > 0, an even fft_size >= 16 and mels >= 1, got ", o.sample_rate, ", ",
                   o.fft_size, ", ", o.mels);
  RECKON_CHECK_ARG(o.fmin >= 0 && o.fmin < fmax && fmax <= nyquist, "mel filterbank: need 0 <= fmin < fmax <= ",
                   nyquist, " Hz, got ", o.fmin, " and ", fmax);
  const int bins = o.fft_size / 2 + 1, mels = o.mels;
  // The mels + 2 band edges, evenly spaced in mels; filter m rises from edge m to m + 1 and falls to m + 2.
  std::vector<double> edges(static_cast<std::size_t>(mels) + 2);
  const double low = hz_to_mel(o.fmin, o.scale), high = hz_to_mel(fmax, o.scale);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    edges[i] = mel_to_hz(low + (high - low) * static_cast<double>(i) / static_cast<double>(mels + 1), o.scale);
  }
  std::vector<float> bank(static_cast<std::size_t>(bins) * static_cast<std::size_t>(mels), 0.0f);
  for (int m = 0; m < mels; ++m) {
    const double lower = edges[static_cast<std::size_t>(m)], centre = edges[static_cast<std::size_t>(m) + 1],
                 upper = edges[static_cast<std::size_t>(m) + 2];
    const double norm = 2.0 / (upper - lower);
    for (int k = 0; k < bins; ++k) {
      const double hz = static_cast<double>(k) * o.sample_rate / o.fft_size;
      const double rise = (hz - lower) / (centre - lower), fall = (upper - hz) / (upper - centre);
      const double w = std::max(0.0, std::min(rise, fall));
      bank[static_cast<std::size_t>(k) * static_cast<std::size_t>(mels) + static_cast<std::size_t>(m)] =
          static_cast<float>(w * norm);
    }
  }
  return bank;
}

namespace {

using detail::LogMelProblem;

// One FFTW plan per size for the process: FFTW's planner is not thread-safe, executing a plan on new arrays is.
// FFTW_ESTIMATE: the plan does not depend on timing, so results are the same bits run to run. At exit the plans and
// FFTW's own tables are freed (leak checkers see FFTW's tables as lost otherwise).
struct PlanCache {
  std::mutex mutex;
  std::map<std::int64_t, fftwf_plan> plans;
  ~PlanCache() {
    for (auto& [size, plan] : plans) fftwf_destroy_plan(plan);
    fftwf_cleanup();
  }
};

fftwf_plan r2c_plan(std::int64_t n) {
  static PlanCache cache;
  const std::lock_guard<std::mutex> lock(cache.mutex);
  auto& plans = cache.plans;
  if (const auto it = plans.find(n); it != plans.end()) return it->second;
  float* in = fftwf_alloc_real(static_cast<std::size_t>(n));
  fftwf_complex* out = fftwf_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
  fftwf_plan plan = in != nullptr && out != nullptr
                        ? fftwf_plan_dft_r2c_1d(static_cast<int>(n), in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT)
                        : nullptr;
  fftwf_free(in);
  fftwf_free(out);
  if (plan == nullptr) RECKON_THROW(StatusCode::kOutOfMemory, "FFTW could not plan a real FFT of ", n, " points");
  return plans.emplace(n, plan).first->second;
}

// Each mel filter's non-zero run of bins, its weights packed.
struct MelBands {
  std::vector<std::int64_t> first, offset;  // filter m: bins [first[m], first[m] + (offset[m+1] − offset[m]))
  std::vector<float> weights;
};

MelBands mel_bands(const float* bank, std::int64_t bins, std::int64_t mels) {
  MelBands b;
  b.offset.push_back(0);
  for (std::int64_t m = 0; m < mels; ++m) {
    std::int64_t lo = 0, hi = 0;
    for (std::int64_t k = 0; k < bins; ++k) {
      if (bank[k * mels + m] == 0.0f) continue;
      if (hi == 0) lo = k;
      hi = k + 1;
    }
    b.first.push_back(lo);
    for (std::int64_t k = lo; k < hi; ++k) b.weights.push_back(bank[k * mels + m]);
    b.offset.push_back(static_cast<std::int64_t>(b.weights.size()));
  }
  return b;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};

void logmel_cpu(Context& ctx, const LogMelProblem& p) {
  const fftwf_plan plan = r2c_plan(p.fft_size);
  std::vector<float> window(static_cast<std::size_t>(p.fft_size));
  for (std::int64_t n = 0; n < p.fft_size; ++n) {
    window[static_cast<std::size_t>(n)] = static_cast<float>(
        0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(n) / static_cast<double>(p.fft_size)));
  }
  const MelBands bands = mel_bands(p.filterbank, p.bins, p.mels);
  const int threads = ctx.cpu_threads();
  // Per thread: the windowed frame, its spectrum and power (FFTW's allocator: the plan's SIMD alignment).
  std::vector<std::unique_ptr<float, FftwFree>> frames, powers;
  std::vector<std::unique_ptr<fftwf_complex, FftwFree>> spectra;
  for (int t = 0; t < threads; ++t) {
    frames.emplace_back(fftwf_alloc_real(static_cast<std::size_t>(p.fft_size)));
    powers.emplace_back(fftwf_alloc_real(static_cast<std::size_t>(p.bins)));
    spectra.emplace_back(fftwf_alloc_complex(static_cast<std::size_t>(p.bins)));
    if (!frames.back() || !powers.back() || !spectra.back()) RECKON_THROW(StatusCode::kOutOfMemory, "log-mel frame buffers");
  }
  const std::int64_t rows = p.batch * p.frames;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const int t = omp_get_thread_num();
    float* frame = frames[static_cast<std::size_t>(t)].get();
    float* power = powers[static_cast<std::size_t>(t)].get();
    fftwf_complex* spectrum = spectra[static_cast<std::size_t>(t)].get();
    const float* src = p.signals + (r / p.frames) * p.samples + (r % p.frames) * p.hop;
    for (std::int64_t n = 0; n < p.fft_size; ++n) frame[n] = src[n] * window[static_cast<std::size_t>(n)];
    fftwf_execute_dft_r2c(plan, frame, spectrum);
    for (std::int64_t k = 0; k < p.bins; ++k) power[k] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
    for (std::int64_t m = 0; m < p.mels; ++m) {
      const float* w = bands.weights.data() + bands.offset[static_cast<std::size_t>(m)];
      const float* in = power + bands.first[static_cast<std::size_t>(m)];
      const std::int64_t count = bands.offset[static_cast<std::size_t>(m) + 1] - bands.offset[static_cast<std::size_t>(m)];
      float sum = 0.0f;
      for (std::int64_t k = 0; k < count; ++k) sum += in[k] * w[k];
      p.out[r * p.mels + m] = 10.0f * std::log10(std::max(sum, p.amin));
    }
  }
}

void logmel_cuda_entry(Context& ctx, const LogMelProblem& p) {
#if RECKON_WITH_CUDA
  detail::logmel_cuda(ctx, p);
#else
  (void)ctx, (void)p;
#endif
}

const auto kLogMel = cuda_then_cpu<LogMelProblem>(
    "logmel", "cufft", "a CUDA context (cuFFT batched real FFTs, then a block per frame for power, mel and log)",
    logmel_cuda_entry, logmel_cpu);

}  // namespace

void logmel(Context& ctx, const TensorView& signals, const TensorView& filterbank, const TensorView& out, int hop,
            float amin) {
  RECKON_CHECK_ARG(signals.ndim == 2 && signals.dtype == DType::kF32 && signals.is_contiguous(),
                   "signals must be contiguous f32 [B, S], got ", signals.shape_str());
  RECKON_CHECK_ARG(filterbank.ndim == 2 && filterbank.dtype == DType::kF32 && filterbank.is_contiguous(),
                   "filterbank must be contiguous f32 [fft_size / 2 + 1, mels], got ", filterbank.shape_str());
  const std::int64_t B = signals.size(0), S = signals.size(1), bins = filterbank.size(0), mels = filterbank.size(1);
  const std::int64_t fft = 2 * (bins - 1);
  RECKON_CHECK_ARG(fft >= 16 && fft <= 16384 && mels >= 1, "the filterbank's ", bins, " bins make an FFT of ", fft,
                   " points: it must be in [16, 16384]");
  RECKON_CHECK_ARG(hop >= 1, "hop must be >= 1, got ", hop);
  RECKON_CHECK_ARG(amin > 0 && std::isfinite(amin), "amin must be positive, got ", amin);
  const std::int64_t frames = logmel_frames(S, fft, hop);
  check_shape(out, "out", {B, frames, mels});
  check_dtype(out, "out", DType::kF32);
  RECKON_CHECK_ARG(out.is_contiguous(), "out must be contiguous");
  for (const TensorView* t : {&signals, &filterbank, &out}) check_device(*t, "log-mel tensor", ctx.device());
  if (B == 0 || frames == 0) return;
  dispatch(ctx, kLogMel,
           LogMelProblem{static_cast<const float*>(signals.data), B, S, static_cast<const float*>(filterbank.data), fft,
                         bins, mels, hop, frames, amin, static_cast<float*>(out.data)});
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> logmel_ops() { return {describe(kLogMel)}; }
}  // namespace reckon::detail
