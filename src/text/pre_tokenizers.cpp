// Pre-tokenizers (tokenizers' pre_tokenizers/*.rs).
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

namespace {
bool is_bert_punc(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return is_punctuation(c);
}
}  // namespace

void BertPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  // tokenizers splits on whitespace (removed), then on punctuation (isolated). Both in one pass: the
  // pieces are the runs of other chars and each punctuation char; slicing once gives the same splits.
  s.split([](NormalizedString&& n) {
    const std::string& str = n.normalized();
    std::vector<NormalizedString> out;
    std::size_t i = 0, run = std::string::npos;
    while (i < str.size()) {
      std::size_t b = i;
      unsigned char ch = static_cast<unsigned char>(str[i]);
      bool ws, punc;
      if (ch < 0x80) {
        ++i;
        ws = ch == ' ' || (ch >= 0x09 && ch <= 0x0D);
        punc = !ws && ((ch >= 33 && ch <= 47) || (ch >= 58 && ch <= 64) || (ch >= 91 && ch <= 96) || (ch >= 123 && ch <= 126));
      } else {
        char32_t c = next_char(str, i);
        ws = is_whitespace(c);
        punc = !ws && is_bert_punc(c);
      }
      if (ws || punc) {
        if (run != std::string::npos) {
          out.push_back(n.slice(run, b));
          run = std::string::npos;
        }
        if (punc) out.push_back(n.slice(b, i));
      } else if (run == std::string::npos) {
        run = b;
      }
    }
    if (run != std::string::npos) out.push_back(n.slice(run, str.size()));
    return out;
  });
}

WhitespacePreTokenizer::WhitespacePreTokenizer() {}

// tokenizers' Whitespace: the Rust `regex` crate pattern \w+|[^\w\s]+ (not Oniguruma), so \w is
// Unicode word: Alphabetic, marks, Nd, Pc and Join_Control (ZWNJ/ZWJ).
void WhitespacePreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    // matches: maximal runs of word chars and of non-word non-space chars; the rest is removed.
    const std::string& str = n.normalized();
    std::vector<PatternMatch> m;
    if (str.empty()) {
      m.push_back({{0, 0}, false});
    } else {
      std::size_t i = 0;
      int prev = -1;  // 0 word, 1 other, 2 space
      while (i < str.size()) {
        std::size_t b = i;
        char32_t c = next_char(str, i);
        int k = is_rust_word_char(c) ? 0 : is_whitespace(c) ? 2 : 1;
        if (!m.empty() && k == prev) m.back().span.second = i;
        else m.push_back({{b, i}, k == 2});  // is_match (after inversion): whitespace is removed
        prev = k;
      }
    }
    return split_normalized(n, m, SplitBehavior::Removed);
  });
}

void WhitespaceSplitPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([](NormalizedString&& n) {
    return split_normalized(n, find_char_matches(n.normalized(), [](char32_t c) { return is_whitespace(c); }),
                            SplitBehavior::Removed);
  });
}

void PunctuationPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    return split_normalized(n, find_char_matches(n.normalized(), is_bert_punc), behavior_);
  });
}

void DigitsPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    // Rust char::is_numeric: general categories Nd, Nl, No
    return split_normalized(n, find_char_matches(n.normalized(), [](char32_t c) { return c < 0x80 ? (c >= '0' && c <= '9') : is_number(c); }),
                            individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  });
}

void SplitPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    auto m = pattern_.find_matches(n.normalized());
    if (invert_)
      for (auto& x : m) x.is_match = !x.is_match;
    return split_normalized(n, m, behavior_);
  });
}

// ---------------------------------------------------------------- byte level
namespace {
struct ByteMap {
  char32_t b2u[256];
  ByteMap() {
    bool direct[256] = {};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (direct[b]) b2u[b] = static_cast<char32_t>(b);
      else b2u[b] = static_cast<char32_t>(256 + n++);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}
}  // namespace

const char32_t* bytes_to_unicode() { return byte_map().b2u; }

int unicode_to_byte(char32_t c) {
  static const auto table = [] {
    std::vector<int> t(512, -1);
    const char32_t* m = byte_map().b2u;
    for (int b = 0; b < 256; ++b) t[m[b]] = b;
    return t;
  }();
  return c < 512 ? table[c] : -1;
}

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
    : add_prefix_space_(add_prefix_space),
      use_regex_(use_regex),
      re_(std::make_shared<Regex>(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
                                  "ByteLevel")) {}

void ByteLevelPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    if (add_prefix_space_ && (n.normalized().empty() || n.normalized()[0] != ' ')) n.prepend(" ");
    std::vector<NormalizedString> out;
    if (use_regex_) return split_normalized(n, re_->find_matches(n.normalized()), SplitBehavior::Isolated);
    out.push_back(std::move(n));
    return out;
  });
  s.normalize([&](NormalizedString& n) { byte_level_map(n); });
}

void byte_level_map(NormalizedString& n) {
  const char32_t* map = bytes_to_unicode();
  {
    const std::string& str = n.normalized();
    std::vector<NormalizedString::Change> cs;
    cs.reserve(str.size());
    std::size_t i = 0;
    while (i < str.size()) {
      std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(str[i]));
      for (std::size_t k = 0; k < len; ++k) cs.push_back({map[static_cast<unsigned char>(str[i + k])], k > 0 ? 1 : 0});
      i += len;
    }
    n.transform(cs, 0);
  }
}

void CharDelimiterSplitPreTokenizer::pre_tokenize(PreTokenizedString& s) const {
  s.split([&](NormalizedString&& n) {
    return split_normalized(n, find_char_matches(n.normalized(), [&](char32_t c) { return c == delimiter_; }),
                            SplitBehavior::Removed);
  });
}

}  // namespace embed::text
