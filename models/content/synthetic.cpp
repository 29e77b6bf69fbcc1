#include "reckon/models/content/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "reckon/runtime/error.h"
#include "reckon/runtime/philox.h"

namespace reckon::content {

namespace {

struct Archetype {
  const char* name;
  double bpm;
  std::vector<int> chord;
  int register_note;
  double brightness;
  int noise_colour;
};

// Far apart on several axes at once, as real genres are.
const std::array<Archetype, 8>& archetypes() {
  static const std::array<Archetype, 8> a{{
      {"ballad", 70, {0, 3, 7}, 48, 2.5, 3},
      {"rock", 140, {0, 7, 12}, 40, 0.7, 1},
      {"pop", 115, {0, 4, 7}, 55, 1.5, 2},
      {"jazz", 95, {0, 4, 7, 11}, 50, 2.0, 0},
      {"techno", 128, {0, 12}, 36, 0.9, 1},
      {"ambient", 60, {0, 5, 7, 14}, 60, 3.0, 0},
      {"metal", 170, {0, 6, 12}, 38, 0.5, 3},
      {"folk", 100, {0, 4, 7, 12}, 52, 1.8, 2},
  }};
  return a;
}

double jitter(PhiloxStream& rng, double value, double fraction) {
  return value * (1.0 + fraction * (2.0 * rng.next_uniform() - 1.0));
}

// One period of the genre's timbre, 2048 samples, peak 1.
std::vector<float> wavetable(double brightness) {
  constexpr int kSize = 2048, kHarmonics = 12;
  std::vector<double> w(kSize, 0.0);
  for (int k = 1; k <= kHarmonics; ++k) {
    const double amplitude = std::pow(static_cast<double>(k), -brightness);
    for (int n = 0; n < kSize; ++n) w[static_cast<std::size_t>(n)] += amplitude * std::sin(2 * std::numbers::pi * k * n / kSize);
  }
  double peak = 0;
  for (const double v : w) peak = std::max(peak, std::abs(v));
  std::vector<float> out(kSize);
  for (int n = 0; n < kSize; ++n) out[static_cast<std::size_t>(n)] = static_cast<float>(w[static_cast<std::size_t>(n)] / peak);
  return out;
}

// Coloured noise: white, pink (Paul Kellet's economy filter) or brown (a leaky integrator), about unit peak.
struct NoiseColour {
  int colour;
  double b0 = 0, b1 = 0, b2 = 0, brown = 0;
  double next(double white) {
    if (colour == 1) return white;
    if (colour == 2) {
      b0 = 0.99765 * b0 + white * 0.0990460;
      b1 = 0.96300 * b1 + white * 0.2965164;
      b2 = 0.57000 * b2 + white * 1.0526913;
      return (b0 + b1 + b2 + white * 0.1848) * 0.25;
    }
    brown = 0.98 * brown + 0.1 * white;
    return brown * 2.0;
  }
};

}  // namespace

std::vector<SyntheticGenre> synthetic_genres(const SyntheticSongsOptions& o) {
  RECKON_CHECK_ARG(o.genres >= 2 && o.genres <= static_cast<int>(archetypes().size()), "genres must be in [2, ",
                   archetypes().size(), "], got ", o.genres);
  PhiloxStream rng(o.seed, 0x5e11);
  std::vector<SyntheticGenre> genres;
  for (int g = 0; g < o.genres; ++g) {
    const Archetype& a = archetypes()[static_cast<std::size_t>(g)];
    genres.push_back({a.name, jitter(rng, a.bpm, 0.05), a.chord, a.register_note, jitter(rng, a.brightness, 0.1), a.noise_colour});
  }
  return genres;
}

SyntheticSong render_song(const SyntheticGenre& genre, int genre_index, int song, const SyntheticSongsOptions& o) {
  RECKON_CHECK_ARG(o.seconds > 0 && o.sample_rate >= 8000, "songs need seconds > 0 and a sample rate >= 8000");
  PhiloxStream rng(o.seed, (static_cast<std::uint64_t>(genre_index) << 32) | static_cast<std::uint32_t>(song));
  const std::vector<float> table = wavetable(genre.brightness);
  const double rate = o.sample_rate, beat = 60.0 / jitter(rng, genre.bpm, 0.06), bar = 4 * beat;
  const double level = 0.3 + 0.5 * rng.next_uniform(), phase0 = rng.next_uniform();
  const auto samples = static_cast<std::size_t>(o.seconds * rate);
  std::vector<float> x(samples, 0.0f);
  NoiseColour noise{genre.noise_colour};
  std::vector<double> phases(genre.chord.size(), phase0);
  int root = genre.register_note;
  for (std::size_t n = 0; n < samples; ++n) {
    const double t = static_cast<double>(n) / rate;
    if (n == 0 || std::floor(t / bar) != std::floor((t - 1 / rate) / bar)) {
      root = genre.register_note + static_cast<int>(uniform_below(rng.next_u32(), 8));  // a new chord each bar
    }
    double v = 0;
    for (std::size_t i = 0; i < genre.chord.size(); ++i) {
      const double hz = 440.0 * std::pow(2.0, (root + genre.chord[i] - 69) / 12.0);
      v += table[static_cast<std::size_t>(phases[i] * static_cast<double>(table.size())) % table.size()];
      phases[i] = std::fmod(phases[i] + hz / rate, 1.0);
    }
    v /= static_cast<double>(genre.chord.size());
    if (genre.noise_colour > 0) {
      const double since_beat = std::fmod(t, beat);
      v += 0.6 * std::exp(-since_beat * 30.0) * noise.next(2.0 * rng.next_uniform() - 1.0);
    }
    x[n] = static_cast<float>(std::clamp(level * v, -1.0, 1.0));
  }
  return {genre.name + "_" + std::to_string(song), genre_index, std::move(x)};
}

std::vector<SyntheticSong> make_synthetic_songs(const SyntheticSongsOptions& o) {
  RECKON_CHECK_ARG(o.songs_per_genre >= 1, "songs_per_genre must be >= 1, got ", o.songs_per_genre);
  const std::vector<SyntheticGenre> genres = synthetic_genres(o);
  std::vector<SyntheticSong> songs;
  for (int g = 0; g < o.genres; ++g) {
    for (int s = 0; s < o.songs_per_genre; ++s) songs.push_back(render_song(genres[static_cast<std::size_t>(g)], g, s, o));
  }
  return songs;
}

}  // namespace reckon::content
