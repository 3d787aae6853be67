// TokenizerPipeline: added tokens -> normalizer -> pre-tokenizer -> model -> truncation ->
// post-processor, as tokenizers' TokenizerImpl::encode (AddedVocabulary::extract_and_normalize).
#include <algorithm>

#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/pipeline.hpp"
#include "text/unicode.hpp"

namespace embed::text {

// Leftmost-longest matching of added-token contents (aho-corasick MatchKind::LeftmostLongest).
struct TokenizerPipeline::AddedMatcher {
  struct Entry {
    std::string pattern;
    std::size_t token;  // index into added_tokens
  };
  struct Set {
    std::vector<std::vector<Entry>> by_first_byte = std::vector<std::vector<Entry>>(256);
    bool empty = true;
    void add(std::string pattern, std::size_t token) {
      if (pattern.empty()) return;
      auto& v = by_first_byte[static_cast<unsigned char>(pattern[0])];
      v.push_back(Entry{std::move(pattern), token});
      std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.pattern.size() > b.pattern.size(); });
      empty = false;
    }
    // Longest entry matching at position i.
    const Entry* match_at(std::string_view s, std::size_t i) const {
      for (const auto& e : by_first_byte[static_cast<unsigned char>(s[i])])
        if (s.size() - i >= e.pattern.size() && s.compare(i, e.pattern.size(), e.pattern) == 0) return &e;
      return nullptr;
    }
  };
  Set raw, normalized;
  std::unordered_map<std::string, int32_t> content_to_id;
  std::unordered_map<int32_t, std::size_t> id_to_index;
};

void TokenizerPipeline::finalize() {
  auto m = std::make_shared<AddedMatcher>();
  for (std::size_t i = 0; i < added_tokens.size(); ++i) {
    const auto& t = added_tokens[i];
    m->content_to_id[t.content] = t.id;
    m->id_to_index[t.id] = i;
    if (t.normalized) {
      std::string content = t.content;
      if (normalizer) {
        NormalizedString ns(content);
        normalizer->normalize(ns);
        content = ns.normalized();
      }
      m->normalized.add(content, i);
    } else {
      m->raw.add(t.content, i);
    }
  }
  matcher_ = m;
}

std::optional<int32_t> TokenizerPipeline::token_to_id(std::string_view token) const {
  if (matcher_) {
    auto it = matcher_->content_to_id.find(std::string(token));
    if (it != matcher_->content_to_id.end()) return it->second;
  }
  return model->token_to_id(token);
}

std::optional<std::string> TokenizerPipeline::id_to_token(int32_t id) const {
  if (matcher_) {
    auto it = matcher_->id_to_index.find(id);
    if (it != matcher_->id_to_index.end()) return added_tokens[it->second].content;
  }
  return model->id_to_token(id);
}

bool TokenizerPipeline::is_special_id(int32_t id) const {
  if (!matcher_) return false;
  auto it = matcher_->id_to_index.find(id);
  return it != matcher_->id_to_index.end() && added_tokens[it->second].special;
}

namespace {

bool is_word_char(char32_t c) { return is_rust_word_char(c); }

char32_t last_char(std::string_view s) {
  std::size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return next_char(s, b);
}

struct FoundMatch {
  std::optional<std::size_t> token;
  ByteSpan span;
};

}  // namespace

// Splits `ns` at added-token matches of `set` (tokenizers' split_with_indices).
static std::vector<Split> split_added(const std::vector<AddedToken>& tokens, const TokenizerPipeline::AddedMatcher::Set& set,
                                      NormalizedString&& ns) {
  std::vector<Split> out;
  const std::string& s = ns.normalized();
  if (set.empty || s.empty()) {
    out.push_back(Split{std::move(ns), std::nullopt});
    return out;
  }
  std::vector<FoundMatch> found;
  std::size_t start_offset = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto* e = set.match_at(s, i);
    if (!e) {
      ++i;
      continue;
    }
    std::size_t start = i, stop = i + e->pattern.size();
    i = stop;  // non-overlapping iteration continues after this match
    const AddedToken& t = tokens[e->token];
    if (t.single_word) {
      bool start_space = start == 0 || !is_word_char(last_char(std::string_view(s).substr(0, start)));
      bool stop_space = stop == s.size() || [&] {
        std::size_t k = stop;
        return !is_word_char(next_char(s, k));
      }();
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      std::size_t left = start;
      while (left > 0) {
        std::size_t b = left - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        std::size_t k = b;
        if (!is_whitespace(next_char(s, k))) break;
        left = b;
      }
      start = std::max(left, start_offset);
    }
    if (t.rstrip) {
      std::size_t k = stop;
      while (k < s.size()) {
        std::size_t b = k;
        if (!is_whitespace(next_char(s, k))) {
          k = b;
          break;
        }
      }
      stop = k;
      i = std::max(i, stop);
    }
    if (start_offset < start) found.push_back(FoundMatch{std::nullopt, {start_offset, start}});
    found.push_back(FoundMatch{e->token, {start, stop}});
    start_offset = stop;
  }
  if (start_offset != s.size()) found.push_back(FoundMatch{std::nullopt, {start_offset, s.size()}});
  for (const auto& f : found) {
    NormalizedString piece = ns.slice(f.span.first, f.span.second);
    if (f.token) {
      std::string value = piece.normalized();
      std::size_t len = value.size();
      std::vector<Token> tk{Token{tokens[*f.token].id, std::move(value), {0, len}}};
      out.push_back(Split{std::move(piece), std::move(tk)});
    } else {
      out.push_back(Split{std::move(piece), std::nullopt});
    }
  }
  return out;
}

Encoding TokenizerPipeline::encode_one(std::string_view text, int32_t type_id, bool lossy_utf8) const {
  std::string input;
  if (auto bad = find_invalid_utf8(text)) {
    if (!lossy_utf8)
      throw Error("invalid UTF-8 in the input text at byte " + std::to_string(*bad) + " (byte value 0x" +
                  [&] {
                    const char* hx = "0123456789ABCDEF";
                    unsigned char b = static_cast<unsigned char>(text[*bad]);
                    return std::string{hx[b >> 4], hx[b & 15]};
                  }() +
                  ")");
    input = utf8_lossy(text);
  } else {
    input.assign(text);
  }
  if (!matcher_) throw Error("tokenizer pipeline used before finalize()");

  std::vector<Split> splits;
  std::string lossy_copy;
  std::string_view original_text = text;
  if (input.size() != text.size() || input != text) {
    lossy_copy = input;
    original_text = lossy_copy;
  }
  {
    NormalizedString whole(std::move(input));
    // 1. added tokens that are matched on the raw text
    auto first = split_added(added_tokens, matcher_->raw, std::move(whole));
    // 2. normalize the rest, then match the normalized added tokens
    for (auto& sp : first) {
      if (sp.tokens) {
        if (!sp.normalized.empty()) splits.push_back(std::move(sp));
        continue;
      }
      if (normalizer) normalizer->normalize(sp.normalized);
      for (auto& s2 : split_added(added_tokens, matcher_->normalized, std::move(sp.normalized)))
        if (!s2.normalized.empty()) splits.push_back(std::move(s2));
    }
  }
  PreTokenizedString pts(std::move(splits));
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(pts);

  Encoding e;
  for (auto& sp : pts.splits()) {
    std::vector<Token> toks = sp.tokens ? std::move(*sp.tokens) : model->tokenize(sp.normalized.normalized());
    std::size_t shift = sp.normalized.original_shift();
    for (auto& t : toks) {
      auto r = sp.normalized.convert_normalized_offsets(t.offsets.first, t.offsets.second);
      ByteSpan off = r ? ByteSpan{shift + r->first, shift + r->second} : t.offsets;
      e.ids.push_back(t.id);
      e.tokens.push_back(std::move(t.value));
      e.byte_offsets.push_back(off);
    }
  }
  std::size_t n = e.ids.size();
  e.type_ids.assign(n, type_id);
  e.attention_mask.assign(n, 1);
  e.special_tokens_mask.assign(n, 0);
  e.sequence_ids.assign(n, 0);
  // tokenizers' encode_char_offsets: offsets become code points before post-processing (so offset
  // trimming counts chars); byte offsets are derived from them at the end.
  fill_char_offsets(e, original_text, 0);
  return e;
}

void truncate_one(Encoding& e, std::size_t max_len, TruncationDirection dir) {
  if (e.ids.size() <= max_len) return;
  auto cut = [&](auto& v) {
    if (dir == TruncationDirection::Right) v.resize(max_len);
    else v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - max_len));
  };
  cut(e.ids);
  cut(e.tokens);
  cut(e.offsets);
  cut(e.byte_offsets);
  cut(e.type_ids);
  cut(e.attention_mask);
  cut(e.special_tokens_mask);
  cut(e.sequence_ids);
  e.truncated = true;
}

void truncate_encodings(Encoding& first, Encoding* pair, const TruncationOptions& o, bool slow_pair) {
  if (o.max_length == 0) {
    truncate_one(first, 0, o.direction);
    if (pair) truncate_one(*pair, 0, o.direction);
    return;
  }
  std::size_t total = first.ids.size() + (pair ? pair->ids.size() : 0);
  if (total <= o.max_length) return;
  std::size_t to_remove = total - o.max_length;
  switch (o.strategy) {
    case TruncationStrategy::LongestFirst:
      if (pair && slow_pair) {
        // transformers' truncate_sequences (slow tokenizers): one token at a time from the longer.
        std::size_t n1 = first.ids.size(), n2 = pair->ids.size();
        for (std::size_t k = 0; k < to_remove; ++k) {
          if (n1 > n2) --n1;
          else if (n2 > 0) --n2;
        }
        truncate_one(first, n1, o.direction);
        truncate_one(*pair, n2, o.direction);
      } else if (pair) {
        std::size_t n1 = first.ids.size(), n2 = pair->ids.size();
        bool swap = false;
        if (n1 > n2) {
          swap = true;
          std::swap(n1, n2);
        }
        if (n1 > o.max_length) n2 = n1;
        else n2 = std::max(n1, o.max_length - n1);
        if (n1 + n2 > o.max_length) {
          n1 = o.max_length / 2;
          n2 = n1 + o.max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        truncate_one(first, n1, o.direction);
        truncate_one(*pair, n2, o.direction);
      } else {
        truncate_one(first, total - to_remove, o.direction);
      }
      break;
    case TruncationStrategy::OnlyFirst:
    case TruncationStrategy::OnlySecond: {
      Encoding* target = o.strategy == TruncationStrategy::OnlyFirst ? &first : pair;
      if (!target) throw Error("truncation only_second: the second sequence is not provided");
      std::size_t len = target->ids.size();
      if (len > to_remove) truncate_one(*target, len - to_remove, o.direction);
      else
        throw Error("truncation: the sequence to truncate has " + std::to_string(len) + " tokens but " +
                    std::to_string(to_remove) + " must be removed; use longest_first or a larger max_length");
      break;
    }
  }
}

void fill_char_offsets(Encoding& e, std::string_view text, int32_t seq) {
  // tokenizers' BytesToCharOffsetConverter: byte index -> index of the char containing it.
  std::vector<uint32_t> map(text.size());
  uint32_t ci = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(text[i]));
    for (std::size_t k = 0; k < len && i + k < text.size(); ++k) map[i + k] = ci;
    i += len;
    ++ci;
  }
  e.offsets.resize(e.byte_offsets.size());
  for (std::size_t i = 0; i < e.byte_offsets.size(); ++i) {
    if (e.sequence_ids[i] != seq) continue;
    auto [s, t] = e.byte_offsets[i];
    if (s < map.size() && t < map.size()) {
      e.offsets[i] = {map[s], map[t]};
    } else if (s < map.size()) {
      std::size_t last = (t >= 1 && t - 1 < map.size()) ? map[t - 1] : map[s];
      e.offsets[i] = {map[s], last + 1};
    } else {
      e.offsets[i] = {s, t};
    }
  }
}

void fill_byte_offsets(Encoding& e, std::string_view text, int32_t seq) {
  // char index -> byte index (the char count maps to the byte length)
  std::vector<std::size_t> pos;
  pos.reserve(text.size() + 1);
  for (std::size_t i = 0; i < text.size();) {
    pos.push_back(i);
    i += utf8_len_from_lead(static_cast<unsigned char>(text[i]));
  }
  pos.push_back(text.size());
  e.byte_offsets.resize(e.offsets.size());
  for (std::size_t i = 0; i < e.offsets.size(); ++i) {
    if (e.sequence_ids[i] != seq) continue;
    auto [s, t] = e.offsets[i];
    e.byte_offsets[i] = {s < pos.size() ? pos[s] : s, t < pos.size() ? pos[t] : t};
  }
}

static Encoding post_process(const TokenizerPipeline& p, Encoding a, std::optional<Encoding> b,
                             const TokenizeOptions& options) {
  if (options.truncation) {
    TruncationOptions t = *options.truncation;
    std::size_t added = p.post_processor ? p.post_processor->added_tokens(b.has_value()) : 0;
    bool apply = true;
    if (options.add_special_tokens && added > 0) {
      // tokenizers computes max_length - added in usize: below the number of special tokens it wraps
      // around and nothing is truncated. Keep that observable behaviour.
      if (t.max_length < added) apply = false;
      else t.max_length -= added;
    }
    if (apply) truncate_encodings(a, b ? &*b : nullptr, t, p.slow_pair_truncation);
  }
  if (p.post_processor) return p.post_processor->process(std::move(a), b ? &*b : nullptr, options.add_special_tokens);
  return default_process(std::move(a), b ? &*b : nullptr);
}

Encoding TokenizerPipeline::encode(std::string_view text, const TokenizeOptions& options) const {
  std::string lossy;
  if (options.lossy_utf8 && find_invalid_utf8(text)) {
    lossy = utf8_lossy(text);
    text = lossy;
  }
  Encoding e = post_process(*this, encode_one(text, 0, options.lossy_utf8), std::nullopt, options);
  fill_byte_offsets(e, text, 0);
  return e;
}

Encoding TokenizerPipeline::encode_pair(std::string_view a, std::string_view b, const TokenizeOptions& options) const {
  std::string la, lb;
  if (options.lossy_utf8 && find_invalid_utf8(a)) {
    la = utf8_lossy(a);
    a = la;
  }
  if (options.lossy_utf8 && find_invalid_utf8(b)) {
    lb = utf8_lossy(b);
    b = lb;
  }
  Encoding ea = encode_one(a, 0, options.lossy_utf8);
  Encoding eb = encode_one(b, 1, options.lossy_utf8);
  ea.sequence_ids.assign(ea.ids.size(), 0);
  eb.sequence_ids.assign(eb.ids.size(), 1);
  Encoding e = post_process(*this, std::move(ea), std::move(eb), options);
  fill_byte_offsets(e, a, 0);
  fill_byte_offsets(e, b, 1);
  return e;
}

}  // namespace embed::text
