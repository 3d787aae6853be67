// WordPiece model (tokenizers' models/wordpiece).
#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

WordPieceModel::WordPieceModel(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars,
                               std::string where)
    : vocab_(vocab),
      unk_(std::move(unk_token)),
      prefix_(std::move(prefix)),
      max_chars_(max_chars),
      where_(std::move(where)) {
  std::vector<std::pair<std::string_view, int32_t>> conts;  // views of the vocabulary's keys
  for (const auto& [t, id] : vocab) {
    max_token_bytes_ = std::max(max_token_bytes_, t.size());
    if (id >= 0 && std::string_view(t).substr(0, prefix_.size()) == prefix_)
      conts.emplace_back(std::string_view(t).substr(prefix_.size()), id);
  }
  continuations_.build(conts);
  unk_id_ = vocab_.token_to_id(unk_);
}

std::vector<Token> WordPieceModel::tokenize(std::string_view seq) const {
  std::vector<Token> out;
  auto unk = [&]() {
    // Checked here, not when loading: like tokenizers, a vocabulary without it works until a word needs it.
    if (!unk_id_)
      throw Error(where_ + ": WordPiece unknown token \"" + unk_ + "\" is not in the vocabulary (" +
                  std::to_string(vocab_.size()) + " entries); a word with no split into vocabulary entries needs it");
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
    const FlatStringTable& table = start == 0 ? vocab_.ids() : continuations_;
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

std::optional<int32_t> WordPieceModel::token_to_id(std::string_view token) const { return vocab_.token_to_id(token); }

std::optional<std::string> WordPieceModel::id_to_token(int32_t id) const { return vocab_.id_to_token(id); }

}  // namespace embed::text
