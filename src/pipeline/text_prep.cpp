#include "pipeline/text_prep.hpp"

#include <utf8proc.h>

namespace embed::pipeline {

namespace {

bool python_isspace(int32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D: case 0x1E: case 0x1F:
    case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

// Decodes one code point at s[i]; returns its byte length (1 for invalid bytes, which are kept).
std::size_t decode_at(std::string_view s, std::size_t i, int32_t& c) {
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                        static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  if (n <= 0) {
    c = -1;
    return 1;
  }
  return static_cast<std::size_t>(n);
}

}  // namespace

std::string python_strip(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end) {
    int32_t c;
    std::size_t n = decode_at(text, begin, c);
    if (!python_isspace(c)) break;
    begin += n;
  }
  // Walk forward to find the end of the last non-space code point.
  std::size_t last_end = begin;
  for (std::size_t i = begin; i < end;) {
    int32_t c;
    std::size_t n = decode_at(text, i, c);
    i += n;
    if (!python_isspace(c)) last_end = i;
  }
  return std::string(text.substr(begin, last_end - begin));
}

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    int32_t c;
    std::size_t n = decode_at(text, i, c);
    if (c < 0) {
      out.append(text.substr(i, n));
    } else {
      utf8proc_uint8_t buf[4];
      utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(c), buf);
      out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(m));
    }
    i += n;
  }
  return out;
}

}  // namespace embed::pipeline
