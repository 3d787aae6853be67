#pragma once
// Unigram language-model tokenizer (sentencepiece "unigram"): Viterbi over piece log-probabilities.
//
// Two behaviours, chosen by Options::spm:
//  * false (tokenizer.json "Unigram", tokenizers' models/unigram): every vocab entry is matchable,
//    scores summed in f64, unknown chars score min(score) - 10, runs of unknown chars fused into one
//    token, byte_fallback gives <0xXX> pieces that all carry the span of the unknown text.
//  * true (sentencepiece 0.1.97 itself, for the spm.model loader): only NORMAL / USER_DEFINED / UNUSED
//    pieces are matchable (UNUSED are skipped), user-defined pieces score len * max_score - 0.1,
//    sums in f32, min/max over NORMAL pieces, no fusing; byte_fallback <0xXX> pieces get per-byte
//    spans (with SpmNormalizer alignments, only the last byte carries the char's original span).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/components.hpp"
#include "text/pipeline.hpp"

namespace embed::text {

class JsonNode;

// sentencepiece ModelProto.SentencePiece.Type
enum class PieceType : int { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Byte = 6, Unused = 5 };

struct UnigramPiece {
  std::string piece;
  double score = 0.0;
  PieceType type = PieceType::Normal;
};

// A byte trie over the pieces: every match starting at a position, shortest first.
class PieceTrie {
 public:
  PieceTrie() = default;
  // A key given twice keeps its first value, or its last with last_wins.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& keys, bool last_wins = false);
  // Calls fn(length, value) for each key that is a prefix of s, shortest first.
  template <class Fn>
  void common_prefix(std::string_view s, Fn fn) const {
    uint32_t node = 0;
    if (nodes_.empty()) return;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const Node& n = nodes_[node];
      auto c = static_cast<unsigned char>(s[i]);
      uint32_t next = UINT32_MAX;
      if (n.dense != UINT32_MAX) {
        next = dense_[n.dense + c];
      } else {
        for (uint32_t k = n.first; k < n.first + n.count; ++k)
          if (labels_[k] == c) {
            next = targets_[k];
            break;
          }
      }
      if (next == UINT32_MAX) return;
      node = next;
      if (nodes_[node].value >= 0) fn(i + 1, nodes_[node].value);
    }
  }

 private:
  struct Node {
    int32_t value = -1;
    uint32_t first = 0, count = 0;
    uint32_t dense = UINT32_MAX;  // nodes with many children: index of a 256-entry table in dense_
  };
  std::vector<Node> nodes_;
  std::vector<uint32_t> dense_;
  std::vector<unsigned char> labels_;
  std::vector<uint32_t> targets_;
};

class UnigramModel : public TokenModel {
 public:
  struct Options {
    std::optional<int32_t> unk_id;
    bool byte_fallback = false;
    bool spm = false;  // sentencepiece behaviour (see the top of this file)
  };
  // Throws embed::Error(where + ...) on a bad vocab (duplicate pieces are allowed: the first wins).
  UnigramModel(std::vector<UnigramPiece> pieces, Options options, const std::string& where = "unigram");

  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(int32_t id) const override;
  std::size_t vocab_size() const override { return pieces_.size(); }

  // Best segmentation as (piece index or -1 for unknown, byte start, byte end), before byte fallback.
  struct Segment {
    int32_t index;
    std::size_t start, end;
  };
  std::vector<Segment> viterbi(std::string_view s) const;

 private:
  std::vector<UnigramPiece> pieces_;
  Options opt_;
  FlatStringTable piece_to_index_;  // every piece
  PieceTrie trie_;
  double min_score_ = 0.0, max_score_ = 0.0;
  int32_t byte_index_[256];
};

// tokenizer.json {"type": "Unigram", "unk_id": n, "vocab": [[piece, score], ...], "byte_fallback": b}
std::unique_ptr<TokenModel> build_unigram_model(const JsonNode& node);

}  // namespace embed::text
