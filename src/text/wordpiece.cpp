// WordPiece model (tokenizers' models/wordpiece).
#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

WordPieceModel::WordPieceModel(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars)
    : vocab_size_(vocab.size()), unk_(std::move(unk_token)), prefix_(std::move(prefix)), max_chars_(max_chars) {
  int32_t max_id = -1;
  for (const auto& [t, id] : vocab) {
    max_id = std::max(max_id, id);
    max_token_bytes_ = std::max(max_token_bytes_, t.size());
  }
  std::vector<std::pair<std::string_view, int32_t>> words, conts;  // views of the vocabulary's keys
  words.reserve(vocab.size());
  vocab_r_.resize(static_cast<std::size_t>(max_id + 1));
  for (const auto& [t, id] : vocab) {
    if (id < 0) continue;
    vocab_r_[static_cast<std::size_t>(id)] = t;
    words.emplace_back(t, id);
    if (std::string_view(t).substr(0, prefix_.size()) == prefix_) conts.emplace_back(std::string_view(t).substr(prefix_.size()), id);
  }
  words_.build(words);
  continuations_.build(conts);
  if (auto id = words_.find(unk_); id >= 0) unk_id_ = id;
}

void FlatStringTable::build(const std::vector<std::pair<std::string_view, int32_t>>& entries, bool last_wins) {
  std::size_t cap = 16;
  while (cap < entries.size() * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  pool_.clear();
  std::size_t bytes = 0;
  for (const auto& entry : entries) bytes += entry.first.size();
  pool_.reserve(bytes);
  for (const auto& [k, id] : entries) {
    if (id < 0) continue;
    uint64_t h = hash(k);
    const auto tag = static_cast<uint32_t>(h >> 32);
    std::size_t i = static_cast<std::size_t>(h) & mask_;
    for (; slots_[i].id >= 0; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == tag && s.len == k.size() && std::memcmp(pool_.data() + s.off, k.data(), k.size()) == 0) break;
    }
    if (slots_[i].id >= 0) {  // a repeated key
      if (last_wins) slots_[i].id = id;
      continue;
    }
    slots_[i] = Slot{tag, id, static_cast<uint32_t>(pool_.size()), static_cast<uint32_t>(k.size())};
    pool_ += k;
  }
}

std::vector<Token> WordPieceModel::tokenize(std::string_view seq) const {
  std::vector<Token> out;
  auto unk = [&]() {
    if (!unk_id_) throw Error("WordPiece: unknown token \"" + unk_ + "\" is not in the vocabulary");
    return std::vector<Token>{Token{*unk_id_, unk_, {0, seq.size()}}};
  };
  if (count_chars(seq) > max_chars_) return unk();
  std::size_t start = 0;
  while (start < seq.size()) {
    std::size_t end = seq.size();
    // No vocabulary entry is longer than max_token_bytes_.
    std::size_t limit = start + max_token_bytes_;
    if (end > limit) {
      end = limit;
      while (end > start && (static_cast<unsigned char>(seq[end]) & 0xC0) == 0x80) --end;
    }
    const FlatStringTable& table = start == 0 ? words_ : continuations_;
    int32_t id = -1;
    while (start < end) {
      id = table.find(seq.substr(start, end - start));
      if (id >= 0) break;
      --end;  // step back one char
      while (end > start && (static_cast<unsigned char>(seq[end]) & 0xC0) == 0x80) --end;
    }
    if (id < 0) return unk();
    std::string value;
    if (start > 0) {
      value.reserve(prefix_.size() + (end - start));
      value = prefix_;
    }
    value.append(seq.substr(start, end - start));
    out.push_back(Token{id, std::move(value), {start, end}});
    start = end;
  }
  return out;
}

std::optional<int32_t> WordPieceModel::token_to_id(std::string_view token) const {
  const int32_t id = words_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> WordPieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_r_.size()) return std::nullopt;
  return vocab_r_[static_cast<std::size_t>(id)];
}

}  // namespace embed::text
