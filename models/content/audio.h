// Audio files for the content models: decoding (WAV, FLAC, OGG and whatever else libsndfile reads), mono mix-down,
// resampling (libsamplerate), and writing WAV, FLAC or OGG. Every failure names the file: a missing one is a
// kIoError, an empty, truncated, corrupt or unsupported one, or one whose samples are not finite, a kDataError
// "path: reason".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace reckon::content {

struct AudioReadOptions {
  int sample_rate = 22050;    // the rate the samples are resampled to
  double offset_seconds = 0;  // where to start reading
  double max_seconds = 0;     // at most this much from the offset; 0: to the end
};

struct Audio {
  std::vector<float> samples;  // mono (the mean of the channels), at sample_rate
  int sample_rate = 0;
  int source_rate = 0, source_channels = 0;
  double source_seconds = 0;  // the whole file's length
  double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0; }
};

Audio read_audio(const std::string& path, const AudioReadOptions& options = {});

// Band-limited sinc resampling (libsamplerate's medium quality); the same samples when the rates are equal.
std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate);

enum class AudioFileFormat : std::uint8_t { kWav16, kWavFloat, kFlac, kOgg };
// Mono samples in [-1, 1] (clipped for the integer formats) as a file of `format`.
void write_audio(const std::string& path, std::span<const float> samples, int sample_rate,
                 AudioFileFormat format = AudioFileFormat::kWav16);

}  // namespace reckon::content
