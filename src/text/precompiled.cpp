// Precompiled charsmap (darts-clone trie) and the two normalizers built on it.
#include "text/precompiled.hpp"

#include <algorithm>
#include <cstring>

#include <utf8proc.h>

#include "embed/error.hpp"
#include "text/tokenizer_json.hpp"
#include "text/unicode.hpp"

namespace embed::text {

// ------------------------------------------------------------------ darts-clone
namespace {
inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
inline uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
inline uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
}  // namespace

template <class OnPrefix>
void DoubleArray::walk_prefixes(std::string_view key, bool stop_at_nul, OnPrefix&& on_prefix) const {
  if (units_.empty()) return;
  std::size_t pos = 0;
  uint32_t unit = units_[pos];
  pos ^= unit_offset(unit);
  for (std::size_t i = 0; i < key.size(); ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c == 0 && stop_at_nul) return;
    pos ^= c;
    if (pos >= units_.size()) return;
    unit = units_[pos];
    if (unit_label(unit) != c) return;
    pos ^= unit_offset(unit);
    if (pos >= units_.size()) return;
    if (unit_has_leaf(unit) && !on_prefix(unit_value(units_[pos]), i + 1)) return;
  }
}

bool DoubleArray::shortest_match(std::string_view key, uint32_t& value) const {
  bool found = false;
  walk_prefixes(key, /*stop_at_nul=*/true, [&](uint32_t v, std::size_t) {
    value = v;
    found = true;
    return false;
  });
  return found;
}

bool DoubleArray::longest_match(std::string_view key, uint32_t& value, std::size_t& length) const {
  bool found = false;
  walk_prefixes(key, /*stop_at_nul=*/false, [&](uint32_t v, std::size_t len) {
    value = v;
    length = len;
    found = true;
    return true;
  });
  return found;
}

// ------------------------------------------------------------------ CharsMap
CharsMap::CharsMap(std::string_view blob, const std::string& where) {
  if (blob.size() < 4) throw Error(where + ": precompiled_charsmap is too short (" + std::to_string(blob.size()) + " bytes)");
  uint32_t trie_size = 0;
  for (int k = 0; k < 4; ++k) trie_size |= static_cast<uint32_t>(static_cast<unsigned char>(blob[k])) << (8 * k);
  if (trie_size % 4 != 0 || 4ull + trie_size > blob.size())
    throw Error(where + ": precompiled_charsmap: trie size " + std::to_string(trie_size) + " does not fit the " +
                std::to_string(blob.size()) + "-byte blob");
  std::vector<uint32_t> units(trie_size / 4);
  for (std::size_t i = 0; i < units.size(); ++i) {
    uint32_t u = 0;
    for (int k = 0; k < 4; ++k) u |= static_cast<uint32_t>(static_cast<unsigned char>(blob[4 + 4 * i + k])) << (8 * k);
    units[i] = u;
  }
  trie_ = DoubleArray(std::move(units));
  normalized_.assign(blob.substr(4 + trie_size));
  normalized_.push_back('\0');  // every value string is NUL-terminated, even a malformed last one
  for (int b = 1; b < 128; ++b) {
    char ch = static_cast<char>(b);
    ascii_mapped_[b] = shortest(std::string_view(&ch, 1)) != nullptr;
  }
}

const char* CharsMap::value_string(uint32_t v) const {
  if (v >= normalized_.size()) return nullptr;
  return normalized_.c_str() + v;
}

const char* CharsMap::shortest(std::string_view s) const {
  uint32_t v;
  if (!trie_.shortest_match(s, v)) return nullptr;
  return value_string(v);
}

std::pair<std::string_view, std::size_t> CharsMap::longest(std::string_view s) const {
  std::size_t best_len = 0;
  uint32_t best_value = 0;
  if (!trie_.longest_match(s, best_value, best_len)) return {{}, 0};
  const char* v = value_string(best_value);
  if (!v) return {{}, 0};
  return {std::string_view(v), best_len};
}

std::string base64_decode(std::string_view in, const std::string& where) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '=') break;
    if (c == '\n' || c == '\r' || c == ' ') continue;
    int v = val(c);
    if (v < 0) throw Error(where + ": invalid base64 character at position " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// ------------------------------------------------------------------ Precompiled (tokenizers)
namespace {

// Extended grapheme clusters of s (byte spans), as unicode-segmentation's graphemes(true).
std::vector<std::pair<std::size_t, std::size_t>> graphemes(std::string_view s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t i = 0, start = 0;
  utf8proc_int32_t state = 0;
  char32_t prev = 0;
  bool first = true;
  while (i < s.size()) {
    std::size_t at = i;
    char32_t c = next_char(s, i);
    if (!first && utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(c), &state)) {
      out.emplace_back(start, at);
      start = at;
    }
    first = false;
    prev = c;
  }
  if (!s.empty()) out.emplace_back(start, s.size());
  return out;
}

void push_replacement(std::vector<NormalizedString::Change>& tr, std::string_view old_part, std::string_view new_part) {
  long old_count = static_cast<long>(count_chars(old_part));
  long new_count = static_cast<long>(count_chars(new_part));
  long diff = new_count - old_count;
  for (std::size_t i = 0; i < new_part.size();) tr.push_back({next_char(new_part, i), 0});
  if (diff > 0) {
    long k = 0;
    for (auto it = tr.rbegin(); it != tr.rend() && k < diff; ++it, ++k) it->change = 1;
  } else if (diff < 0) {
    if (!tr.empty()) tr.back().change += static_cast<int>(diff);
  }
}

}  // namespace

void PrecompiledNormalizer::normalize(NormalizedString& s) const {
  const std::string& text = s.normalized();
  std::vector<NormalizedString::Change> tr;
  tr.reserve(text.size());
  bool modified = false;
  // Fast path: text without any rule hit is left as is (ASCII runs are checked char by char: an
  // ASCII char followed by an ASCII char is its own grapheme, CR LF aside).
  {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
      auto b = static_cast<unsigned char>(text[i]);
      bool next_ascii = i + 1 >= n || static_cast<unsigned char>(text[i + 1]) < 0x80;
      if (b < 0x80 && b != '\r' && next_ascii && !map_->ascii_mapped(b)) {
        ++i;
        continue;
      }
      break;
    }
    if (i == n) return;
  }
  for (auto [gs, ge] : graphemes(text)) {
    std::string_view g(text.data() + gs, ge - gs);
    if (g.size() < 6) {
      if (const char* norm = map_->shortest(g)) {
        modified = true;
        push_replacement(tr, g, norm);
        continue;
      }
    }
    for (std::size_t i = 0; i < g.size();) {
      std::size_t at = i;
      char32_t c = next_char(g, i);
      std::string_view part = g.substr(at, i - at);
      if (const char* norm = map_->shortest(part)) {
        modified = true;
        push_replacement(tr, part, norm);
      } else {
        tr.push_back({c, 0});
      }
    }
  }
  if (modified) s.transform(tr, 0);
}

std::string PrecompiledNormalizer::normalize_string(std::string_view text) const {
  std::string out;
  for (auto [gs, ge] : graphemes(text)) {
    std::string_view g(text.data() + gs, ge - gs);
    if (g.size() < 6) {
      if (const char* norm = map_->shortest(g)) {
        out += norm;
        continue;
      }
    }
    for (std::size_t i = 0; i < g.size();) {
      std::size_t at = i;
      next_char(g, i);
      std::string_view part = g.substr(at, i - at);
      if (const char* norm = map_->shortest(part)) out += norm;
      else out += part;
    }
  }
  return out;
}

std::unique_ptr<Normalizer> build_precompiled_normalizer(const JsonNode& node) {
  auto c = node.child("precompiled_charsmap");
  std::string where = node.file() + ": " + node.path() + ".precompiled_charsmap";
  std::string blob;
  if (c.value().is_string()) {
    blob = base64_decode(c.value().string(), where);
  } else if (c.value().is_array()) {  // some serializations store the raw bytes
    c.for_each([&](const JsonNode& b) {
      if (!b.value().is_integer()) b.fail(std::string("expected a byte, found ") + b.value().type_name());
      blob.push_back(static_cast<char>(b.value().integer()));
    });
  } else {
    c.fail(std::string("expected a base64 string, found ") + c.value().type_name());
  }
  if (blob.empty()) return std::make_unique<PrecompiledNormalizer>(std::make_shared<const CharsMap>());  // no rules
  return std::make_unique<PrecompiledNormalizer>(std::make_shared<const CharsMap>(blob, where));
}

// ------------------------------------------------------------------ sentencepiece Normalizer
SpmNormalizer::SpmNormalizer(std::shared_ptr<const CharsMap> map, SpmNormalizerSpec spec, std::vector<std::string> user_defined)
    : map_(std::move(map)), spec_(spec), user_defined_(std::move(user_defined)) {
  std::stable_sort(user_defined_.begin(), user_defined_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::pair<std::string_view, std::size_t> SpmNormalizer::normalize_prefix(std::string_view input) const {
  if (input.empty()) return {{}, 0};
  for (const auto& u : user_defined_)
    if (!u.empty() && input.substr(0, u.size()) == u) return {input.substr(0, u.size()), u.size()};
  if (map_) {
    auto r = map_->longest(input);
    if (r.second > 0) return r;
  }
  std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(input[0]));
  if (len > input.size()) len = 1;
  return {input.substr(0, len), len};
}

void SpmNormalizer::normalize_raw(std::string_view input, std::string& normalized, std::vector<std::size_t>& n2o) const {
  normalized.clear();
  n2o.clear();
  if (input.empty()) {
    n2o.push_back(0);
    return;
  }
  std::size_t consumed = 0;
  if (spec_.remove_extra_whitespaces) {
    while (!input.empty()) {
      auto p = normalize_prefix(input);
      if (p.first != " ") break;
      input.remove_prefix(p.second);
      consumed += p.second;
    }
  }
  if (input.empty()) {
    n2o.push_back(consumed);
    return;
  }
  static constexpr std::string_view kSpace = "\xe2\x96\x81";
  auto add_ws = [&]() {
    if (spec_.escape_whitespaces) {
      normalized.append(kSpace);
      for (std::size_t n = 0; n < kSpace.size(); ++n) n2o.push_back(consumed);
    } else {
      normalized.push_back(' ');
      n2o.push_back(consumed);
    }
  };
  if (!spec_.treat_whitespace_as_suffix && spec_.add_dummy_prefix) add_ws();
  bool is_prev_space = spec_.remove_extra_whitespaces;
  while (!input.empty()) {
    auto p = normalize_prefix(input);
    std::string_view sp = p.first;
    while (is_prev_space && !sp.empty() && sp[0] == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      for (char ch : sp) {
        if (spec_.escape_whitespaces && ch == ' ') {
          normalized.append(kSpace);
          for (std::size_t m = 0; m < kSpace.size(); ++m) n2o.push_back(consumed);
        } else {
          normalized.push_back(ch);
          n2o.push_back(consumed);
        }
      }
      is_prev_space = sp.back() == ' ';
    }
    consumed += p.second;
    input.remove_prefix(p.second);
    if (!spec_.remove_extra_whitespaces) is_prev_space = false;
  }
  if (spec_.remove_extra_whitespaces) {
    std::string_view space = spec_.escape_whitespaces ? kSpace : std::string_view(" ");
    while (normalized.size() >= space.size() &&
           std::string_view(normalized).substr(normalized.size() - space.size()) == space) {
      std::size_t length = normalized.size() - space.size();
      consumed = n2o[length];
      normalized.resize(length);
      n2o.resize(length);
    }
  }
  if (spec_.treat_whitespace_as_suffix && spec_.add_dummy_prefix) add_ws();
  n2o.push_back(consumed);
}

void SpmNormalizer::normalize(NormalizedString& s) const {
  std::string out;
  std::vector<std::size_t> n2o;
  normalize_raw(s.normalized(), out, n2o);
  // Position map of the current normalized text into this string's original.
  const auto& old = s.alignments();
  std::size_t old_len = old.size();
  std::size_t end_pos = old_len ? old[old_len - 1].second : 0;
  auto P = [&](std::size_t k) { return k < old_len ? old[k].first : end_pos; };
  std::vector<ByteSpan> al(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) al[i] = {P(n2o[i]), P(n2o[i + 1])};
  s.normalized_mut() = std::move(out);
  s.alignments() = std::move(al);
}

}  // namespace embed::text
