#include "input.hpp"

#include <nlohmann/json.hpp>

#include "embed/error.hpp"

namespace embed::cli {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid (overlong, surrogate, > U+10FFFF).
std::size_t utf8_sequence_length(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Returns the text unchanged when valid; replaces invalid bytes with U+FFFD when lossy; else throws.
std::string checked_utf8(const std::string& s, bool lossy, const std::string& where) {
  std::string out;
  bool changed = false;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      if (!lossy)
        throw Error(where + ": invalid UTF-8 at byte " + std::to_string(i) + " (0x" +
                    "0123456789abcdef"[static_cast<unsigned char>(s[i]) >> 4] +
                    "0123456789abcdef"[static_cast<unsigned char>(s[i]) & 15] +
                    "); re-encode the input as UTF-8 or pass --lossy to replace invalid bytes with U+FFFD");
      if (!changed) out = s.substr(0, i);
      changed = true;
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (changed) out.append(s, i, n);
    i += n;
  }
  return changed ? out : s;
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
