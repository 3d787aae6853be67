#include "text/unicode.hpp"

#include <utf8proc.h>

namespace embed::text {

namespace {

// What a non-ASCII lead byte allows (Unicode's well-formed UTF-8 table): the sequence length (0: not a
// lead byte) and the range of the second byte, narrower after E0, ED, F0 and F4 (no overlongs, no
// surrogates, nothing above U+10FFFF); later bytes are always 80..BF.
struct Utf8Lead {
  std::size_t length = 0;
  unsigned char second_lo = 0x80, second_hi = 0xBF;
};
Utf8Lead utf8_lead(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {2};
  if (b == 0xE0) return {3, 0xA0};
  if (b >= 0xE1 && b <= 0xEC) return {3};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xEE && b <= 0xEF) return {3};
  if (b == 0xF0) return {4, 0x90};
  if (b >= 0xF1 && b <= 0xF3) return {4};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {};
}

}  // namespace

std::optional<std::size_t> find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    const Utf8Lead lead = utf8_lead(b);
    const std::size_t len = lead.length;
    if (len == 0) return i;
    if (i + 1 >= n || p[i + 1] < lead.second_lo || p[i + 1] > lead.second_hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (i + k >= n || p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::nullopt;
}

std::string utf8_lossy(std::string_view s) {
  // Rust from_utf8_lossy: each maximal invalid prefix of a sequence becomes one U+FFFD.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  std::string out;
  out.reserve(n);
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const Utf8Lead lead = utf8_lead(b);
    const std::size_t len = lead.length;
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    std::size_t k = 1;
    bool ok = true;
    for (; k < len; ++k) {
      const unsigned char l = k == 1 ? lead.second_lo : 0x80, h = k == 1 ? lead.second_hi : 0xBF;
      if (i + k >= n || p[i + k] < l || p[i + k] > h) {
        ok = false;
        break;
      }
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += k;
    }
  }
  return out;
}

std::size_t count_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char b : s) n += (b & 0xC0) != 0x80;
  return n;
}

static utf8proc_category_t cat(char32_t c) {
  return static_cast<utf8proc_category_t>(utf8proc_category(static_cast<utf8proc_int32_t>(c)));
}

bool is_punctuation(char32_t c) {
  auto k = cat(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO && assigned_in_unicode8(c);
}
bool is_other(char32_t c) {
  auto k = cat(c);
  return (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
          k == UTF8PROC_CATEGORY_CO) &&
         assigned_in_unicode8(c);
}
bool is_mark_nonspacing(char32_t c) { return cat(c) == UTF8PROC_CATEGORY_MN && assigned_in_unicode8(c); }
bool is_letter(char32_t c) {
  auto k = cat(c);
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
bool is_mark(char32_t c) {
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}
bool is_decimal_number(char32_t c) { return cat(c) == UTF8PROC_CATEGORY_ND; }
bool is_letter_number(char32_t c) { return cat(c) == UTF8PROC_CATEGORY_NL; }
bool is_connector_punctuation(char32_t c) { return cat(c) == UTF8PROC_CATEGORY_PC; }
bool is_number(char32_t c) {
  auto k = cat(c);
  return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}
bool is_alphanumeric(char32_t c) { return is_letter(c) || is_number(c); }

bool is_rust_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  if (c >= 0x24B6 && c <= 0x24E9) return true;  // circled letters (So, Other_Alphabetic)
  return is_letter(c) || is_mark(c) || is_decimal_number(c) || is_letter_number(c) || is_connector_punctuation(c);
}

int to_lowercase(char32_t c, char32_t out[3]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  if (c == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

}  // namespace embed::text
