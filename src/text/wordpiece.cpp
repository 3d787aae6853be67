// WordPiece model (tokenizers' models/wordpiece).
#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

WordPieceModel::WordPieceModel(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars)
    : vocab_(std::move(vocab)), unk_(std::move(unk_token)), prefix_(std::move(prefix)), max_chars_(max_chars) {
  int32_t max_id = -1;
  for (const auto& [t, id] : vocab_) {
    max_id = std::max(max_id, id);
    max_token_bytes_ = std::max(max_token_bytes_, t.size());
  }
  vocab_r_.resize(static_cast<std::size_t>(max_id + 1));
  for (const auto& [t, id] : vocab_)
    if (id >= 0) vocab_r_[static_cast<std::size_t>(id)] = t;
  auto it = vocab_.find(unk_);
  if (it != vocab_.end()) unk_id_ = it->second;
}

std::vector<Token> WordPieceModel::tokenize(std::string_view seq) const {
  std::vector<Token> out;
  auto unk = [&]() {
    if (!unk_id_) throw Error("WordPiece: unknown token \"" + unk_ + "\" is not in the vocabulary");
    return std::vector<Token>{Token{*unk_id_, unk_, {0, seq.size()}}};
  };
  if (count_chars(seq) > max_chars_) return unk();
  std::string buf = prefix_;
  std::size_t start = 0;
  while (start < seq.size()) {
    std::size_t end = seq.size();
    // No vocabulary entry is longer than max_token_bytes_ (plus the prefix for continuations).
    std::size_t limit = start + max_token_bytes_;
    if (end > limit) {
      end = limit;
      while (end > start && (static_cast<unsigned char>(seq[end]) & 0xC0) == 0x80) --end;
    }
    bool found = false;
    while (start < end) {
      std::string_view sub = seq.substr(start, end - start);
      Vocab::const_iterator it;
      if (start > 0) {
        buf.resize(prefix_.size());
        buf.append(sub);
        it = vocab_.find(std::string_view(buf));
      } else {
        it = vocab_.find(sub);
      }
      if (it != vocab_.end()) {
        out.push_back(Token{it->second, it->first, {start, end}});
        found = true;
        break;
      }
      // step back one char
      --end;
      while (end > start && (static_cast<unsigned char>(seq[end]) & 0xC0) == 0x80) --end;
    }
    if (!found) return unk();
    start = end;
  }
  return out;
}

std::optional<int32_t> WordPieceModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> WordPieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_r_.size()) return std::nullopt;
  return vocab_r_[static_cast<std::size_t>(id)];
}

}  // namespace embed::text
