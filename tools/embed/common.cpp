#include "common.hpp"

#include <iostream>

#include "embed/error.hpp"

namespace embed::cli {

std::vector<TextInput> gather_texts(const CommonArgs& args, bool allow_pairs) {
  if (!args.texts.empty()) return texts_from_args(args.texts, args.lossy);
  return read_texts(std::cin, args.jsonl, allow_pairs, args.lossy);
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

OutputSink::OutputSink(const std::string& path) : path_(path), stdout_(&std::cout) {
  if (!path.empty()) {
    file_.open(path, std::ios::binary | std::ios::trunc);
    if (!file_) throw Error(path + ": cannot open output file for writing");
  }
}

void OutputSink::finish() {
  stream().flush();
  if (!stream()) throw Error((path_.empty() ? std::string("stdout") : path_) + ": write failed");
}

void report_truncation(const EncodeReport& report, std::size_t max_length, const char* command) {
  if (report.truncated_texts == 0) return;
  std::cerr << "embed " << command << ": note: " << report.truncated_texts << " text(s) longer than " << max_length
            << " tokens were truncated to " << max_length << " (first: input " << *report.first_truncated + 1
            << "); use --max-seq-length to change the limit\n";
}

}  // namespace embed::cli
