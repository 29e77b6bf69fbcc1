// `reckon inspect FILE`: a checkpoint's header (model kind, configuration, vocabulary summary, tensor directory)
// without loading the model, for the shared envelope and the formats before it.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/file_io.h"

namespace reckon::cli {
namespace {

nlohmann::json envelope_summary(const std::string& path) {
  const CheckpointReader file(path);
  nlohmann::json entries = nlohmann::json::array();
  std::uint64_t bytes = 0;
  for (const CheckpointEntry& e : file.entries()) {
    entries.push_back({{"name", e.name}, {"dtype", e.dtype}, {"shape", e.shape}, {"bytes", e.bytes}});
    bytes += e.bytes;
  }
  return {{"path", path},
          {"format", "reckon checkpoint v" + std::to_string(file.version())},
          {"kind", file.kind()},
          {"config", nlohmann::json::parse(file.config_json())},
          {"vocabulary", nlohmann::json::parse(file.vocabulary_json())},
          {"entries", entries},
          {"entry_bytes", bytes}};
}

nlohmann::json inspect(const std::string& path) {
  const std::string bytes = read_file(path);
  if (CheckpointReader::recognises(bytes)) return envelope_summary(path);
  for (const std::string& header :
       {ctr::legacy_checkpoint_header(path, bytes), item2vec::Item2Vec::legacy_checkpoint_header(path, bytes)}) {
    if (header.empty()) continue;
    nlohmann::json out = nlohmann::json::parse(header);
    out["path"] = path;
    return out;
  }
  RECKON_THROW(StatusCode::kDataError, path, ": not a reckon checkpoint");
}

void print_text(const nlohmann::json& s) {
  fmt::print("{}: {}, {} model\n", s["path"].get<std::string>(), s["format"].get<std::string>(),
             s["kind"].get<std::string>());
  fmt::print("config: {}\n", s["config"].dump());
  if (s.contains("vocabulary")) fmt::print("vocabulary: {}\n", s["vocabulary"].dump());
  if (!s.contains("entries")) return;
  fmt::print("{} entries, {:.1f} MiB:\n", s["entries"].size(), s["entry_bytes"].get<double>() / (1 << 20));
  for (const nlohmann::json& e : s["entries"]) {
    fmt::print("  {:<28} {:<5} {:<16} {:>12} bytes\n", e["name"].get<std::string>(), e["dtype"].get<std::string>(),
               e["shape"].dump(), e["bytes"].get<std::uint64_t>());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  struct InspectArgs {
    CommonOptions common;
    std::string path;
  };
  CLI::App* cmd = app.add_subcommand("inspect", "Print a checkpoint's header: model kind, settings, vocabulary, tensors");
  auto a = std::make_shared<InspectArgs>();
  cmd->add_option("file", a->path, "a checkpoint written by ctr train --save or item2vec train --save")->required();
  add_common_options(cmd, a->common, kJson);
  set_run(cmd, &a->common, [a] { return inspect(a->path); }, print_text);
}

}  // namespace reckon::cli
