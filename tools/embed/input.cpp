#include "input.hpp"

#include <nlohmann/json.hpp>

#include "embed/error.hpp"
#include "text/unicode.hpp"

namespace embed::cli {

namespace {

// Returns the text unchanged when valid; when lossy, each maximal ill-formed subsequence becomes one
// U+FFFD (Unicode's recommended practice, as Python's errors="replace" and Rust's from_utf8_lossy do);
// else throws, naming the first bad byte.
std::string checked_utf8(const std::string& s, bool lossy, const std::string& where) {
  const auto bad = text::find_invalid_utf8(s);
  if (!bad) return s;
  if (lossy) return text::utf8_lossy(s);
  const auto byte = static_cast<unsigned char>(s[*bad]);
  throw Error(where + ": invalid UTF-8 at byte " + std::to_string(*bad) + " (0x" + "0123456789abcdef"[byte >> 4] +
              "0123456789abcdef"[byte & 15] +
              "); re-encode the input as UTF-8 or pass --lossy to replace invalid bytes with U+FFFD");
}

}  // namespace

std::vector<TextInput> read_texts(std::istream& in, const std::string& source, bool jsonl, bool allow_pairs,
                                  bool lossy) {
  std::vector<TextInput> texts;
  std::string line;
  std::size_t line_no = 0, blank_line = 0;  // blank_line: the first blank --jsonl line not yet followed by text
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // byte order mark
    const std::string where = source + " line " + std::to_string(line_no);
    line = checked_utf8(line, lossy, where);
    if (!jsonl) {
      texts.push_back({std::move(line), "", false});
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (blank_line == 0) blank_line = line_no;
      continue;
    }
    if (blank_line != 0)
      throw Error(source + " line " + std::to_string(blank_line) +
                  ": blank line; with --jsonl every line must be a JSON string (\"\" for an empty text)");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(where + ": invalid JSON (" + std::string(e.what()) + ")");
    }
    if (j.is_string()) {
      texts.push_back({j.get<std::string>(), "", false});
    } else if (allow_pairs && j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string()) {
      texts.push_back({j[0].get<std::string>(), j[1].get<std::string>(), true});
    } else {
      throw Error(where + ": expected a JSON string" +
                  std::string(allow_pairs ? " or a 2-element array [text, text_pair]" : "") + ", found " +
                  j.type_name());
    }
  }
  if (in.bad()) throw Error(source + ": read error");
  return texts;
}

std::vector<TextInput> texts_from_args(const std::vector<std::string>& args, bool lossy) {
  std::vector<TextInput> texts;
  for (std::size_t i = 0; i < args.size(); ++i)
    texts.push_back({checked_utf8(args[i], lossy, "argument TEXT " + std::to_string(i + 1)), "", false});
  return texts;
}

}  // namespace embed::cli
