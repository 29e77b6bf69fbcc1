// The cold-start protocol (issue 22; van den Oord et al. 2013's question on data whose answer is known): songs
// with genre-like sound, users who mostly play one genre, and a fifth of the songs held out of the training period
// entirely (cold). Item vectors come from item2vec on the warm songs' plays; the content CNN learns them (and the
// genres) from the warm songs' audio and gives every cold song a vector from its sound. Each test play of a cold
// song asks: ranking every cold song for this user (cosine of the user's vector - the mean of their training plays'
// vectors - with each song's), where does the played one land? HR@K and MRR@K, against:
//   random        a random order;
//   popularity    the cold songs ordered by their test-period plays (optimistic: it knows the future);
//   CNN genre     each cold song the mean vector of the warm songs of the genre the CNN predicts;
//   label oracle  the same with the true genre (what a perfect genre classifier would give);
//   CNN vector    the CNN's item-vector head.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reckon/models/content/audio_cnn.h"
#include "reckon/models/content/synthetic.h"
#include "reckon/runtime/context.h"

namespace reckon::content {

struct ColdStartOptions {
  SyntheticSongsOptions songs{6, 100, 4.0, 22050, 1};
  int users = 400;
  int train_plays = 40, test_plays = 20;  // per user
  double favourite = 0.8;                 // share of a user's plays in their favourite genre (the rest: any genre)
  double song_zipf = 1.0;                 // popularity of the songs within a genre
  int cold_every = 5;                     // songs 0, 5, 10, ... of each genre are cold
  int item2vec_dim = 32, item2vec_epochs = 10;
  int k = 20;
  std::uint64_t seed = 1;
};

struct ColdStartRow {
  std::string method;
  double hit_rate = 0, mrr = 0;
};

struct ColdStartResult {
  std::vector<ColdStartRow> rows;
  std::int64_t warm_songs = 0, cold_songs = 0, test_pairs = 0;
  double cold_genre_accuracy = 0;  // the CNN's class head on the cold songs
  std::vector<AudioEpoch> epochs;
};

// `cnn` supplies the CNN's settings (classes and vector_dim are set here). `on_stage` hears what runs next.
ColdStartResult run_cold_start(Context& ctx, const ColdStartOptions& options, AudioCnnOptions cnn,
                               const std::function<void(const std::string&)>& on_stage = {});

}  // namespace reckon::content
