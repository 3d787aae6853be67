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

// One text per line (a trailing '\r' is dropped, and a UTF-8 byte order mark before the first line).
// Invalid UTF-8 is an error naming `source`, the line and the byte, unless `lossy` (then replaced by
// U+FFFD). With `jsonl`, each line is a JSON string, or with `allow_pairs` a 2-element array
// [text, text_pair]; blank lines are an error there, except at the end of the input.
std::vector<TextInput> read_texts(std::istream& in, const std::string& source, bool jsonl, bool allow_pairs,
                                  bool lossy);
// Checks command-line texts the same way (argument k named in errors).
std::vector<TextInput> texts_from_args(const std::vector<std::string>& args, bool lossy);

}  // namespace embed::cli
