// CUDA log-mel. The frames are cut in chunks of a fixed number of rows (frames of any signal of the batch): one
// kernel writes a chunk's windowed frames (rows past the end are zeros), cuFFT transforms the chunk with one plan
// per device and FFT size (the plan's batch is the chunk, so plans never depend on the input's shape and none is
// ever destroyed while work might use it), and one block per frame squares the spectrum into shared memory, then
// each thread sums one or more mel bands (filterbank rows read across threads: coalesced) and takes the log.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "reckon/kernels/logmel/logmel.h"
#include "reckon/kernels/logmel/logmel_impl.h"
#include "reckon/runtime/detail/launch.cuh"

namespace reckon::detail {
namespace {

constexpr int kFrameThreads = 256, kMelThreads = 128;

// The frames of rows [first, first + count) into frames[chunk, fft]; rows of the chunk past count are zeros.
__global__ void frame_kernel(const float* signals, std::int64_t samples, std::int64_t fft, std::int64_t hop,
                             std::int64_t frames, std::int64_t first, std::int64_t count, std::int64_t chunk,
                             float* out) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= chunk * fft) return;
  const std::int64_t row = i / fft, n = i % fft;
  if (row >= count) {
    out[i] = 0.0f;
    return;
  }
  const std::int64_t r = first + row;
  const float w = static_cast<float>(0.5 - 0.5 * cospi(2.0 * static_cast<double>(n) / static_cast<double>(fft)));
  out[i] = signals[(r / frames) * samples + (r % frames) * hop + n] * w;
}

// Block per frame: power into shared memory, then mel sums and the log.
__global__ void mel_kernel(const cufftComplex* spectrum, std::int64_t bins, const float* filterbank, std::int64_t mels,
                           std::int64_t first, std::int64_t count, float amin, float* out) {
  extern __shared__ float power[];
  const std::int64_t row = blockIdx.x;
  if (row >= count) return;
  const cufftComplex* s = spectrum + row * bins;
  for (std::int64_t k = threadIdx.x; k < bins; k += blockDim.x) power[k] = s[k].x * s[k].x + s[k].y * s[k].y;
  __syncthreads();
  for (std::int64_t m = threadIdx.x; m < mels; m += blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t k = 0; k < bins; ++k) sum += power[k] * filterbank[k * mels + m];
    out[(first + row) * mels + m] = 10.0f * log10f(fmaxf(sum, amin));
  }
}

// One plan per (device, FFT size) for the process, each for `chunk` rows, its work area supplied per call.
struct Plans {
  std::mutex mutex;
  std::map<std::pair<int, std::int64_t>, std::pair<cufftHandle, std::size_t>> plans;  // -> plan, work bytes
};
Plans& plans() {
  static Plans* p = new Plans;  // never destroyed: plans may be in use until the process ends
  return *p;
}

std::pair<cufftHandle, std::size_t> plan_for(int device, std::int64_t fft, std::int64_t chunk) {
  Plans& p = plans();
  const std::lock_guard<std::mutex> lock(p.mutex);
  const auto key = std::make_pair(device, fft);
  if (const auto it = p.plans.find(key); it != p.plans.end()) return it->second;
  cufftHandle plan = 0;
  RECKON_CUDA_CHECK(cufftCreate(&plan));
  std::size_t work = 0;
  try {
    RECKON_CUDA_CHECK(cufftSetAutoAllocation(plan, 0));
    RECKON_CUDA_CHECK(cufftMakePlan1d(plan, static_cast<int>(fft), CUFFT_R2C, static_cast<int>(chunk), &work));
  } catch (...) {
    cufftDestroy(plan);
    throw;
  }
  return p.plans.emplace(key, std::make_pair(plan, work)).first->second;
}

std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

void logmel_cuda(Context& ctx, const LogMelProblem& p) {
  DeviceGuard guard(ctx.device().index);
  const cudaStream_t stream = cuda_stream(ctx);
  // Rows per chunk: about 32 MiB of frames.
  const std::int64_t rows = p.batch * p.frames, chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 23) / p.fft_size);
  const auto [plan, work_bytes] = plan_for(ctx.device().index, p.fft_size, chunk);
  const std::size_t frame_bytes = align_up(static_cast<std::size_t>(chunk * p.fft_size) * sizeof(float));
  const std::size_t spectrum_bytes = align_up(static_cast<std::size_t>(chunk * p.bins) * sizeof(cufftComplex));
  auto* base = static_cast<char*>(ctx.workspace(frame_bytes + spectrum_bytes + work_bytes));
  auto* frames = reinterpret_cast<float*>(base);
  auto* spectrum = reinterpret_cast<cufftComplex*>(base + frame_bytes);
  const std::size_t shared = static_cast<std::size_t>(p.bins) * sizeof(float);
  for (std::int64_t first = 0; first < rows; first += chunk) {
    const std::int64_t count = std::min(chunk, rows - first);
    RECKON_LAUNCH(frame_kernel, blocks_for(chunk * p.fft_size, kFrameThreads), kFrameThreads, 0, stream, p.signals,
                  p.samples, p.fft_size, p.hop, p.frames, first, count, chunk, frames);
    {
      const std::lock_guard<std::mutex> lock(plans().mutex);  // the plan's stream and work area are set per call
      RECKON_CUDA_CHECK(cufftSetStream(plan, stream));
      RECKON_CUDA_CHECK(cufftSetWorkArea(plan, base + frame_bytes + spectrum_bytes));
      RECKON_CUDA_CHECK(cufftExecR2C(plan, frames, spectrum));
    }
    RECKON_LAUNCH(mel_kernel, static_cast<unsigned>(count), kMelThreads, shared, stream, spectrum, p.bins, p.filterbank,
                  p.mels, first, count, p.amin, p.out);
  }
}

}  // namespace reckon::detail
