#pragma once
// Reading the texts a command works on: arguments, or standard input one text per line.
#include <istream>
#include <string>
#include <vector>

namespace embed::cli {

struct TextInput {
  std::string text;
  std::string text_pair;  // for tokenize --jsonl [text, text_pair] lines
  bool is_pair = false;
};

// One text per line (a trailing '\r' is dropped). Invalid UTF-8 is an error naming the line and byte,
// unless `lossy` (then replaced by U+FFFD). With `jsonl`, each line is a JSON string, or with
// `allow_pairs` a 2-element array [text, text_pair].
std::vector<TextInput> read_texts(std::istream& in, bool jsonl, bool allow_pairs, bool lossy);
// Checks command-line texts the same way (argument k named in errors).
std::vector<TextInput> texts_from_args(const std::vector<std::string>& args, bool lossy);

}  // namespace embed::cli
