// Synthetic "songs" in genre-like classes, for the content CNN's tests and demo: the right label is known and it is
// in the sound, not in any metadata.
//
// A genre fixes a tempo, a chord family (the intervals every chord stacks on its root), a register (the roots'
// octave), a timbre (harmonic k at amplitude k^-brightness, one wavetable per genre) and a percussion colour (white,
// pink or brown noise bursts on the beats, or none). The genres are archetypes in that order (e.g. slow minor
// chords with dark timbre and brown-noise drums against fast power chords with bright timbre and white-noise
// drums), each parameter jittered per seed. A song draws its tempo within ±6% of its genre's, a chord root per bar
// from the 8 semitones above the register, a level and a start phase; every sample comes from Philox streams of
// (seed, song), so a song is the same on any machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reckon::content {

struct SyntheticSongsOptions {
  int genres = 6;             // at most 8
  int songs_per_genre = 40;
  double seconds = 4;
  int sample_rate = 22050;
  std::uint64_t seed = 1;
};

struct SyntheticGenre {
  std::string name;
  double bpm = 120;
  std::vector<int> chord;       // semitones above the root
  int register_note = 48;       // MIDI note of the lowest root
  double brightness = 1;        // harmonic k's amplitude k^-brightness
  int noise_colour = 0;         // 0 none, 1 white, 2 pink, 3 brown
};

struct SyntheticSong {
  std::string name;  // "<genre>_<index>"
  int genre = 0;
  std::vector<float> samples;  // mono, in [-1, 1]
};

std::vector<SyntheticGenre> synthetic_genres(const SyntheticSongsOptions& options);
// genres × songs_per_genre songs, genre by genre.
std::vector<SyntheticSong> make_synthetic_songs(const SyntheticSongsOptions& options);
// One song of `genre` (index `song` picks its random streams).
SyntheticSong render_song(const SyntheticGenre& genre, int genre_index, int song, const SyntheticSongsOptions& options);

}  // namespace reckon::content
