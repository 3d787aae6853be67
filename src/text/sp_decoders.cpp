// ByteFallback, Fuse and Strip decoders.
#include "text/sp_decoders.hpp"

#include "text/tokenizer_json.hpp"
#include "text/unicode.hpp"

namespace embed::text {

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// "<0xXX>" -> byte value, else -1 (Rust: u8::from_str_radix on the two chars).
int byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  int a = hex_digit(t[3]), b = hex_digit(t[4]);
  if (a < 0 || b < 0) return -1;
  return a * 16 + b;
}
}  // namespace

std::vector<std::string> ByteFallbackDecoder::decode_chain(std::vector<std::string> tokens) const {
  std::vector<std::string> out;
  std::string bytes;
  auto flush = [&]() {
    if (bytes.empty()) return;
    if (!find_invalid_utf8(bytes)) {
      out.push_back(bytes);
    } else {
      for (std::size_t i = 0; i < bytes.size(); ++i) out.push_back("\xEF\xBF\xBD");
    }
    bytes.clear();
  };
  for (auto& t : tokens) {
    int b = byte_token(t);
    if (b >= 0) {
      bytes.push_back(static_cast<char>(b));
    } else {
      flush();
      out.push_back(std::move(t));
    }
  }
  flush();
  return out;
}

std::vector<std::string> FuseDecoder::decode_chain(std::vector<std::string> tokens) const {
  std::string all;
  for (const auto& t : tokens) all += t;
  return {all};
}

std::vector<std::string> StripDecoder::decode_chain(std::vector<std::string> tokens) const {
  for (auto& t : tokens) {
    std::vector<char32_t> chars;
    for (std::size_t i = 0; i < t.size();) chars.push_back(next_char(t, i));
    std::size_t start_cut = 0;
    for (std::size_t i = 0; i < start_ && i < chars.size(); ++i) {
      if (chars[i] == content_) start_cut = i + 1;
      else break;
    }
    std::size_t stop_cut = chars.size();
    for (std::size_t i = 0; i < stop_ && i < chars.size(); ++i) {
      std::size_t index = chars.size() - i - 1;
      if (chars[index] == content_) stop_cut = index;
      else break;
    }
    std::string s;
    for (std::size_t i = start_cut; i < stop_cut; ++i) append_utf8(s, chars[i]);
    t = std::move(s);
  }
  return tokens;
}

std::unique_ptr<Decoder> build_byte_fallback_decoder(const JsonNode&) { return std::make_unique<ByteFallbackDecoder>(); }
std::unique_ptr<Decoder> build_fuse_decoder(const JsonNode&) { return std::make_unique<FuseDecoder>(); }
std::unique_ptr<Decoder> build_strip_decoder(const JsonNode& n) {
  std::string c = n.get_string("content", " ");
  if (c.empty()) n.child("content").fail("expected one character, found an empty string");
  std::size_t i = 0;
  char32_t ch = next_char(c, i);
  if (i != c.size()) n.child("content").fail("expected one character, found \"" + c + "\"");
  int64_t start = n.get_int("start", 0), stop = n.get_int("stop", 0);
  if (start < 0 || stop < 0) n.fail("\"start\" and \"stop\" must be >= 0");
  return std::make_unique<StripDecoder>(ch, static_cast<std::size_t>(start), static_cast<std::size_t>(stop));
}

}  // namespace embed::text
