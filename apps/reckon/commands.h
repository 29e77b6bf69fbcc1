// The reckon command-line program: each command registers its CLI11 subcommand, computes one result object, and
// prints it in one place (set_run): one JSON object on stdout with --json, a readable report otherwise.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"

namespace reckon::cli {

void add_info_command(CLI::App& app);
void add_ctr_command(CLI::App& app);
void add_item2vec_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_session_command(CLI::App& app);
void add_content_command(CLI::App& app);
void add_ensemble_command(CLI::App& app);
// `reckon serve`, and `reckon ensemble load` under the ensemble command.
void add_serve_command(CLI::App& app, CLI::App& ensemble);

// The options commands share, each registered by add_common_options so it reads the same everywhere.
struct CommonOptions {
  std::string device = "auto";
  bool json = false;
  int threads = 0;
  std::uint64_t seed = 1;
};
enum CommonOption : unsigned { kJson = 1, kDevice = 2, kThreads = 4, kSeed = 8 };
void add_common_options(CLI::App* command, CommonOptions& options, unsigned which);
// A context on --device, seeded by --seed, with --threads CPU threads (checked: >= 0).
Context make_context(const CommonOptions& options);

// The command's work: `compute` returns its result object, which is printed in one place - as one JSON object with
// --json, otherwise by `print_text`. `options` must live as long as the command (a member of the arguments that
// `compute` holds).
void set_run(CLI::App* command, const CommonOptions* options, std::function<nlohmann::json()> compute,
             std::function<void(const nlohmann::json&)> print_text);

// The options of `command` named on its command line, by long name ("--lr"): a resumed run (--resume) applies or
// refuses those, and keeps the checkpoint's settings for the rest.
inline std::set<std::string> options_named(const CLI::App& command) {
  std::set<std::string> named;
  for (const CLI::Option* option : command.get_options()) {
    if (option->count() > 0) named.insert(option->get_name());
  }
  return named;
}

// A metric where there was something to compute it from, null otherwise (not a made-up 0): AUC without labels,
// Spearman's rho over fewer than two pairs, an accuracy over no question.
inline nlohmann::json metric_or_null(bool measured, double value) {
  return measured ? nlohmann::json(value) : nlohmann::json();
}

// Vocabulary options cannot apply to a resumed checkpoint, whose vocabulary is fixed: a clear error for the first
// of `options` that was named.
inline void refuse_vocabulary_options(const std::set<std::string>& named, std::initializer_list<const char*> options,
                                      const std::string& checkpoint) {
  for (const char* option : options) {
    if (named.count(option) != 0) {
      RECKON_THROW(StatusCode::kInvalidArgument, option,
                   " cannot apply with --resume: the vocabulary is the one saved in ", checkpoint);
    }
  }
}

}  // namespace reckon::cli
