// Log-mel spectrograms: batches of mono signals become [frames, mels] images, the content CNN's input.
//
// For signal b (S samples) and frame f (covering samples [f·hop, f·hop + fft_size); no centring pad, so
// frames = 1 + (S − fft_size) / hop, and 0 when S < fft_size):
//   windowed    x_f[n] = signal[b, f·hop + n] · w[n],   w[n] = 0.5 − 0.5·cos(2πn / fft_size)   (periodic Hann)
//   power       P[f, k] = |Σ_n x_f[n] · e^(−2πi·kn / fft_size)|²,                      k in [0, fft_size / 2]
//   mel energy  M[f, m] = Σ_k P[f, k] · filterbank[k, m]
//   output      out[b, f, m] = 10 · log10(max(M[f, m], amin))   (decibels against 1: librosa's power_to_db with
//                                                                ref 1.0 and no top_db)
// filterbank is [fft_size / 2 + 1, mels] (so that M = P · filterbank), from mel_filterbank() or any other.
// dtypes: f32 everywhere. fft_size (= 2 · (bins − 1)) even, in [16, 16384]; hop >= 1.
// Determinism: the same bits run to run on each device (FFTW plans made with FFTW_ESTIMATE on the CPU; cuFFT on
// CUDA). CPU and CUDA differ by FFT rounding: a mel energy differs by about eps · log2(fft_size) of its frame's
// energy.
#pragma once

#include <cstdint>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/tensor.h"

namespace reckon {

// Slaney: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4), librosa's default;
// HTK: 2595 · log10(1 + f / 700).
enum class MelScale : std::uint8_t { kSlaney, kHtk };
double hz_to_mel(double hz, MelScale scale);
double mel_to_hz(double mel, MelScale scale);

struct MelFilterbankOptions {
  int sample_rate = 22050;
  int fft_size = 1024;
  int mels = 64;
  double fmin = 0, fmax = 0;  // fmax 0: sample_rate / 2
  MelScale scale = MelScale::kSlaney;
};
// [fft_size / 2 + 1, mels] row-major: `mels` triangles with centres evenly spaced on the mel scale between fmin and
// fmax, each normalised to unit area in Hz (Slaney's norm: 2 / (upper − lower edge)), as librosa.filters.mel with
// norm='slaney' (transposed).
std::vector<float> mel_filterbank(const MelFilterbankOptions& options);

inline std::int64_t logmel_frames(std::int64_t samples, std::int64_t fft_size, std::int64_t hop) {
  return samples < fft_size ? 0 : 1 + (samples - fft_size) / hop;
}

// signals: f32 [B, S]; filterbank: f32 [fft_size / 2 + 1, mels]; out: f32 [B, logmel_frames(S, fft_size, hop), mels];
// all contiguous on ctx's device. amin > 0.
void logmel(Context& ctx, const TensorView& signals, const TensorView& filterbank, const TensorView& out, int hop,
            float amin = 1e-10f);

}  // namespace reckon
