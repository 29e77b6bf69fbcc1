// Audio files: WAV, FLAC and OGG written and read back (stereo mixed to mono, resampled, a sine keeping its
// frequency), offsets and lengths, and every kind of bad file reported with its path.
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cmath>
#include <numbers>

#include "reckon/models/content/audio.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::content {
namespace {

std::vector<float> sine(double hz, int rate, double seconds, double amplitude = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(rate * seconds));
  for (std::size_t n = 0; n < x.size(); ++n) {
    x[n] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(n) / rate));
  }
  return x;
}

// Upward zero crossings per second: a sine's frequency.
double crossings_per_second(const std::vector<float>& x, int rate) {
  int count = 0;
  for (std::size_t n = 1; n < x.size(); ++n) count += x[n - 1] < 0 && x[n] >= 0 ? 1 : 0;
  return count * static_cast<double>(rate) / static_cast<double>(x.size());
}

void write_stereo(const std::string& path, const std::vector<float>& left, const std::vector<float>& right, int rate) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 2;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  std::vector<float> interleaved;
  for (std::size_t i = 0; i < left.size(); ++i) interleaved.insert(interleaved.end(), {left[i], right[i]});
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(left.size()));
  sf_close(f);
}

TEST(Audio, EveryFormatReadsBackResampledWithItsFrequency) {
  const std::string dir = testing::temp_dir("audio_formats");
  const std::vector<float> x = sine(440, 44100, 1.0);
  for (const auto& [format, name] : {std::pair{AudioFileFormat::kWav16, "a.wav"}, std::pair{AudioFileFormat::kWavFloat, "f.wav"},
                                     std::pair{AudioFileFormat::kFlac, "a.flac"}, std::pair{AudioFileFormat::kOgg, "a.ogg"}}) {
    const std::string path = dir + "/" + name;
    write_audio(path, x, 44100, format);
    const Audio a = read_audio(path);
    EXPECT_EQ(a.sample_rate, 22050);
    EXPECT_EQ(a.source_rate, 44100);
    EXPECT_EQ(a.source_channels, 1);
    EXPECT_NEAR(a.source_seconds, 1.0, 0.01) << name;
    EXPECT_NEAR(static_cast<double>(a.samples.size()), 22050, 50) << name;
    EXPECT_NEAR(crossings_per_second(a.samples, 22050), 440, 3) << name;
    float peak = 0;
    for (const float v : a.samples) peak = std::max(peak, std::abs(v));
    EXPECT_NEAR(peak, 0.5f, 0.05f) << name;
  }
}

TEST(Audio, StereoIsMixedToMonoAndOffsetsCut) {
  const std::string dir = testing::temp_dir("audio_stereo");
  const std::vector<float> left = sine(300, 22050, 2.0, 0.4);
  std::vector<float> right(left.size());
  for (std::size_t i = 0; i < right.size(); ++i) right[i] = -left[i] + 0.2f;  // the mean is 0.1 throughout
  write_stereo(dir + "/s.wav", left, right, 22050);
  AudioReadOptions o;
  o.offset_seconds = 0.5;
  o.max_seconds = 1.0;
  const Audio a = read_audio(dir + "/s.wav", o);
  EXPECT_EQ(a.source_channels, 2);
  ASSERT_EQ(a.samples.size(), 22050u);
  for (const float v : a.samples) EXPECT_NEAR(v, 0.1f, 1e-6f);
  o.offset_seconds = 5;
  EXPECT_THROW((void)read_audio(dir + "/s.wav", o), Error);  // past the end
}

std::string message_of(const std::string& path) {
  try {
    (void)read_audio(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Audio, BadFilesNameThemselves) {
  const std::string dir = testing::temp_dir("audio_bad");
  const std::string missing = dir + "/missing.wav";
  EXPECT_NE(message_of(missing).find(missing), std::string::npos);
  const std::string empty = testing::write_file(dir, "empty.wav", "");
  EXPECT_NE(message_of(empty).find(empty), std::string::npos);
  const std::string junk = testing::write_file(dir, "junk.ogg", std::string(5000, 'x'));
  EXPECT_NE(message_of(junk).find(junk), std::string::npos);
  for (const auto& [format, name] : {std::pair{AudioFileFormat::kWav16, "cut.wav"}, std::pair{AudioFileFormat::kFlac, "cut.flac"},
                                     std::pair{AudioFileFormat::kOgg, "cut.ogg"}}) {
    write_audio(dir + "/whole", sine(440, 22050, 1.0), 22050, format);
    const std::string bytes = reckon::read_file(dir + "/whole");
    const std::string cut = testing::write_file(dir, name, bytes.substr(0, bytes.size() / 2));
    const std::string why = message_of(cut);
    EXPECT_NE(why.find(cut), std::string::npos) << why;
  }
  std::vector<float> bad = sine(440, 22050, 0.1);
  bad[100] = std::nanf("");
  write_audio(dir + "/nan.wav", bad, 22050, AudioFileFormat::kWavFloat);
  EXPECT_NE(message_of(dir + "/nan.wav").find("not finite"), std::string::npos);
}

TEST(Audio, ResamplingKeepsLengthAndRefusesBadRates) {
  const std::vector<float> x = sine(1000, 16000, 0.5);
  const std::vector<float> up = resample(x, 16000, 48000);
  EXPECT_NEAR(static_cast<double>(up.size()), 3.0 * x.size(), 4);
  EXPECT_NEAR(crossings_per_second(up, 48000), 1000, 5);
  EXPECT_EQ(resample(x, 16000, 16000), x);
  EXPECT_THROW((void)resample(x, 0, 16000), Error);
}

}  // namespace
}  // namespace reckon::content
