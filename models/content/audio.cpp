#include "reckon/models/content/audio.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "reckon/runtime/error.h"

namespace reckon::content {

namespace {

struct SndfileClose {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileClose>;

// The frames [first, first + count) of an open file, mixed to mono.
std::vector<float> read_mono(SNDFILE* file, const SF_INFO& info, sf_count_t first, sf_count_t count,
                             const std::string& path) {
  if (first > 0 && sf_seek(file, first, SEEK_SET) < 0) {
    RECKON_THROW(StatusCode::kDataError, path, ": cannot seek to frame ", first, ": ", sf_strerror(file));
  }
  const auto channels = static_cast<std::size_t>(info.channels);
  std::vector<float> interleaved(static_cast<std::size_t>(count) * channels);
  const sf_count_t got = sf_readf_float(file, interleaved.data(), count);
  if (got != count) {
    RECKON_THROW(StatusCode::kDataError, path, ": truncated or corrupt: read ", got, " of ", count, " frames",
                 sf_error(file) != SF_ERR_NO_ERROR ? std::string(" (") + sf_strerror(file) + ")" : std::string());
  }
  std::vector<float> mono(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < mono.size(); ++i) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
    mono[i] = sum / static_cast<float>(channels);
    if (!std::isfinite(mono[i])) RECKON_THROW(StatusCode::kDataError, path, ": a sample is not finite (frame ", first + static_cast<sf_count_t>(i), ")");
  }
  return mono;
}

// libsndfile reads a WAV or AIFF whose data chunk runs past the end of the file as a shorter one, noting
// "data : <header's size> (should be <what is there>)" in its log: a truncated file, reported as such.
void check_not_truncated(SNDFILE* file, const std::string& path) {
  std::string log(16384, '\0');
  sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
  log.resize(log.find('\0'));
  for (std::size_t at = log.find("data : "); at != std::string::npos; at = log.find("data : ", at + 1)) {
    const std::string line = log.substr(at, log.find('\n', at) - at);
    if (line.find("(should be ") != std::string::npos) {
      RECKON_THROW(StatusCode::kDataError, path, ": truncated: the header's data size and the file disagree (", line, ")");
    }
  }
}

}  // namespace

Audio read_audio(const std::string& path, const AudioReadOptions& o) {
  RECKON_CHECK_ARG(o.sample_rate >= 1000 && o.sample_rate <= 384000, "sample rate must be in [1000, 384000], got ", o.sample_rate);
  RECKON_CHECK_ARG(o.offset_seconds >= 0 && o.max_seconds >= 0, "offset and length must be >= 0");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) RECKON_THROW(StatusCode::kIoError, path, ": no such file");
  SF_INFO info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) RECKON_THROW(StatusCode::kDataError, path, ": cannot read as audio: ", sf_strerror(nullptr));
  check_not_truncated(file.get(), path);
  if (info.frames <= 0 || info.channels <= 0 || info.samplerate <= 0) {
    RECKON_THROW(StatusCode::kDataError, path, ": no audio in the file (", info.frames, " frames, ", info.channels,
                 " channels, ", info.samplerate, " Hz)");
  }
  Audio a;
  a.source_rate = info.samplerate;
  a.source_channels = info.channels;
  a.source_seconds = static_cast<double>(info.frames) / info.samplerate;
  const auto first = static_cast<sf_count_t>(std::llround(o.offset_seconds * info.samplerate));
  if (first >= info.frames) {
    RECKON_THROW(StatusCode::kDataError, path, ": ", a.source_seconds, " s long, shorter than the offset of ",
                 o.offset_seconds, " s");
  }
  sf_count_t count = info.frames - first;
  if (o.max_seconds > 0) count = std::min<sf_count_t>(count, static_cast<sf_count_t>(std::llround(o.max_seconds * info.samplerate)));
  const std::vector<float> mono = read_mono(file.get(), info, first, std::max<sf_count_t>(count, 1), path);
  a.samples = resample(mono, info.samplerate, o.sample_rate);
  a.sample_rate = o.sample_rate;
  return a;
}

std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate) {
  RECKON_CHECK_ARG(from_rate > 0 && to_rate > 0, "resample: rates must be positive, got ", from_rate, " and ", to_rate);
  if (from_rate == to_rate || samples.empty()) return {samples.begin(), samples.end()};
  const double ratio = static_cast<double>(to_rate) / from_rate;
  RECKON_CHECK_ARG(ratio >= 1.0 / 256 && ratio <= 256, "resample: the ratio ", ratio, " is outside libsamplerate's range");
  std::vector<float> out(static_cast<std::size_t>(std::ceil(static_cast<double>(samples.size()) * ratio)) + 1);
  SRC_DATA d{};
  d.data_in = samples.data();
  d.input_frames = static_cast<long>(samples.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  if (const int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1); err != 0) {
    RECKON_THROW(StatusCode::kInvalidArgument, "resample ", from_rate, " Hz to ", to_rate, " Hz: ", src_strerror(err));
  }
  out.resize(static_cast<std::size_t>(d.output_frames_gen));
  return out;
}

void write_audio(const std::string& path, std::span<const float> samples, int sample_rate, AudioFileFormat format) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  switch (format) {
    case AudioFileFormat::kWav16: info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16; break;
    case AudioFileFormat::kWavFloat: info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT; break;
    case AudioFileFormat::kFlac: info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    case AudioFileFormat::kOgg: info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS; break;
  }
  RECKON_CHECK_ARG(sample_rate > 0 && sf_format_check(&info) != 0, "cannot write ", sample_rate, " Hz mono in format ",
                   static_cast<int>(format));
  SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
  if (!file) RECKON_THROW(StatusCode::kIoError, path, ": cannot write: ", sf_strerror(nullptr));
  // Integer formats: libsndfile scales [-1, 1] floats and clips beyond (SFC_SET_CLIPPING).
  sf_command(file.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const auto n = static_cast<sf_count_t>(samples.size());
  if (sf_writef_float(file.get(), samples.data(), n) != n) {
    RECKON_THROW(StatusCode::kIoError, path, ": write failed: ", sf_strerror(file.get()));
  }
}

}  // namespace reckon::content
