#pragma once
// Small UTF-8 and Unicode-property helpers shared by the tokenizer components (utf8proc underneath).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace embed::text {

inline std::size_t utf8_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }
inline std::size_t utf8_len_from_lead(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
inline char32_t next_char(std::string_view s, std::size_t& i) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  std::size_t n = utf8_len_from_lead(b);
  char32_t c = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return c;
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}
inline std::string to_utf8(char32_t c) {
  std::string s;
  append_utf8(s, c);
  return s;
}

// Byte position of the first invalid UTF-8 sequence, if any (same rules as Rust's str::from_utf8).
std::optional<std::size_t> find_invalid_utf8(std::string_view s);
// Replaces invalid sequences by U+FFFD exactly like Rust's String::from_utf8_lossy.
std::string utf8_lossy(std::string_view s);

std::size_t count_chars(std::string_view s);

// Rust char::is_whitespace (Unicode White_Space).
inline bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}
// false for code points assigned after Unicode 8.0 (or unassigned).
bool assigned_in_unicode8(char32_t c);
// As tokenizers' unicode_categories crate (Unicode 8.0 tables; newer characters count as unassigned):
bool is_punctuation(char32_t c);  // general category P* (Pc Pd Pe Pf Pi Po Ps)
bool is_other(char32_t c);        // Cc Cf Cs Co (the crate's is_other leaves out Cn)
bool is_mark_nonspacing(char32_t c);  // Mn
bool is_letter(char32_t c);       // L*
bool is_mark(char32_t c);         // M* (Mn Mc Me)
bool is_decimal_number(char32_t c);  // Nd
bool is_letter_number(char32_t c);   // Nl
bool is_connector_punctuation(char32_t c);  // Pc
bool is_number(char32_t c);       // N*
bool is_alphanumeric(char32_t c); // Rust char::is_alphanumeric (approximated by L*, Nl, N*)
// \w of the Rust `regex` crate: Alphabetic, marks, Nd, Pc, Join_Control.
bool is_rust_word_char(char32_t c);
// Rust char::to_lowercase (full mapping; U+0130 gives two chars). Returns the number written (1 or 2).
int to_lowercase(char32_t c, char32_t out[3]);

}  // namespace embed::text
