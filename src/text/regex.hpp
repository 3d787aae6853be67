#pragma once
// Oniguruma regex (the engine Hugging Face tokenizers uses), Ruby syntax, UTF-8.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/pipeline.hpp"

namespace embed::text {

class Regex {
 public:
  // Throws embed::Error with `what` in the message when the pattern does not compile.
  explicit Regex(const std::string& pattern, const std::string& what = "regex");
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches [start, end) in bytes, as the onig crate's find_iter.
  std::vector<ByteSpan> find_all(std::string_view text) const;
  // Matches and the gaps between them covering all of `text` (tokenizers' Pattern::find_matches).
  std::vector<PatternMatch> find_matches(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* regex_ = nullptr;  // regex_t*
};

// Literal (non-regex) pattern matches, non-overlapping left to right; empty pattern: no match.
std::vector<PatternMatch> find_literal_matches(std::string_view text, std::string_view literal);

// Per-character pattern: every char for which pred(c) holds is its own match.
template <class Pred>
std::vector<PatternMatch> find_char_matches(std::string_view text, Pred pred);

}  // namespace embed::text

#include "text/unicode.hpp"

namespace embed::text {
template <class Pred>
std::vector<PatternMatch> find_char_matches(std::string_view text, Pred pred) {
  std::vector<PatternMatch> out;
  if (text.empty()) {
    out.push_back({{0, 0}, false});
    return out;
  }
  std::size_t last = 0, i = 0;
  while (i < text.size()) {
    std::size_t b = i;
    char32_t c = next_char(text, i);
    if (pred(c)) {
      if (last < b) out.push_back({{last, b}, false});
      out.push_back({{b, i}, true});
      last = i;
    }
  }
  if (text.size() > last) out.push_back({{last, text.size()}, false});
  return out;
}
}  // namespace embed::text
