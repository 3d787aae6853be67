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

// Standard output (also for --output -), or the --output file. A regular file is written as
// "<file>.partial-<pid>" and renamed over <file> by finish(): a command that fails leaves an existing
// file as it was, and never a half-written one. Devices and pipes (e.g. /dev/stdout) are written directly.
class OutputSink {
 public:
  explicit OutputSink(const std::string& path);
  ~OutputSink();  // without finish(): removes the partial file
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;
  std::ostream& stream() { return file_.is_open() ? static_cast<std::ostream&>(file_) : *stdout_; }
  void finish();  // flushes, renames into place; a write failure is an embed::Error naming the file

 private:
  std::string path_;     // empty: standard output
  std::string partial_;  // written first; empty when writing path_ directly
  std::ofstream file_;
  std::ostream* stdout_;
  bool finished_ = false;
};

// Tells the user, on stderr, when `max_length` leaves no room for text beside the special tokens the
// tokenizer adds: texts are then cut to those tokens, or, below their count, not truncated at all (as
// Hugging Face tokenizers do).
void warn_if_no_room_for_text(const Tokenizer& tokenizer, std::size_t max_length, const char* option,
                              const char* command);

// Tells the user once, on stderr, that texts were truncated (never silently).
// `option`: the command's option that sets the limit (null: it has none).
void report_truncation(const EncodeReport& report, std::size_t max_length, const char* option, const char* command);

}  // namespace embed::cli
