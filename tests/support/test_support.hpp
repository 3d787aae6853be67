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

// One mapping of this process as /proc/self/smaps lists it: its address range, its header line
// ("lo-hi perms offset dev inode path") and its field lines ("Rss: 12 kB", "VmFlags: rd mr ...").
struct SmapsMapping {
  unsigned long lo = 0, hi = 0;
  std::string header;
  std::vector<std::string> fields;
  bool contains(const void* address) const;
  // The field line starting with `name` (e.g. "Rss:"), "" if none.
  std::string field(const std::string& name) const;
  // The number of kB of a "Name: N kB" field, 0 if none.
  long kb(const std::string& name) const;
};
std::vector<SmapsMapping> read_smaps();

}  // namespace embed::testing
