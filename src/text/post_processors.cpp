// Post-processors (tokenizers' processors/*.rs): special tokens, type ids, sequence ids, offsets.
#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

void append_encoding(Encoding& d, const Encoding& s) {
  d.ids.insert(d.ids.end(), s.ids.begin(), s.ids.end());
  d.tokens.insert(d.tokens.end(), s.tokens.begin(), s.tokens.end());
  d.offsets.insert(d.offsets.end(), s.offsets.begin(), s.offsets.end());
  d.byte_offsets.insert(d.byte_offsets.end(), s.byte_offsets.begin(), s.byte_offsets.end());
  d.type_ids.insert(d.type_ids.end(), s.type_ids.begin(), s.type_ids.end());
  d.attention_mask.insert(d.attention_mask.end(), s.attention_mask.begin(), s.attention_mask.end());
  d.special_tokens_mask.insert(d.special_tokens_mask.end(), s.special_tokens_mask.begin(), s.special_tokens_mask.end());
  d.sequence_ids.insert(d.sequence_ids.end(), s.sequence_ids.begin(), s.sequence_ids.end());
  d.truncated = d.truncated || s.truncated;
}

namespace {
void push_special(Encoding& e, int32_t id, const std::string& token, int32_t type_id) {
  e.ids.push_back(id);
  e.tokens.push_back(token);
  e.offsets.push_back({0, 0});
  e.byte_offsets.push_back({0, 0});
  e.type_ids.push_back(type_id);
  e.attention_mask.push_back(1);
  e.special_tokens_mask.push_back(1);
  e.sequence_ids.push_back(-1);
}
void set_seq(Encoding& e, int32_t seq) { e.sequence_ids.assign(e.ids.size(), seq); }
void set_type(Encoding& e, int32_t t) { e.type_ids.assign(e.ids.size(), t); }
// cls, the first sequence (sequence id 0), sep, all of token type 0: how BertProcessing and
// RobertaProcessing both begin. cls / sep: (token, id).
Encoding cls_first_sep(Encoding& first, const std::pair<std::string, int32_t>& cls,
                       const std::pair<std::string, int32_t>& sep) {
  Encoding out;
  set_seq(first, 0);
  set_type(first, 0);
  push_special(out, cls.second, cls.first, 0);
  append_encoding(out, first);
  push_special(out, sep.second, sep.first, 0);
  return out;
}
}  // namespace

Encoding default_process(Encoding first, const Encoding* pair) {
  if (!pair) return first;
  set_seq(first, 0);
  Encoding p = *pair;
  set_seq(p, 1);
  append_encoding(first, p);
  return first;
}

Encoding BertProcessing::process(Encoding first, const Encoding* pair, bool add_special) const {
  if (!add_special) return default_process(std::move(first), pair);
  Encoding out = cls_first_sep(first, cls_, sep_);
  if (pair) {
    Encoding p = *pair;
    set_seq(p, 1);
    set_type(p, 1);
    append_encoding(out, p);
    push_special(out, sep_.second, sep_.first, 1);
  }
  out.truncated = first.truncated || (pair && pair->truncated);
  return out;
}

Encoding RobertaProcessing::process(Encoding first, const Encoding* pair, bool add_special) const {
  Encoding p2;
  if (pair) p2 = *pair;
  if (trim_offsets_) {
    byte_level_trim_offsets(first, add_prefix_space_);
    if (pair) byte_level_trim_offsets(p2, add_prefix_space_);
  }
  if (!add_special) {
    // tokenizers' RobertaProcessing gives every token type id 0, special tokens or not.
    set_type(first, 0);
    if (pair) set_type(p2, 0);
    return default_process(std::move(first), pair ? &p2 : nullptr);
  }
  Encoding out = cls_first_sep(first, cls_, sep_);
  if (pair) {
    set_seq(p2, 1);
    set_type(p2, 0);
    push_special(out, sep_.second, sep_.first, 0);
    append_encoding(out, p2);
    push_special(out, sep_.second, sep_.first, 0);
  }
  out.truncated = first.truncated || (pair && pair->truncated);
  return out;
}

TemplateProcessing::TemplateProcessing(std::vector<Piece> single, std::vector<Piece> pair,
                                       std::map<std::string, SpecialTokens> specials)
    : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

std::size_t TemplateProcessing::added_tokens(bool is_pair) const {
  std::size_t n = 0;
  for (const auto& p : is_pair ? pair_ : single_)
    if (p.is_special) n += specials_.at(p.id).ids.size();
  return n;
}

Encoding TemplateProcessing::process(Encoding first, const Encoding* pair, bool add_special) const {
  const auto& tpl = pair ? pair_ : single_;
  Encoding out;
  for (const auto& piece : tpl) {
    if (piece.is_special) {
      if (!add_special) continue;
      const auto& st = specials_.at(piece.id);
      for (std::size_t k = 0; k < st.ids.size(); ++k) push_special(out, st.ids[k], st.tokens[k], piece.type_id);
    } else {
      bool is_b = piece.id == "B";
      if (is_b && !pair) continue;
      Encoding e = is_b ? *pair : first;
      set_seq(e, is_b ? 1 : 0);
      set_type(e, piece.type_id);
      append_encoding(out, e);
    }
  }
  out.truncated = first.truncated || (pair && pair->truncated);
  return out;
}

Encoding ByteLevelProcessing::process(Encoding first, const Encoding* pair, bool) const {
  Encoding p2;
  if (pair) p2 = *pair;
  if (trim_offsets_) {
    byte_level_trim_offsets(first, add_prefix_space_);
    if (pair) byte_level_trim_offsets(p2, add_prefix_space_);
  }
  return default_process(std::move(first), pair ? &p2 : nullptr);
}

std::size_t SequenceProcessing::added_tokens(bool is_pair) const {
  std::size_t n = 0;
  for (const auto& p : items_) n += p->added_tokens(is_pair);
  return n;
}

Encoding SequenceProcessing::process(Encoding first, const Encoding* pair, bool add_special) const {
  // tokenizers runs each processor over the list of encodings; processors that merge (template,
  // bert, roberta) end the chain with one encoding. Approximation: trimming processors first.
  Encoding a = std::move(first);
  std::optional<Encoding> b;
  if (pair) b = *pair;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const auto* bl = dynamic_cast<const ByteLevelProcessing*>(items_[i].get());
    if (bl && i + 1 < items_.size()) {
      Encoding t = bl->process(a, nullptr, add_special);
      a = std::move(t);
      if (b) *b = bl->process(*b, nullptr, add_special);
      continue;
    }
    if (i + 1 < items_.size()) throw Error("post_processor Sequence: only ByteLevel may come before the last processor");
    return items_[i]->process(std::move(a), b ? &*b : nullptr, add_special);
  }
  return default_process(std::move(a), b ? &*b : nullptr);
}

void byte_level_trim_offsets(Encoding& e, bool add_prefix_space) {
  const char32_t space = bytes_to_unicode()[' '];
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    const std::string& tok = e.tokens[i];
    std::vector<char32_t> chars;
    for (std::size_t k = 0; k < tok.size();) chars.push_back(next_char(tok, k));
    auto is_sp = [&](char32_t c) { return c == space || is_whitespace(c); };
    std::size_t leading = 0, trailing = 0;
    while (leading < chars.size() && is_sp(chars[leading])) ++leading;
    while (trailing < chars.size() && is_sp(chars[chars.size() - 1 - trailing])) ++trailing;
    auto& off = e.offsets[i];  // code points, as tokenizers' encode_char_offsets
    if (leading > 0 || trailing > 0) {
      if (leading > 0) {
        bool is_first = i == 0 || off.first == 0;
        if (is_first && add_prefix_space && leading == 1) leading = 0;
        off.first = std::min(off.first + leading, off.second);
      }
      if (trailing > 0 && off.second >= trailing) off.second = std::max(off.second - trailing, off.first);
    }
  }
}

}  // namespace embed::text
