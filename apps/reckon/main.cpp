#include <cstdio>
#include <exception>

#include "commands.h"
#include "reckon/config.h"
#include "reckon/runtime/error.h"

int main(int argc, char** argv) {
  CLI::App app{"reckon: recommender-system kernels and models on CPU and CUDA"};
  app.set_version_flag("--version", RECKON_VERSION_STRING);
  app.require_subcommand(1);
  reckon::cli::add_info_command(app);
  reckon::cli::add_ctr_command(app);
  reckon::cli::add_item2vec_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const reckon::Error& e) {
    std::fprintf(stderr, "reckon: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reckon: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
