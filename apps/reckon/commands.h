// The reckon command-line program: each command registers its CLI11 subcommand and prints either a readable
// report or, with --json, one JSON object on stdout.
#pragma once

#include <CLI/CLI.hpp>

namespace reckon::cli {

void add_info_command(CLI::App& app);
void add_ctr_command(CLI::App& app);
void add_item2vec_command(CLI::App& app);

}  // namespace reckon::cli
