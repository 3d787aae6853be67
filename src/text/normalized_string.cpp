// NormalizedString: normalized text with a byte-exact alignment to the original input, following
// tokenizers' normalizer.rs (transform_range, slice, convert_offsets, split).
#include <algorithm>

#include "embed/error.hpp"
#include "text/pipeline.hpp"
#include "text/unicode.hpp"

namespace embed::text {

NormalizedString::NormalizedString(std::string original) : original_(std::move(original)), normalized_(original_) {
  alignments_.resize(original_.size());
  std::size_t i = 0, n = original_.size();
  while (i < n) {
    std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(original_[i]));
    if (i + len > n) len = n - i;
    for (std::size_t k = 0; k < len; ++k) alignments_[i + k] = {i, i + len};
    i += len;
  }
}

ByteSpan NormalizedString::original_span(std::size_t start, std::size_t end) const {
  auto r = convert_normalized_offsets(start, end);
  return r ? *r : ByteSpan{start, end};
}

std::optional<ByteSpan> NormalizedString::convert_normalized_offsets(std::size_t start, std::size_t end) const {
  if (start == end) return ByteSpan{start, end};
  if (start > end) return std::nullopt;
  if (end > alignments_.size()) return std::nullopt;
  return ByteSpan{alignments_[start].first, alignments_[end - 1].second};
}

void NormalizedString::transform(const std::vector<CharChange>& changes, std::size_t initial_removed_chars) {
  std::vector<Change> cs;
  cs.reserve(changes.size());
  for (const auto& ch : changes) {
    std::size_t i = 0;
    if (ch.chars.empty()) continue;
    cs.push_back(Change{next_char(ch.chars, i), ch.change});
  }
  transform_range(0, normalized_.size(), cs, initial_removed_chars);
}

void NormalizedString::transform(const std::vector<Change>& changes, std::size_t initial_removed_chars) {
  transform_range(0, normalized_.size(), changes, initial_removed_chars);
}

void NormalizedString::transform_range(std::size_t start, std::size_t end, const std::vector<Change>& changes,
                                       std::size_t initial_removed_chars) {
  // Byte position (in normalized_) walking the replaced range char by char.
  std::size_t pos = start;
  auto skip_char = [&]() -> std::size_t {
    if (pos >= end) return 0;
    std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(normalized_[pos]));
    pos += len;
    return len;
  };
  for (std::size_t k = 0; k < initial_removed_chars; ++k) skip_char();
  std::size_t offset = pos;
  std::string out;
  out.reserve(end - start + changes.size());
  std::vector<ByteSpan> aligns;
  aligns.reserve(end - start + changes.size());
  for (const auto& ch : changes) {
    ByteSpan align;
    if (ch.change > 0) {
      align = offset < 1 ? ByteSpan{0, 0} : alignments_[offset - 1];
    } else {
      align = offset < alignments_.size() ? alignments_[offset] : (offset ? alignments_[offset - 1] : ByteSpan{0, 0});
    }
    std::size_t replaced = 0;
    if (ch.change <= 0) replaced = skip_char();
    std::size_t removed = 0;
    if (ch.change < 0)
      for (int r = 0; r < -ch.change; ++r) removed += skip_char();
    offset += replaced + removed;
    std::size_t before = out.size();
    append_utf8(out, ch.c);
    aligns.insert(aligns.end(), out.size() - before, align);
  }
  normalized_.replace(start, end - start, out);
  alignments_.erase(alignments_.begin() + static_cast<std::ptrdiff_t>(start),
                    alignments_.begin() + static_cast<std::ptrdiff_t>(end));
  alignments_.insert(alignments_.begin() + static_cast<std::ptrdiff_t>(start), aligns.begin(), aligns.end());
}

NormalizedString NormalizedString::slice(std::size_t start, std::size_t end) const {
  NormalizedString r;
  ByteSpan orig;
  if (start == end) {
    // tokenizers returns the (empty) normalized range itself as the original range.
    orig = {start, end};
    if (orig.second > original_.size()) orig = {original_.size(), original_.size()};
  } else {
    orig = {alignments_[start].first, alignments_[end - 1].second};
  }
  r.original_ = original_.substr(orig.first, orig.second - orig.first);
  r.normalized_ = normalized_.substr(start, end - start);
  r.alignments_.reserve(end - start);
  for (std::size_t i = start; i < end; ++i)
    r.alignments_.push_back({alignments_[i].first - orig.first, alignments_[i].second - orig.first});
  r.original_shift_ = original_shift_ + orig.first;
  return r;
}

void NormalizedString::prepend(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  std::size_t i = 0;
  char32_t next = next_char(normalized_, i);
  std::vector<Change> cs;
  std::size_t k = 0;
  bool first = true;
  while (k < s.size()) {
    cs.push_back(Change{next_char(s, k), first ? 0 : 1});
    first = false;
  }
  cs.push_back(Change{next, 1});
  transform_range(0, i, cs, 0);
}

void NormalizedString::append(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  std::size_t b = normalized_.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(normalized_[b]) & 0xC0) == 0x80) --b;
  std::size_t i = b;
  char32_t prev = next_char(normalized_, i);
  std::vector<Change> cs{Change{prev, 0}};
  std::size_t k = 0;
  while (k < s.size()) cs.push_back(Change{next_char(s, k), 1});
  transform_range(b, normalized_.size(), cs, 0);
}

void NormalizedString::lowercase() {
  // Fast path: a char whose lowercase has the same UTF-8 length is rewritten in place (the
  // alignments of a same-size 1:1 replacement do not change).
  std::size_t i = 0, n = normalized_.size();
  bool need_transform = false;
  std::string out;
  out.reserve(n);
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(normalized_[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    std::size_t st = i;
    char32_t c = next_char(normalized_, i);
    char32_t lc[3];
    int m = to_lowercase(c, lc);
    if (m != 1 || utf8_len(lc[0]) != i - st) {
      need_transform = true;
      break;
    }
    append_utf8(out, lc[0]);
  }
  if (!need_transform) {
    normalized_ = std::move(out);
    return;
  }
  std::vector<Change> cs;
  cs.reserve(n);
  i = 0;
  while (i < n) {
    char32_t c = next_char(normalized_, i);
    char32_t lc[3];
    int m = to_lowercase(c, lc);
    for (int k = 0; k < m; ++k) cs.push_back(Change{lc[k], k > 0 ? 1 : 0});
  }
  transform(cs, 0);
}

void NormalizedString::strip(bool left, bool right) {
  std::vector<char32_t> chars;
  for (std::size_t i = 0; i < normalized_.size();) chars.push_back(next_char(normalized_, i));
  std::size_t lead = 0, trail = 0;
  if (left)
    while (lead < chars.size() && is_whitespace(chars[lead])) ++lead;
  if (right)
    while (trail < chars.size() && is_whitespace(chars[chars.size() - 1 - trail])) ++trail;
  if (lead == 0 && trail == 0) return;
  std::vector<Change> cs;
  std::size_t len = chars.size();
  for (std::size_t i = 0; i < len; ++i) {
    if (i < lead || i + trail >= len) continue;
    if (i + trail + 1 == len) cs.push_back(Change{chars[i], -static_cast<int>(trail)});
    else cs.push_back(Change{chars[i], 0});
  }
  transform(cs, lead);
}

std::vector<NormalizedString> split_normalized(const NormalizedString& s, const std::vector<PatternMatch>& matches,
                                               SplitBehavior behavior) {
  struct Piece {
    ByteSpan span;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& m : matches) pieces.push_back({m.span, false});
      break;
    case SplitBehavior::Removed:
      for (const auto& m : matches) pieces.push_back({m.span, m.is_match});
      break;
    case SplitBehavior::Contiguous: {
      bool prev = false;
      for (const auto& m : matches) {
        if (m.is_match == prev && !pieces.empty()) pieces.back().span.second = m.span.second;
        else pieces.push_back({m.span, false});
        prev = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool prev = false;
      for (const auto& m : matches) {
        if (m.is_match && !prev && !pieces.empty()) pieces.back().span.second = m.span.second;
        else pieces.push_back({m.span, false});
        prev = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool prev = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !prev && !pieces.empty()) pieces.back().span.first = it->span.first;
        else pieces.push_back({it->span, false});
        prev = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  std::vector<NormalizedString> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces)
    if (!p.remove) out.push_back(s.slice(p.span.first, p.span.second));
  return out;
}

}  // namespace embed::text
