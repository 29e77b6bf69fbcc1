#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "reckon/config.h"
#include "reckon/runtime/error.h"

namespace {

// With --json a failure is one JSON object on stdout as well (the message stays on stderr), so a script that parses
// stdout sees {"error": {...}} instead of nothing.
void print_json_error(bool json, const char* code, const std::string& message, const char* file = nullptr,
                      int line = 0) {
  if (!json) return;
  nlohmann::json error{{"code", code}, {"message", message}};
  if (file != nullptr) error["where"] = std::string(file) + ":" + std::to_string(line);
  std::cout << nlohmann::json{{"error", error}}.dump() << "\n";
}

bool caused_by_input(reckon::StatusCode code) {
  using reckon::StatusCode;
  return code == StatusCode::kInvalidArgument || code == StatusCode::kOutOfRange || code == StatusCode::kIoError ||
         code == StatusCode::kDataError || code == StatusCode::kNumericError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"reckon: recommender-system kernels and models on CPU and CUDA"};
  app.set_version_flag("--version", RECKON_VERSION_STRING);
  app.require_subcommand(1);
  reckon::cli::add_info_command(app);
  reckon::cli::add_ctr_command(app);
  reckon::cli::add_item2vec_command(app);
  reckon::cli::add_session_command(app);
  reckon::cli::add_content_command(app);
  reckon::cli::add_ensemble_command(app);
  reckon::cli::add_inspect_command(app);
  bool json = false;
  for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) print_json_error(json, "invalid argument", e.what());
    return app.exit(e);
  } catch (const reckon::Error& e) {
    // A bad file or argument is the user's to fix, and our source line only distracts; other failures keep it.
    if (caused_by_input(e.code())) {
      std::fprintf(stderr, "reckon: [%s] %s\n", reckon::to_string(e.code()), e.message().c_str());
    } else {
      std::fprintf(stderr, "reckon: %s\n", e.what());
    }
    print_json_error(json, reckon::to_string(e.code()), e.message(), e.file(), e.line());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reckon: unexpected error: %s\n", e.what());
    print_json_error(json, "internal", e.what());
    return 1;
  }
  return 0;
}
