#include "commands.h"

#include <iostream>

#include "reckon/runtime/device.h"

namespace reckon::cli {

void add_common_options(CLI::App* command, CommonOptions& options, unsigned which) {
  if ((which & kDevice) != 0) {
    command->add_option("--device", options.device, "cpu | cuda | cuda:N | auto")->capture_default_str();
  }
  if ((which & kThreads) != 0) {
    command->add_option("--threads", options.threads, "CPU threads, for the work and for reading files (0: all)")
        ->capture_default_str();
  }
  if ((which & kSeed) != 0) command->add_option("--seed", options.seed, "random seed")->capture_default_str();
  if ((which & kJson) != 0) command->add_flag("--json", options.json, "print one JSON object");
}

Context make_context(const CommonOptions& options) {
  RECKON_CHECK_ARG(options.threads >= 0, "--threads must be >= 0 (0: all), got ", options.threads);
  Context ctx(parse_device(options.device), options.seed);
  if (options.threads > 0) ctx.set_cpu_threads(options.threads);
  return ctx;
}

void set_run(CLI::App* command, const CommonOptions* options, std::function<nlohmann::json()> compute,
             std::function<void(const nlohmann::json&)> print_text) {
  command->callback([options, compute = std::move(compute), print_text = std::move(print_text)] {
    const nlohmann::json result = compute();
    if (options->json) {
      std::cout << result.dump() << "\n";
    } else {
      print_text(result);
    }
  });
}

}  // namespace reckon::cli
