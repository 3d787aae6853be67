// Normalizers (tokenizers' normalizers/*.rs) over NormalizedString.
#include <algorithm>

#include <utf8proc.h>

#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

namespace {
bool bert_is_whitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c); }
bool bert_is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return is_other(c);
}
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
int ccc(char32_t c) { return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class; }

std::vector<char32_t> decode_all(std::string_view s) {
  std::vector<char32_t> v;
  v.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) v.push_back(next_char(s, i));
  return v;
}
}  // namespace

void BertNormalizer::normalize(NormalizedString& s) const {
  if (clean_text_) {
    // filter(keep) then map(whitespace -> ' ').
    const std::string& n = s.normalized();
    bool need = false;
    for (std::size_t i = 0; i < n.size();) {
      unsigned char b = static_cast<unsigned char>(n[i]);
      if (b >= 0x20 && b < 0x7F) {
        ++i;
        continue;
      }
      char32_t c = next_char(n, i);
      if (c == 0 || c == 0xFFFD || bert_is_control(c) || (c != ' ' && bert_is_whitespace(c))) {
        need = true;
        break;
      }
    }
    if (need) {
      s.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || bert_is_control(c)); });
      // map: same-size replacements only when the whitespace char is 1 byte; otherwise transform.
      std::vector<NormalizedString::Change> cs;
      const std::string& m = s.normalized();
      bool multi = false;
      for (std::size_t i = 0; i < m.size();) {
        char32_t c = next_char(m, i);
        if (bert_is_whitespace(c)) {
          if (c >= 0x80) multi = true;
          c = ' ';
        }
        cs.push_back({c, 0});
      }
      if (multi) {
        s.transform(cs, 0);
      } else {
        std::string& mm = s.normalized_mut();
        for (auto& ch : mm)
          if (ch == '\t' || ch == '\n' || ch == '\r' || ch == '\x0B' || ch == '\x0C') ch = ' ';
      }
    }
  }
  if (chinese_) {
    const std::string& n = s.normalized();
    bool any = false;
    for (std::size_t i = 0; i < n.size();) {
      unsigned char b = static_cast<unsigned char>(n[i]);
      if (b < 0xE0) {
        i += utf8_len_from_lead(b);
        continue;
      }
      if (is_chinese_char(next_char(n, i))) {
        any = true;
        break;
      }
    }
    if (any) {
      std::vector<NormalizedString::Change> cs;
      cs.reserve(n.size() + 16);
      for (std::size_t i = 0; i < n.size();) {
        char32_t c = next_char(n, i);
        if (is_chinese_char(c)) {
          cs.push_back({' ', 0});
          cs.push_back({c, 1});
          cs.push_back({' ', 1});
        } else {
          cs.push_back({c, 0});
        }
      }
      s.transform(cs, 0);
    }
  }
  if (strip_accents_.value_or(lowercase_)) {
    bool ascii = std::all_of(s.normalized().begin(), s.normalized().end(),
                             [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
    if (!ascii) {
      unicode_normalize(s, UnicodeForm::NFD);
      strip_nonspacing_marks(s);
    }
  }
  if (lowercase_) s.lowercase();
}

void strip_nonspacing_marks(NormalizedString& s) {
  bool ascii = std::all_of(s.normalized().begin(), s.normalized().end(),
                           [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
  if (ascii) return;
  s.filter([](char32_t c) { return !is_mark_nonspacing(c); });
}

void unicode_normalize(NormalizedString& s, UnicodeForm form) {
  const std::string& n = s.normalized();
  if (std::all_of(n.begin(), n.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; })) return;
  bool compat = form == UnicodeForm::NFKC || form == UnicodeForm::NFKD;
  bool compose = form == UnicodeForm::NFC || form == UnicodeForm::NFKC;
  std::vector<char32_t> chars = decode_all(n);
  std::vector<NormalizedString::Change> cs;
  cs.reserve(chars.size() + 8);
  if (!compose) {
    // Per-char decomposition: (first, 0), (rest, +1); then canonical reordering of mark runs.
    int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    for (char32_t c : chars) {
      utf8proc_int32_t buf[32];
      int last = 0;
      utf8proc_ssize_t m = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                   static_cast<utf8proc_option_t>(opts), &last);
      if (m <= 0) {
        cs.push_back({c, 0});
        continue;
      }
      for (utf8proc_ssize_t k = 0; k < m; ++k) cs.push_back({static_cast<char32_t>(buf[k]), k > 0 ? 1 : 0});
    }
    // canonical ordering
    std::size_t i = 0;
    while (i < cs.size()) {
      if (ccc(cs[i].c) == 0) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < cs.size() && ccc(cs[j].c) != 0) ++j;
      if (j - i > 1)
        std::stable_sort(cs.begin() + static_cast<std::ptrdiff_t>(i), cs.begin() + static_cast<std::ptrdiff_t>(j),
                         [](const auto& a, const auto& b) { return ccc(a.c) < ccc(b.c); });
      i = j;
    }
  } else {
    // Segments: a starter and the non-starters after it (Hangul jamo V/T stay with their L).
    auto is_boundary = [](char32_t c) {
      if ((c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2)) return false;
      return ccc(c) == 0;
    };
    int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    std::size_t i = 0;
    while (i < chars.size()) {
      std::size_t j = i + 1;
      while (j < chars.size() && !is_boundary(chars[j])) ++j;
      std::string seg;
      for (std::size_t k = i; k < j; ++k) append_utf8(seg, chars[k]);
      utf8proc_uint8_t* out = nullptr;
      utf8proc_ssize_t r = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(seg.data()),
                                        static_cast<utf8proc_ssize_t>(seg.size()), &out,
                                        static_cast<utf8proc_option_t>(opts));
      std::vector<char32_t> res;
      if (r >= 0 && out) res = decode_all(std::string_view(reinterpret_cast<char*>(out), static_cast<std::size_t>(r)));
      else res.assign(chars.begin() + static_cast<std::ptrdiff_t>(i), chars.begin() + static_cast<std::ptrdiff_t>(j));
      free(out);
      std::size_t in = j - i;
      for (std::size_t k = 0; k < res.size(); ++k) {
        int change = 0;
        if (k >= in) change = 1;
        else if (k + 1 == res.size() && res.size() < in) change = -static_cast<int>(in - res.size());
        cs.push_back({res[k], change});
      }
      if (res.empty() && in > 0) {
        // everything removed: cannot express without a char; keep the original (rare)
        for (std::size_t k = i; k < j; ++k) cs.push_back({chars[k], 0});
      }
      i = j;
    }
  }
  s.transform(cs, 0);
}

void replace_pattern(NormalizedString& s, const TextPattern& pattern, const std::string& content) {
  auto matches = pattern.find_matches(s.normalized());
  std::ptrdiff_t offset = 0;
  std::vector<char32_t> content_chars = decode_all(content);
  for (const auto& m : matches) {
    if (!m.is_match) continue;
    std::size_t start = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(m.span.first) + offset);
    std::size_t end = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(m.span.second) + offset);
    std::size_t removed_chars = count_chars(std::string_view(s.normalized()).substr(start, end - start));
    std::vector<NormalizedString::Change> cs;
    for (char32_t c : content_chars) cs.push_back({c, 1});
    s.transform_range(start, end, cs, removed_chars);
    offset += static_cast<std::ptrdiff_t>(content.size()) - static_cast<std::ptrdiff_t>(m.span.second - m.span.first);
  }
}

}  // namespace embed::text
