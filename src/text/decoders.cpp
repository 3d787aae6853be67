// Decoders (tokenizers' decoders/*.rs): ids back to text, one token at a time or joined.
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

// Every occurrence of `from`, left to right without overlaps, replaced by `to`. (Built into a new string:
// in-place std::string::replace draws a false GCC 12 -Wrestrict warning here.)
static void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  std::size_t start = 0;
  for (std::size_t pos; (pos = s.find(from, start)) != std::string::npos; start = pos + from.size()) {
    out.append(s, start, pos - start);
    out.append(to);
  }
  if (start == 0) return;  // none found
  out.append(s, start, std::string::npos);
  s = std::move(out);
}

std::string wordpiece_cleanup(std::string s) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " do not", " don't");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
  return s;
}

std::vector<std::string> WordPieceDecoder::decode_chain(std::vector<std::string> tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto& t = tokens[i];
    if (i != 0) {
      if (!prefix_.empty() && t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
      else t = " " + t;
    }
    if (cleanup_) t = wordpiece_cleanup(std::move(t));
  }
  return tokens;
}

std::vector<std::string> ByteLevelDecoder::decode_chain(std::vector<std::string> tokens) const {
  std::string bytes;
  for (const auto& t : tokens) {
    for (std::size_t i = 0; i < t.size();) {
      std::size_t b = i;
      char32_t c = next_char(t, i);
      int v = unicode_to_byte(c);
      if (v >= 0) bytes.push_back(static_cast<char>(v));
      else bytes.append(t, b, i - b);
    }
  }
  return {utf8_lossy(bytes)};
}

std::vector<std::string> BpeDecoder::decode_chain(std::vector<std::string> tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  return tokens;
}

std::vector<std::string> ReplaceDecoder::decode_chain(std::vector<std::string> tokens) const {
  for (auto& t : tokens) {
    auto matches = pattern_.find_matches(t);
    std::string out;
    for (const auto& m : matches) {
      if (m.is_match) out += content_;
      else out.append(t, m.span.first, m.span.second - m.span.first);
    }
    t = std::move(out);
  }
  return tokens;
}

}  // namespace embed::text
