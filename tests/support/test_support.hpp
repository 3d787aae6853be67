#pragma once
// Shared helpers for the test programs: fixture paths, JSON files, running the CLI.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace embed::testing {

// tests/data/<relative>
std::filesystem::path data_path(const std::string& relative);
nlohmann::json read_json_file(const std::filesystem::path& path);
// Each line of a .jsonl file parsed.
std::vector<nlohmann::json> read_jsonl_file(const std::filesystem::path& path);

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `program` with `args` (each one shell-quoted here) and `stdin_text` on standard input.
CliResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::string& stdin_text = "");
// run_program on the embed CLI.
CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");

// A fresh empty directory under the system temp dir, removed at process exit.
std::filesystem::path make_temp_dir(const std::string& tag);

}  // namespace embed::testing
