// reckon content: the content CNN over audio (synth, train, eval, predict, demo).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "confusion_plot.h"
#include "reckon/models/content/audio.h"
#include "reckon/models/content/audio_cnn.h"
#include "reckon/models/content/cold_start.h"
#include "reckon/models/content/synthetic.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::cli {
namespace {

using namespace reckon::content;

// A labelled clip list: "path<TAB>label[<TAB>split]" per line (split: train, valid or test; train when absent),
// '#' starts a comment line, paths relative to the list's folder.
struct ClipList {
  std::vector<std::string> paths, labels, splits;
};

ClipList read_clip_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) RECKON_THROW(StatusCode::kIoError, path, ": cannot open the clip list");
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  ClipList list;
  std::vector<std::string_view> fields;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    split_fields(line, '\t', fields);
    const std::string split = fields.size() >= 3 ? std::string(fields[2]) : "train";
    if (fields.size() < 2 || fields.size() > 3 || fields[0].empty() || fields[1].empty() ||
        (split != "train" && split != "valid" && split != "test")) {
      RECKON_THROW(StatusCode::kDataError, path, ":", line_number, ": expected path<TAB>label[<TAB>train|valid|test]");
    }
    list.paths.push_back((folder / std::string(fields[0])).string());
    list.labels.emplace_back(fields[1]);
    list.splits.push_back(split);
  }
  if (list.paths.empty()) RECKON_THROW(StatusCode::kDataError, path, ": no clips");
  return list;
}

struct LoadedClips {
  std::vector<std::vector<float>> audio;
  std::vector<std::string> paths, labels;
  std::int64_t skipped = 0;
  std::vector<std::string> first_errors;
};

// The clips of `split` ("" for all); a bad file is skipped (counted, the first ten reported) or fatal.
LoadedClips load_clips(const ClipList& list, const std::string& split, const AudioReadOptions& read, bool fail) {
  LoadedClips out;
  const bool show = isatty(STDERR_FILENO);
  for (std::size_t i = 0; i < list.paths.size(); ++i) {
    if (!split.empty() && list.splits[i] != split) continue;
    if (show) fmt::print(stderr, "\rreading {} clips: {}", split.empty() ? "the" : split, out.audio.size() + 1);
    try {
      out.audio.push_back(read_audio(list.paths[i], read).samples);
    } catch (const Error& e) {
      if (fail) throw;
      ++out.skipped;
      if (out.first_errors.size() < 10) out.first_errors.emplace_back(e.what());
      continue;
    }
    out.paths.push_back(list.paths[i]);
    out.labels.push_back(list.labels[i]);
  }
  if (show) fmt::print(stderr, "\r\033[K");
  return out;
}

struct ContentArgs {
  CommonOptions common;
  std::string data, save, model, input, out = "build/content_synth", bad_files = "skip", split = "test";
  std::string confusion_png;  // where to draw the confusion matrix, when given
  std::string word2vec;       // predict: where to write the item vectors in word2vec's text format, when given
  double max_seconds = 30;
  int patience = 10, genres = 6, songs = 40;
  double seconds = 4;
  AudioCnnOptions cnn;
};

AudioReadOptions read_options(const ContentArgs& a, int sample_rate) {
  AudioReadOptions r;
  r.sample_rate = sample_rate;
  r.max_seconds = a.max_seconds;
  return r;
}

// Examples of `clips` labelled by class_names' order (kDataError for a label the model does not know).
AudioExamples examples_of(Context& ctx, const LoadedClips& clips, const std::vector<std::string>& class_names,
                          const LogMelSettings& logmel) {
  AudioExamples e;
  e.spectrograms = compute_spectrograms(ctx, clips.audio, logmel);
  for (std::size_t i = 0; i < clips.labels.size(); ++i) {
    const auto it = std::find(class_names.begin(), class_names.end(), clips.labels[i]);
    if (it == class_names.end()) RECKON_THROW(StatusCode::kDataError, clips.paths[i], ": label '", clips.labels[i], "' is not one of the model's classes");
    e.labels.push_back(static_cast<std::int32_t>(it - class_names.begin()));
  }
  return e;
}

nlohmann::json loaded_json(const LoadedClips& c) {
  return {{"clips", c.audio.size()}, {"skipped_files", c.skipped}, {"first_errors", c.first_errors}};
}

nlohmann::json epochs_json(const AudioFitResult& r) {
  nlohmann::json epochs = nlohmann::json::array();
  for (std::size_t i = 0; i < r.epochs.size(); ++i) {
    nlohmann::json e = {{"epoch", r.epochs[i].epoch}, {"class_loss", r.epochs[i].class_loss},
                        {"seconds", r.epochs[i].seconds}, {"clips_per_second", r.epochs[i].clips_per_second}};
    if (i < r.validation_accuracy.size()) {
      e["validation_accuracy"] = r.validation_accuracy[i];
      e["validation_loss"] = r.validation_loss[i];
    }
    epochs.push_back(e);
  }
  return epochs;
}

// Fits with a status line per epoch (unless --json).
AudioFitResult fit_with_progress(AudioCnn& model, const AudioExamples& train, const AudioExamples* valid,
                                 const ContentArgs& a) {
  return fit(model, train, valid, a.patience, [&](const AudioEpoch& e, double acc) {
    if (a.common.json) return;
    std::string line = fmt::format("epoch {}/{}: class loss {:.4f}, {:.0f} clips/s", e.epoch, a.cnn.epochs, e.class_loss, e.clips_per_second);
    if (acc >= 0) line += fmt::format("; validation accuracy {:.4f}", acc);
    print_status_line(line);
  });
}

nlohmann::json evaluation_json(const std::vector<AudioPrediction>& p, const std::vector<std::int32_t>& labels,
                               const std::vector<std::string>& names) {
  const int C = static_cast<int>(names.size());
  const std::vector<std::int64_t> m = confusion_matrix(p, labels, C);
  nlohmann::json rows = nlohmann::json::array();
  for (int t = 0; t < C; ++t) rows.push_back(std::vector<std::int64_t>(m.begin() + t * C, m.begin() + (t + 1) * C));
  return {{"clips", labels.size()}, {"accuracy", accuracy(p, labels)}, {"classes", names}, {"confusion", rows}};
}

// Draws the evaluation's confusion matrix to --confusion-png, when given, and records the path in the result.
void plot_confusion(const ContentArgs& a, const std::string& title, nlohmann::json& e) {
  if (a.confusion_png.empty()) return;
  std::vector<std::int64_t> counts;
  for (const auto& row : e["confusion"]) {
    for (const auto& c : row) counts.push_back(c.get<std::int64_t>());
  }
  write_confusion_png(a.confusion_png, fmt::format("{} (accuracy {:.3f} over {} clips)", title, e["accuracy"].get<double>(), e["clips"].get<std::size_t>()),
                      e["classes"].get<std::vector<std::string>>(), counts);
  e["confusion_png"] = a.confusion_png;
}

void print_evaluation(const nlohmann::json& e) {
  fmt::print("accuracy {:.4f} over {} clips\nconfusion (rows: true class, columns: predicted)\n", e["accuracy"].get<double>(),
             e["clips"].get<std::size_t>());
  const auto names = e["classes"].get<std::vector<std::string>>();
  std::string header = fmt::format("{:>12}", "");
  for (const auto& n : names) header += fmt::format(" {:>8.8}", n);
  fmt::print("{}\n", header);
  for (std::size_t t = 0; t < names.size(); ++t) {
    std::string row = fmt::format("{:>12.12}", names[t]);
    for (const auto& c : e["confusion"][t]) row += fmt::format(" {:>8}", c.get<std::int64_t>());
    fmt::print("{}\n", row);
  }
  if (e.contains("confusion_png")) fmt::print("confusion matrix drawn to {}\n", e["confusion_png"].get<std::string>());
}

SyntheticSongsOptions synthetic_options(const ContentArgs& a) {
  SyntheticSongsOptions o;
  o.genres = a.genres;
  o.songs_per_genre = a.songs;
  o.seconds = a.seconds;
  o.seed = a.common.seed;
  return o;
}

// The split of synthetic song `name` ("<genre>_<index>"): per genre, 60% train, 20% valid, 20% test.
int synthetic_split(const std::string& name) {
  const int index = std::stoi(name.substr(name.rfind('_') + 1));
  return index % 5 == 3 ? 1 : index % 5 == 4 ? 2 : 0;
}

// Synthetic songs as WAV files and a clip list.
nlohmann::json run_synth(const ContentArgs& a) {
  const SyntheticSongsOptions o = synthetic_options(a);
  std::filesystem::create_directories(a.out);
  std::ofstream list(std::filesystem::path(a.out) / "clips.tsv");
  for (const SyntheticSong& song : make_synthetic_songs(o)) {
    const char* split = std::array{"train", "valid", "test"}[static_cast<std::size_t>(synthetic_split(song.name))];
    write_audio((std::filesystem::path(a.out) / (song.name + ".wav")).string(), song.samples, o.sample_rate);
    list << song.name << ".wav\t" << synthetic_genres(o)[static_cast<std::size_t>(song.genre)].name << "\t" << split << "\n";
  }
  if (!list) RECKON_THROW(StatusCode::kIoError, a.out, "/clips.tsv: write failed");
  return {{"out", a.out}, {"list", (std::filesystem::path(a.out) / "clips.tsv").string()}, {"songs", o.genres * o.songs_per_genre}};
}

nlohmann::json run_train(const ContentArgs& a) {
  RECKON_CHECK_ARG(!a.data.empty() && !a.save.empty(), "--data and --save are required");
  const ClipList list = read_clip_list(a.data);
  const bool fail = a.bad_files == "fail";
  const LoadedClips train = load_clips(list, "train", read_options(a, a.cnn.logmel.sample_rate), fail);
  const LoadedClips valid = load_clips(list, "valid", read_options(a, a.cnn.logmel.sample_rate), fail);
  RECKON_CHECK_ARG(!train.audio.empty(), a.data, ": no readable training clips");
  std::vector<std::string> names(train.labels.begin(), train.labels.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  Context ctx = make_context(a.common);
  const AudioExamples train_examples = examples_of(ctx, train, names, a.cnn.logmel);
  AudioCnnOptions o = a.cnn;
  o.classes = static_cast<int>(names.size());
  o.seed = a.common.seed;
  AudioCnn model(ctx, o, names, train_examples.spectrograms);
  std::optional<AudioExamples> valid_examples;
  if (!valid.audio.empty()) valid_examples = examples_of(ctx, valid, names, a.cnn.logmel);
  const AudioFitResult r = fit_with_progress(model, train_examples, valid_examples ? &*valid_examples : nullptr, a);
  model.save(a.save);
  return {{"saved", a.save}, {"classes", names}, {"train", loaded_json(train)}, {"valid", loaded_json(valid)},
          {"epochs", epochs_json(r)}, {"best_epoch", r.best_epoch}, {"device", ctx.device().str()}};
}

nlohmann::json run_eval(const ContentArgs& a) {
  RECKON_CHECK_ARG(!a.data.empty() && !a.model.empty(), "--model and --data are required");
  Context ctx = make_context(a.common);
  const auto model = AudioCnn::load(ctx, a.model);
  const LoadedClips clips = load_clips(read_clip_list(a.data), a.split, read_options(a, model->options().logmel.sample_rate), a.bad_files == "fail");
  RECKON_CHECK_ARG(!clips.audio.empty(), a.data, ": no readable clips in split '", a.split, "'");
  const AudioExamples e = examples_of(ctx, clips, model->class_names(), model->options().logmel);
  nlohmann::json j = evaluation_json(model->predict(e.spectrograms), e.labels, model->class_names());
  j["split"] = a.split;
  j["files"] = loaded_json(clips);
  plot_confusion(a, fmt::format("{}, {} split", std::filesystem::path(a.data).filename().string(), a.split), j);
  return j;
}

// The audio files under `input` (a file, or a folder searched recursively), in name order.
std::vector<std::string> audio_files(const std::string& input) {
  std::vector<std::string> files;
  if (std::filesystem::is_directory(input)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(input)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".wav" || ext == ".flac" || ext == ".ogg" || ext == ".aiff")) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(input);
  }
  return files;
}

// The clips' item vectors in word2vec's text format, each named by its file's name without the extension (the item
// id an ensemble's catalogue knows it by): a component of kind "vectors" (models/ensemble/config.h). A model
// without the item-vector head gives its class probabilities instead: items then match by how alike they sound.
void save_item_vectors(const std::vector<std::string>& paths, const std::vector<AudioPrediction>& predictions,
                       const std::string& path) {
  item2vec::KeyedVectors vectors;
  std::map<std::string, std::string> seen;
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const std::vector<float>& v = predictions[i].vector.empty() ? predictions[i].probabilities : predictions[i].vector;
    const std::string item = std::filesystem::path(paths[i]).stem().string();
    const auto [at, fresh] = seen.emplace(item, paths[i]);
    RECKON_CHECK_ARG(fresh, "--word2vec: ", at->second, " and ", paths[i], " would both be item '", item, "'");
    vectors.tokens.push_back(item);
    vectors.dim = static_cast<std::int64_t>(v.size());
    vectors.vectors.insert(vectors.vectors.end(), v.begin(), v.end());
  }
  RECKON_CHECK_ARG(!vectors.tokens.empty(), "--word2vec: no clip to write");
  item2vec::save_word2vec(vectors, path, false);
}

nlohmann::json run_predict(const ContentArgs& a) {
  RECKON_CHECK_ARG(!a.model.empty() && !a.input.empty(), "--model and --input are required");
  Context ctx = make_context(a.common);
  const auto model = AudioCnn::load(ctx, a.model);
  ClipList list;
  list.paths = audio_files(a.input);
  list.labels.assign(list.paths.size(), "");
  list.splits.assign(list.paths.size(), "train");
  const LoadedClips clips = load_clips(list, "", read_options(a, model->options().logmel.sample_rate), a.bad_files == "fail");
  const auto predictions = model->predict(compute_spectrograms(ctx, clips.audio, model->options().logmel));
  nlohmann::json items = nlohmann::json::array();
  std::ofstream out;
  if (!a.save.empty()) out.open(a.save);
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const auto& p = predictions[i].probabilities;
    const auto best = p.empty() ? 0 : std::max_element(p.begin(), p.end()) - p.begin();
    nlohmann::json item = {{"file", clips.paths[i]}};
    if (!p.empty()) item["class"] = model->class_names()[static_cast<std::size_t>(best)], item["probability"] = p[static_cast<std::size_t>(best)];
    if (!predictions[i].vector.empty()) item["vector"] = predictions[i].vector;
    if (out.is_open()) {
      out << clips.paths[i] << '\t' << (p.empty() ? "" : model->class_names()[static_cast<std::size_t>(best)]);
      for (const float v : predictions[i].vector) out << '\t' << v;
      out << '\n';
    }
    items.push_back(item);
  }
  if (out.is_open() && !out) RECKON_THROW(StatusCode::kIoError, a.save, ": write failed");
  if (!a.word2vec.empty()) save_item_vectors(clips.paths, predictions, a.word2vec);
  return {{"predictions", items}, {"files", loaded_json(clips)}, {"written", a.save}, {"word2vec", a.word2vec}};
}

// The baseline beside the CNN: each clip as its bands' mean and spread over time, classified by the nearest class
// centroid of the training clips.
double centroid_accuracy(const AudioExamples& train, const AudioExamples& test, int classes) {
  const auto features = [](const Spectrograms& s, std::size_t i) {
    const auto M = static_cast<std::size_t>(s.mels);
    std::vector<double> f(2 * M, 0.0);
    const auto frames = static_cast<double>(std::max<std::int64_t>(1, s.frames(i)));
    for (std::size_t k = 0; k < s.images[i].size(); ++k) f[k % M] += s.images[i][k] / frames;
    for (std::size_t k = 0; k < s.images[i].size(); ++k) f[M + k % M] += std::pow(s.images[i][k] - f[k % M], 2) / frames;
    for (std::size_t m = 0; m < M; ++m) f[M + m] = std::sqrt(f[M + m]);
    return f;
  };
  std::vector<std::vector<double>> centroid(static_cast<std::size_t>(classes));
  std::vector<int> count(static_cast<std::size_t>(classes), 0);
  for (std::size_t i = 0; i < train.spectrograms.size(); ++i) {
    const auto f = features(train.spectrograms, i);
    auto& c = centroid[static_cast<std::size_t>(train.labels[i])];
    c.resize(f.size(), 0.0);
    for (std::size_t k = 0; k < f.size(); ++k) c[k] += f[k];
    ++count[static_cast<std::size_t>(train.labels[i])];
  }
  std::size_t right = 0;
  for (std::size_t i = 0; i < test.spectrograms.size(); ++i) {
    const auto f = features(test.spectrograms, i);
    double best = INFINITY;
    int guess = -1;
    for (int c = 0; c < classes; ++c) {
      if (count[static_cast<std::size_t>(c)] == 0) continue;
      double d = 0;
      for (std::size_t k = 0; k < f.size(); ++k) d += std::pow(f[k] - centroid[static_cast<std::size_t>(c)][k] / count[static_cast<std::size_t>(c)], 2);
      if (d < best) best = d, guess = c;
    }
    right += guess == test.labels[i] ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(std::max<std::size_t>(1, test.spectrograms.size()));
}

nlohmann::json run_demo(const ContentArgs& a) {
  const SyntheticSongsOptions o = synthetic_options(a);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> names;
  for (const auto& g : synthetic_genres(o)) names.push_back(g.name);
  std::array<LoadedClips, 3> splits;  // train, valid, test
  for (const SyntheticSong& song : make_synthetic_songs(o)) {
    LoadedClips& c = splits[static_cast<std::size_t>(synthetic_split(song.name))];
    c.audio.push_back(song.samples);
    c.paths.push_back(song.name);
    c.labels.push_back(names[static_cast<std::size_t>(song.genre)]);
  }
  Context ctx = make_context(a.common);
  const LogMelSettings logmel = a.cnn.logmel;
  const AudioExamples train = examples_of(ctx, splits[0], names, logmel), valid = examples_of(ctx, splits[1], names, logmel),
                      test = examples_of(ctx, splits[2], names, logmel);
  AudioCnnOptions co = a.cnn;
  co.classes = o.genres;
  co.seed = a.common.seed;
  AudioCnn model(ctx, co, names, train.spectrograms);
  const AudioFitResult r = fit_with_progress(model, train, &valid, a);
  nlohmann::json j = evaluation_json(model.predict(test.spectrograms), test.labels, names);
  j["centroid_accuracy"] = centroid_accuracy(train, test, o.genres);
  j["train_clips"] = train.spectrograms.size();
  j["best_epoch"] = r.best_epoch;
  j["epochs"] = epochs_json(r);
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  j["device"] = ctx.device().str();
  plot_confusion(a, "content demo, synthetic songs", j);
  return j;
}

void print_demo(const nlohmann::json& j) {
  fmt::print("\ncontent demo: synthetic songs of {} genres ({} training clips, {} test clips of {} s), the CNN kept "
             "from epoch {} (validation log loss); {:.1f} s in all on {}\n",
             j["classes"].size(), j["train_clips"].get<std::size_t>(), j["clips"].get<std::size_t>(), 4,
             j["best_epoch"].get<int>(), j["seconds"].get<double>(), j["device"].get<std::string>());
  print_evaluation(j);
  fmt::print("nearest class centroid of the bands' mean and spread: accuracy {:.4f}; chance {:.4f}\n",
             j["centroid_accuracy"].get<double>(), 1.0 / static_cast<double>(j["classes"].size()));
}

struct ColdStartArgs {
  ContentArgs content;
  ColdStartOptions cold;
};

nlohmann::json run_cold_start_command(const ColdStartArgs& a) {
  Context ctx = make_context(a.content.common);
  ColdStartOptions o = a.cold;
  o.seed = o.songs.seed = a.content.common.seed;
  AudioCnnOptions cnn = a.content.cnn;
  cnn.seed = a.content.common.seed;
  const auto start = std::chrono::steady_clock::now();
  const ColdStartResult r = run_cold_start(ctx, o, cnn, [&](const std::string& stage) {
    if (!a.content.common.json) print_status_line(stage);
  });
  nlohmann::json rows = nlohmann::json::array();
  for (const ColdStartRow& row : r.rows) rows.push_back({{"method", row.method}, {"hr", row.hit_rate}, {"mrr", row.mrr}});
  return {{"k", o.k}, {"warm_songs", r.warm_songs}, {"cold_songs", r.cold_songs}, {"test_plays", r.test_pairs},
          {"users", o.users}, {"cold_genre_accuracy", r.cold_genre_accuracy}, {"rows", rows},
          {"cnn_epochs", r.epochs.size()}, {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
          {"device", ctx.device().str()}};
}

void print_cold_start(const nlohmann::json& j) {
  const int k = j["k"].get<int>();
  fmt::print("\ncold start: {} users, {} warm songs (item2vec vectors from their plays), {} cold songs never played in "
             "training; each test play of a cold song ranks every cold song for its user. The CNN names the cold songs' "
             "genres with accuracy {:.4f}. {:.0f} s on {}\n{:<14} {:>8} {:>8}\n",
             j["users"].get<int>(), j["warm_songs"].get<std::int64_t>(), j["cold_songs"].get<std::int64_t>(),
             j["cold_genre_accuracy"].get<double>(), j["seconds"].get<double>(), j["device"].get<std::string>(), "method",
             fmt::format("HR@{}", k), fmt::format("MRR@{}", k));
  for (const auto& row : j["rows"]) {
    fmt::print("{:<14} {:>8.4f} {:>8.4f}\n", row["method"].get<std::string>(), row["hr"].get<double>(), row["mrr"].get<double>());
  }
}

void add_cnn_options(CLI::App* c, ContentArgs& a) {
  c->add_option("--epochs", a.cnn.epochs, "at most this many epochs")->capture_default_str();
  c->add_option("--patience", a.patience, "epochs without a lower validation log loss before stopping")->capture_default_str();
  c->add_option("--batch", a.cnn.batch, "clips per step")->capture_default_str();
  c->add_option("--lr", a.cnn.learning_rate, "Adam's learning rate")->capture_default_str();
  c->add_option("--filters", a.cnn.filters, "the first convolution's filters (then 2x, 4x)")->capture_default_str();
  c->add_option("--hidden", a.cnn.hidden, "the dense layer's width")->capture_default_str();
  c->add_option("--dropout", a.cnn.dropout, "dropout after the dense layer")->capture_default_str();
  c->add_option("--crop-frames", a.cnn.crop_frames, "frames per training crop (a multiple of 8; 128 = 3 s)")->capture_default_str();
  c->add_option("--gain-db", a.cnn.gain_db, "augmentation: a random gain of up to this many decibels")->capture_default_str();
  c->add_option("--mels", a.cnn.logmel.mels, "mel bands (a multiple of 16)")->capture_default_str();
}

void add_bad_files(CLI::App* c, ContentArgs& a) {
  c->add_option("--bad-files", a.bad_files, "skip (counted, the first reported) | fail")->check(CLI::IsMember({"skip", "fail"}))->capture_default_str();
  c->add_option("--max-seconds", a.max_seconds, "read at most this much of each file (0: all)")->capture_default_str();
}

void add_synthetic_options(CLI::App* c, ContentArgs& a) {
  c->add_option("--genres", a.genres, "synthetic genres (2-8)")->capture_default_str();
  c->add_option("--songs", a.songs, "songs per genre")->capture_default_str();
  c->add_option("--seconds", a.seconds, "seconds per song")->capture_default_str();
}

}  // namespace

void add_content_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("content", "The content CNN: audio -> log-mel -> genre / instrument and item vectors");
  cmd->require_subcommand(1);
  auto a = std::make_shared<ContentArgs>();
  auto* synth = cmd->add_subcommand("synth", "Write synthetic genre songs (WAV) and their clip list");
  synth->add_option("--out", a->out, "folder for the songs and clips.tsv")->capture_default_str();
  add_synthetic_options(synth, *a);
  add_common_options(synth, a->common, kJson | kSeed);
  set_run(synth, &a->common, [a] { return run_synth(*a); }, [](const nlohmann::json& j) {
    fmt::print("{} songs written to {} (list: {})\n", j["songs"].get<int>(), j["out"].get<std::string>(), j["list"].get<std::string>());
  });
  auto* train = cmd->add_subcommand("train", "Train the CNN on a clip list's train split (valid split: early stopping)");
  train->add_option("--data", a->data, "clip list: path<TAB>label[<TAB>train|valid|test] per line")->required();
  train->add_option("--save", a->save, "checkpoint to write")->required();
  add_cnn_options(train, *a);
  add_bad_files(train, *a);
  add_common_options(train, a->common, kJson | kDevice | kThreads | kSeed);
  set_run(train, &a->common, [a] { return run_train(*a); }, [](const nlohmann::json& j) {
    fmt::print("{} classes, {} training clips ({} skipped); kept epoch {}; saved to {}\n", j["classes"].size(),
               j["train"]["clips"].get<std::size_t>(), j["train"]["skipped_files"].get<std::int64_t>(), j["best_epoch"].get<int>(), j["saved"].get<std::string>());
  });
  auto* eval = cmd->add_subcommand("eval", "Accuracy and confusion matrix on a clip list's split");
  eval->add_option("--model", a->model, "a trained CNN")->required();
  eval->add_option("--data", a->data, "clip list")->required();
  eval->add_option("--split", a->split, "train | valid | test")->check(CLI::IsMember({"train", "valid", "test"}))->capture_default_str();
  eval->add_option("--confusion-png", a->confusion_png, "also draw the confusion matrix to this PNG file");
  add_bad_files(eval, *a);
  add_common_options(eval, a->common, kJson | kDevice | kThreads);
  set_run(eval, &a->common, [a] { return run_eval(*a); }, print_evaluation);
  auto* predict = cmd->add_subcommand("predict", "Label audio files (a file or a folder) and give their vectors");
  predict->add_option("--model", a->model, "a trained CNN")->required();
  predict->add_option("--input", a->input, "an audio file or a folder (searched for .wav, .flac, .ogg, .aiff)")->required();
  predict->add_option("--out", a->save, "write file<TAB>class[<TAB>vector...] lines here");
  predict->add_option("--word2vec", a->word2vec, "write the item vectors (without the vector head: the class probabilities) in "
                      "word2vec's text format, named by file name without extension (an ensemble component of kind vectors)");
  add_bad_files(predict, *a);
  add_common_options(predict, a->common, kJson | kDevice | kThreads);
  set_run(predict, &a->common, [a] { return run_predict(*a); }, [](const nlohmann::json& j) {
    for (const auto& p : j["predictions"]) {
      fmt::print("{}\t{}\t{:.3f}\n", p["file"].get<std::string>(), p.value("class", ""), p.value("probability", 0.0));
    }
    if (j["files"]["skipped_files"].get<std::int64_t>() > 0) fmt::print(stderr, "skipped {} files; the first: {}\n", j["files"]["skipped_files"].get<std::int64_t>(), j["files"]["first_errors"][0].get<std::string>());
  });
  auto cs = std::make_shared<ColdStartArgs>();
  cs->content.cnn.epochs = 30;
  auto* cold = cmd->add_subcommand("cold-start", "Recommend songs nobody has played from their audio: the CNN's vectors "
                                   "against random, popularity and the label oracle (synthetic listening log)");
  cold->add_option("--genres", cs->cold.songs.genres, "synthetic genres (2-8)")->capture_default_str();
  cold->add_option("--songs", cs->cold.songs.songs_per_genre, "songs per genre (a fifth of them cold)")->capture_default_str();
  cold->add_option("--users", cs->cold.users, "listeners")->capture_default_str();
  cold->add_option("--favourite", cs->cold.favourite, "share of a listener's plays in their favourite genre")->capture_default_str();
  cold->add_option("--k", cs->cold.k, "cut-off of HR@K and MRR@K")->capture_default_str();
  add_cnn_options(cold, cs->content);
  add_common_options(cold, cs->content.common, kJson | kDevice | kThreads | kSeed);
  set_run(cold, &cs->content.common, [cs] { return run_cold_start_command(*cs); }, print_cold_start);
  auto* demo = cmd->add_subcommand("demo", "Synthetic genre songs: the CNN's accuracy and confusion matrix (under a minute)");
  add_synthetic_options(demo, *a);
  add_cnn_options(demo, *a);
  demo->add_option("--confusion-png", a->confusion_png, "also draw the test split's confusion matrix to this PNG file");
  add_common_options(demo, a->common, kJson | kDevice | kThreads | kSeed);
  set_run(demo, &a->common, [a] { return run_demo(*a); }, print_demo);
}

}  // namespace reckon::cli
