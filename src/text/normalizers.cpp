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

void NmtNormalizer::normalize(NormalizedString& s) const {
  s.filter([](char32_t c) {
    return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F);
  });
  std::vector<NormalizedString::Change> cs;
  const std::string& m = s.normalized();
  bool changed = false;
  for (std::size_t i = 0; i < m.size();) {
    char32_t c = next_char(m, i);
    if (c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 || (c >= 0x200B && c <= 0x200F) || c == 0x2028 ||
        c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD) {
      c = ' ';
      changed = true;
    }
    cs.push_back({c, 0});
  }
  if (changed) s.transform(cs, 0);
}

void ByteLevelNormalizer::normalize(NormalizedString& s) const { byte_level_map(s); }

void strip_combining_marks(NormalizedString& s) {
  bool ascii = std::all_of(s.normalized().begin(), s.normalized().end(),
                           [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
  if (ascii) return;
  s.filter([](char32_t c) { return !is_mark(c); });
}

// Primary composite of (a, b), or 0.
static char32_t compose_pair(char32_t a, char32_t b) {
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE));
  return n == 1 ? static_cast<char32_t>(buf[0]) : 0;
}

void unicode_normalize(NormalizedString& s, UnicodeForm form) {
  const std::string& n = s.normalized();
  if (std::all_of(n.begin(), n.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; })) return;
  bool compat = form == UnicodeForm::NFKC || form == UnicodeForm::NFKD;
  bool compose = form == UnicodeForm::NFC || form == UnicodeForm::NFKC;
  std::vector<char32_t> chars = decode_all(n);
  std::vector<NormalizedString::Change> cs;
  cs.reserve(chars.size() + 8);
  // 1. Per-char decomposition: (first, 0), (rest, +1) as unicode-normalization-alignments does.
  int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  for (char32_t c : chars) {
    if (c < 0x80) {
      cs.push_back({c, 0});
      continue;
    }
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
  // 2. Canonical ordering of runs of non-starters.
  for (std::size_t i = 0; i < cs.size();) {
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
  // 3. Canonical composition; a starter that absorbs a char takes over its change minus one.
  if (compose) {
    std::vector<NormalizedString::Change> out;
    out.reserve(cs.size());
    std::ptrdiff_t starter = -1;
    int last_cc = -1;  // ccc of the last char kept after the starter; -1: none yet
    for (const auto& ch : cs) {
      int cc = ccc(ch.c);
      if (starter >= 0 && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
        char32_t comp = compose_pair(out[static_cast<std::size_t>(starter)].c, ch.c);
        if (comp) {
          auto& st = out[static_cast<std::size_t>(starter)];
          st.c = comp;
          st.change += ch.change - 1;
          continue;
        }
      }
      if (cc == 0) {
        starter = static_cast<std::ptrdiff_t>(out.size());
        last_cc = -1;
      } else {
        last_cc = cc;
      }
      out.push_back(ch);
    }
    cs = std::move(out);
  }
  s.transform(cs, 0);
}

void replace_pattern(NormalizedString& s, const TextPattern& pattern, const std::string& content) {
  // tokenizers applies transform_range once per match (quadratic on long texts); this builds the same
  // string and alignments in one pass: the content of a match takes the alignment of the match's
  // last byte (an empty match: of the byte before it, or (0, 0) at the start).
  auto matches = pattern.find_matches(s.normalized());
  bool any = false;
  for (const auto& m : matches) any = any || m.is_match;
  if (!any) return;
  const std::string& in = s.normalized();
  const auto& in_align = s.alignments();
  std::string out;
  std::vector<ByteSpan> out_align;
  out.reserve(in.size());
  out_align.reserve(in.size());
  for (const auto& m : matches) {
    auto [start, end] = m.span;
    if (!m.is_match) {
      out.append(in, start, end - start);
      out_align.insert(out_align.end(), in_align.begin() + static_cast<std::ptrdiff_t>(start),
                       in_align.begin() + static_cast<std::ptrdiff_t>(end));
      continue;
    }
    ByteSpan align = end > start ? in_align[end - 1] : (out_align.empty() ? ByteSpan{0, 0} : out_align.back());
    out += content;
    out_align.insert(out_align.end(), content.size(), align);
  }
  s.normalized_mut() = std::move(out);
  s.alignments() = std::move(out_align);
}

}  // namespace embed::text
