#include "common.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "embed/error.hpp"

namespace embed::cli {

std::vector<TextInput> gather_texts(const CommonArgs& args, bool allow_pairs) {
  if (!args.texts.empty()) return texts_from_args(args.texts, args.lossy);
  return read_texts(std::cin, "stdin", args.jsonl, allow_pairs, args.lossy);
}

std::vector<std::string> plain_texts(const std::vector<TextInput>& inputs, const char* command) {
  std::vector<std::string> texts;
  texts.reserve(inputs.size());
  for (const auto& t : inputs) {
    if (t.is_pair) throw Error(std::string("embed ") + command + ": text pairs are only accepted by `embed tokenize`");
    texts.push_back(t.text);
  }
  return texts;
}

std::shared_ptr<const Model> load_model(const CommonArgs& args) {
  LoadOptions options;
  options.threads = args.threads;
  if (args.precision == "bf16") options.precision = Precision::BF16;
  else if (args.precision == "int8") options.precision = Precision::INT8;
  return Model::load(args.model, options);
}

OutputSink::OutputSink(const std::string& path) : path_(path == "-" ? "" : path), stdout_(&std::cout) {
  if (path_.empty()) return;
  std::error_code ec;
  const auto status = std::filesystem::status(path_, ec);
  if (std::filesystem::is_directory(status)) throw Error(path_ + ": is a directory; --output needs a file name");
  const bool regular = !std::filesystem::exists(status) || std::filesystem::is_regular_file(status);
  if (regular) partial_ = path_ + ".partial-" + std::to_string(getpid());
  const std::string& target = regular ? partial_ : path_;
  file_.open(target, std::ios::binary | std::ios::trunc);
  if (!file_) throw Error(path_ + ": cannot write there (" + std::strerror(errno) + ")");
}

OutputSink::~OutputSink() {
  if (finished_ || partial_.empty()) return;
  file_.close();
  std::error_code ignored;
  std::filesystem::remove(partial_, ignored);
}

void OutputSink::finish() {
  stream().flush();
  if (!stream()) throw Error((path_.empty() ? std::string("stdout") : path_) + ": write failed");
  if (!partial_.empty()) {
    file_.close();
    if (!file_) throw Error(partial_ + ": write failed");
    std::error_code ec;
    std::filesystem::rename(partial_, path_, ec);
    if (ec) throw Error(path_ + ": cannot replace it with " + partial_ + " (" + ec.message() + ")");
  }
  finished_ = true;
}

void warn_if_no_room_for_text(const Tokenizer& tokenizer, std::size_t max_length, const char* option,
                              const char* command) {
  const std::size_t special = tokenizer.num_special_tokens_to_add(false);
  if (max_length > special) return;
  std::cerr << "embed " << command << ": note: " << option << " " << max_length << " leaves no room beside the "
            << special << " special token(s) added to every text: "
            << (max_length < special ? "as in Hugging Face tokenizers, texts are then not truncated at all\n"
                                     : "only the special tokens are kept\n");
}

void report_truncation(const EncodeReport& report, std::size_t max_length, const char* option, const char* command) {
  if (report.truncated_texts == 0) return;
  std::cerr << "embed " << command << ": note: " << report.truncated_texts << " text(s) longer than " << max_length
            << " tokens were truncated to " << max_length << " (first: input " << *report.first_truncated + 1 << ")";
  if (option) std::cerr << "; use " << option << " to change the limit";
  std::cerr << "\n";
}

}  // namespace embed::cli
