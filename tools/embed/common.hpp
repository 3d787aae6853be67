#pragma once
// What the subcommands share: gathering texts, loading the model, where output goes.
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "embed/model.hpp"
#include "input.hpp"

namespace embed::cli {

// Texts from the arguments, else from standard input.
std::vector<TextInput> gather_texts(const CommonArgs& args, bool allow_pairs);
std::vector<std::string> plain_texts(const std::vector<TextInput>& inputs, const char* command);
std::shared_ptr<const Model> load_model(const CommonArgs& args);

// Standard output, or the --output file (opened in binary mode; failure names the file).
class OutputSink {
 public:
  explicit OutputSink(const std::string& path);
  std::ostream& stream() { return file_.is_open() ? static_cast<std::ostream&>(file_) : *stdout_; }
  void finish();  // flushes and reports a write failure as embed::Error

 private:
  std::string path_;
  std::ofstream file_;
  std::ostream* stdout_;
};

// Tells the user once, on stderr, that texts were truncated (never silently).
void report_truncation(const EncodeReport& report, std::size_t max_length, const char* command);

}  // namespace embed::cli
