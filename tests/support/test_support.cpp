#include "support/test_support.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>

namespace embed::testing {

namespace fs = std::filesystem;

fs::path data_path(const std::string& relative) { return fs::path(EMBED_TEST_DATA) / relative; }

static std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json_file(const fs::path& path) { return nlohmann::json::parse(read_all(path)); }

std::vector<nlohmann::json> read_jsonl_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

static std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs& temp_dirs() {
  static TempDirs t;
  return t;
}
}  // namespace

fs::path make_temp_dir(const std::string& tag) {
  std::random_device rd;
  fs::path dir = fs::temp_directory_path() / ("embed-test-" + tag + "-" + std::to_string(rd()));
  fs::create_directories(dir);
  temp_dirs().dirs.push_back(dir);
  return dir;
}

CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  return run_program(EMBED_CLI_PATH, args, stdin_text);
}

CliResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& stdin_text) {
  fs::path dir = make_temp_dir("cli");
  fs::path in = dir / "stdin", out = dir / "stdout", err = dir / "stderr";
  { std::ofstream(in, std::ios::binary) << stdin_text; }
  std::string cmd = shell_quote(program);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " <" + shell_quote(in.string()) + " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

bool SmapsMapping::contains(const void* address) const {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  return a >= lo && a < hi;
}

std::string SmapsMapping::field(const std::string& name) const {
  for (const auto& line : fields)
    if (line.rfind(name, 0) == 0) return line;
  return "";
}

long SmapsMapping::kb(const std::string& name) const {
  const std::string line = field(name);
  return line.empty() ? 0 : std::stol(line.substr(name.size()));
}

std::vector<SmapsMapping> read_smaps() {
  std::ifstream smaps("/proc/self/smaps");
  std::vector<SmapsMapping> mappings;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    // A mapping's block starts with its "lo-hi perms ..." line; field lines do not read as two hex numbers.
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) mappings.push_back({lo, hi, line, {}});
    else if (!mappings.empty()) mappings.back().fields.push_back(line);
  }
  return mappings;
}

}  // namespace embed::testing
