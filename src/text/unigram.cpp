// Unigram model: tokenizers' models/unigram (encode_optimized) and sentencepiece 0.1.97's
// unigram_model.cc Model::Encode (the same lattice-free Viterbi, f32 scores, spm piece types).
#include "text/unigram.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>

#include "embed/error.hpp"
#include "text/tokenizer_json.hpp"
#include "text/unicode.hpp"

namespace embed::text {

namespace {
constexpr double kUnkPenalty = 10.0;
}

// ------------------------------------------------------------------ PieceTrie
void PieceTrie::build(const std::vector<std::pair<std::string_view, int32_t>>& keys, bool last_wins) {
  // Sorted keys; a node covers a range of keys sharing its prefix. Nodes are laid out breadth-first
  // so that every node's children are contiguous. The keys are copied into one pool to be sorted, then into
  // another in sorted order, so that the sort and the walk read compact memory rather than the pieces'
  // scattered strings.
  std::size_t bytes = 0;
  for (const auto& key : keys) bytes += key.first.size();
  std::string pool;
  pool.reserve(bytes);  // no reallocation below: the views stay valid
  std::vector<std::pair<std::string_view, int32_t>> sorted;
  sorted.reserve(keys.size());
  for (const auto& [text, id] : keys) {
    sorted.emplace_back(std::string_view(pool.data() + pool.size(), text.size()), id);
    pool.append(text);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string sorted_pool;  // the keys again, now in sorted order: the walk reads them front to back
  sorted_pool.reserve(bytes);
  for (auto& key : sorted) {
    const std::size_t at = sorted_pool.size();
    sorted_pool.append(key.first);
    key.first = std::string_view(sorted_pool.data() + at, key.first.size());
  }
  nodes_.clear();
  labels_.clear();
  targets_.clear();
  dense_.clear();
  struct Range {
    std::size_t lo, hi, depth;
  };
  std::vector<Range> ranges;  // ranges[i] belongs to nodes_[i]
  nodes_.push_back(Node{});
  ranges.push_back(Range{0, sorted.size(), 0});
  for (std::size_t ni = 0; ni < nodes_.size(); ++ni) {
    Range r = ranges[ni];
    std::size_t lo = r.lo;
    // keys ending exactly here (equal keys are adjacent; stable order keeps input order)
    while (lo < r.hi && sorted[lo].first.size() == r.depth) {
      if (nodes_[ni].value < 0 || last_wins) nodes_[ni].value = sorted[lo].second;
      ++lo;
    }
    nodes_[ni].first = static_cast<uint32_t>(labels_.size());
    uint32_t count = 0;
    while (lo < r.hi) {
      auto c = static_cast<unsigned char>(sorted[lo].first[r.depth]);
      std::size_t hi = lo;
      while (hi < r.hi && static_cast<unsigned char>(sorted[hi].first[r.depth]) == c) ++hi;
      labels_.push_back(c);
      targets_.push_back(static_cast<uint32_t>(nodes_.size()));
      nodes_.push_back(Node{});
      ranges.push_back(Range{lo, hi, r.depth + 1});
      ++count;
      lo = hi;
    }
    nodes_[ni].count = count;
    if (count > 8) {
      nodes_[ni].dense = static_cast<uint32_t>(dense_.size());
      dense_.resize(dense_.size() + 256, UINT32_MAX);
      for (uint32_t k = nodes_[ni].first; k < nodes_[ni].first + count; ++k) dense_[nodes_[ni].dense + labels_[k]] = targets_[k];
    }
  }
}

// ------------------------------------------------------------------ UnigramModel
UnigramModel::UnigramModel(std::vector<UnigramPiece> pieces, Options options, const std::string& where)
    : pieces_(std::move(pieces)), opt_(std::move(options)) {
  if (opt_.unk_id && (*opt_.unk_id < 0 || static_cast<std::size_t>(*opt_.unk_id) >= pieces_.size()))
    throw Error(where + ": unk_id " + std::to_string(*opt_.unk_id) + " is outside the vocabulary of " +
                std::to_string(pieces_.size()) + " pieces");
  std::vector<std::pair<std::string_view, int32_t>> keys, all;  // views into pieces_: the trie's, every piece
  keys.reserve(pieces_.size());
  all.reserve(pieces_.size());
  min_score_ = opt_.spm ? FLT_MAX : INFINITY;
  max_score_ = opt_.spm ? FLT_MIN : -INFINITY;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const auto& p = pieces_[i];
    int32_t id = static_cast<int32_t>(i);
    all.emplace_back(p.piece, id);
    if (opt_.spm) {
      bool normal = p.type == PieceType::Normal || p.type == PieceType::UserDefined || p.type == PieceType::Unused;
      if (normal && !p.piece.empty()) keys.emplace_back(p.piece, id);
      if (p.type == PieceType::Normal) {
        min_score_ = std::min(min_score_, static_cast<double>(static_cast<float>(p.score)));
        max_score_ = std::max(max_score_, static_cast<double>(static_cast<float>(p.score)));
      }
    } else {
      if (!p.piece.empty()) keys.emplace_back(p.piece, id);
      min_score_ = std::min(min_score_, p.score);
    }
  }
  // A duplicate piece keeps its first id in sentencepiece, its last in tokenizers (a HashMap insert).
  trie_.build(keys, /*last_wins=*/!opt_.spm);
  piece_to_index_.build(all, /*last_wins=*/!opt_.spm);
  for (int b = 0; b < 256; ++b) {
    static const char* hx = "0123456789ABCDEF";
    std::string name = std::string("<0x") + hx[b >> 4] + hx[b & 15] + ">";
    byte_index_[b] = piece_to_index_.find(name);
    if (opt_.spm && byte_index_[b] >= 0 && pieces_[static_cast<std::size_t>(byte_index_[b])].type != PieceType::Byte)
      byte_index_[b] = -1;
  }
}

std::vector<UnigramModel::Segment> UnigramModel::viterbi(std::string_view s) const {
  std::vector<Segment> out;
  const std::size_t size = s.size();
  if (size == 0) return out;
  struct Node {
    int32_t index = -1;
    double score = 0;
    std::size_t starts_at = SIZE_MAX;
  };
  std::vector<Node> best(size + 1);
  if (opt_.spm) {
    const float unk_score = static_cast<float>(min_score_) - static_cast<float>(kUnkPenalty);
    const float max_score = static_cast<float>(max_score_);
    std::vector<float> fscore(size + 1, 0.0f);
    std::size_t pos = 0;
    while (pos < size) {
      const float till_here = fscore[pos];
      bool has_single = false;
      std::size_t mblen = std::min(utf8_len_from_lead(static_cast<unsigned char>(s[pos])), size - pos);
      trie_.common_prefix(s.substr(pos), [&](std::size_t len, int32_t idx) {
        const auto& p = pieces_[static_cast<std::size_t>(idx)];
        if (p.type == PieceType::Unused) return;
        // As in sentencepiece: the score is a double (the user-defined branch makes the conditional
        // double), so the candidate is an exact double sum compared with the stored float.
        double score = p.type == PieceType::UserDefined ? static_cast<double>(static_cast<float>(len) * max_score) - 0.1
                                                         : static_cast<double>(static_cast<float>(p.score));
        double cand = score + static_cast<double>(till_here);
        Node& t = best[pos + len];
        if (t.starts_at == SIZE_MAX || cand > static_cast<double>(fscore[pos + len])) {
          fscore[pos + len] = static_cast<float>(cand);
          t.starts_at = pos;
          t.index = idx;
        }
        if (!has_single && len == mblen) has_single = true;
      });
      if (!has_single) {
        Node& t = best[pos + mblen];
        float cand = unk_score + till_here;
        if (t.starts_at == SIZE_MAX || cand > fscore[pos + mblen]) {
          fscore[pos + mblen] = cand;
          t.starts_at = pos;
          t.index = -1;
        }
      }
      pos += mblen;
    }
  } else {
    const double unk_score = min_score_ - kUnkPenalty;
    std::size_t pos = 0;
    while (pos < size) {
      const double till_here = best[pos].score;
      bool has_single = false;
      std::size_t mblen = std::min(utf8_len_from_lead(static_cast<unsigned char>(s[pos])), size - pos);
      trie_.common_prefix(s.substr(pos), [&](std::size_t len, int32_t idx) {
        double cand = pieces_[static_cast<std::size_t>(idx)].score + till_here;
        Node& t = best[pos + len];
        if (t.starts_at == SIZE_MAX || cand > t.score) {
          t.score = cand;
          t.starts_at = pos;
          t.index = idx;
        }
        if (!has_single && len == mblen) has_single = true;
      });
      if (!has_single) {
        Node& t = best[pos + mblen];
        double cand = unk_score + till_here;
        if (t.starts_at == SIZE_MAX || cand > t.score) {
          t.score = cand;
          t.starts_at = pos;
          t.index = -1;
        }
      }
      pos += mblen;
    }
  }
  std::size_t end = size;
  while (end > 0) {
    const Node& n = best[end];
    if (n.starts_at == SIZE_MAX) throw Error("unigram: no segmentation (internal error)");
    out.push_back(Segment{n.index, n.starts_at, end});
    end = n.starts_at;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Token> UnigramModel::tokenize(std::string_view s) const {
  std::vector<Token> out;
  if (s.empty()) return out;
  auto segs = viterbi(s);
  static const char* hx = "0123456789ABCDEF";
  auto byte_name = [](unsigned char b) { return std::string("<0x") + hx[b >> 4] + hx[b & 15] + ">"; };
  if (opt_.spm) {
    if (!opt_.byte_fallback) {
      // sentencepiece merges runs of unknown pieces into one (still unknown) piece.
      std::vector<Segment> merged;
      for (const auto& g : segs) {
        if (g.index < 0 && !merged.empty() && merged.back().index < 0) merged.back().end = g.end;
        else merged.push_back(g);
      }
      segs = std::move(merged);
    }
    for (const auto& g : segs) {
      std::string_view w = s.substr(g.start, g.end - g.start);
      if (g.index >= 0) {
        out.push_back(Token{g.index, std::string(w), {g.start, g.end}});
        continue;
      }
      if (opt_.byte_fallback) {
        for (std::size_t k = 0; k < w.size(); ++k) {
          auto b = static_cast<unsigned char>(w[k]);
          int32_t id = byte_index_[b];
          if (id < 0) {
            if (!opt_.unk_id) throw Error("unigram: byte piece " + byte_name(b) + " is missing and there is no unk piece");
            id = *opt_.unk_id;
          }
          out.push_back(Token{id, byte_name(b), {g.start + k, g.start + k + 1}});
        }
        continue;
      }
      if (!opt_.unk_id) throw Error("unigram: the text has a character outside the vocabulary and the model has no unk piece");
      out.push_back(Token{*opt_.unk_id, std::string(w), {g.start, g.end}});
    }
    return out;
  }
  // tokenizers: fuse runs of unknowns, then look every string up again.
  std::vector<std::pair<std::size_t, std::size_t>> strs;
  auto is_unk = [&](int32_t idx) { return idx < 0 || (opt_.unk_id && idx == *opt_.unk_id); };
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (opt_.unk_id && i > 0 && is_unk(segs[i].index) && is_unk(segs[i - 1].index)) {
      strs.back().second = segs[i].end;
      continue;
    }
    strs.emplace_back(segs[i].start, segs[i].end);
  }
  for (auto [a, b] : strs) {
    std::string w(s.substr(a, b - a));
    if (const int32_t id = piece_to_index_.find(w); id >= 0) {
      out.push_back(Token{id, std::move(w), {a, b}});
      continue;
    }
    if (opt_.byte_fallback) {
      bool all = true;
      for (char ch : w)
        if (byte_index_[static_cast<unsigned char>(ch)] < 0) all = false;
      if (all) {
        for (char ch : w) {
          auto c = static_cast<unsigned char>(ch);
          out.push_back(Token{byte_index_[c], byte_name(c), {a, b}});
        }
        continue;
      }
    }
    if (!opt_.unk_id) throw Error("unigram: the text has a character outside the vocabulary and the model has no unk_id");
    out.push_back(Token{*opt_.unk_id, std::move(w), {a, b}});
  }
  return out;
}

std::optional<int32_t> UnigramModel::token_to_id(std::string_view token) const {
  const int32_t id = piece_to_index_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) return std::nullopt;
  return pieces_[static_cast<std::size_t>(id)].piece;
}

std::unique_ptr<TokenModel> build_unigram_model(const JsonNode& n) {
  auto v = n.child("vocab");
  if (v.size() == 0) v.fail("the Unigram vocabulary is empty");
  // A piece's id is its position: each must fit an int32 (tokenizers: u32).
  if (v.size() - 1 > static_cast<std::size_t>(kMaxTokenId))
    v.fail(std::to_string(v.size()) + " pieces: ids would pass " + std::to_string(kMaxTokenId));
  std::vector<UnigramPiece> pieces;
  pieces.reserve(v.size());
  v.value().for_each([&](io::JsonValue e) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
      v.at(pieces.size()).fail("expected [\"piece\", score]");
    pieces.push_back(UnigramPiece{std::string(e[0].string()), e[1].number(), PieceType::Normal});
  });
  UnigramModel::Options o;
  if (n.has("unk_id")) {
    int64_t u = n.get_int("unk_id");
    if (u < 0 || static_cast<std::size_t>(u) >= pieces.size())
      n.child("unk_id").fail("unk_id " + std::to_string(u) + " is outside the vocabulary of " + std::to_string(pieces.size()) + " pieces");
    o.unk_id = static_cast<int32_t>(u);
  }
  o.byte_fallback = n.get_bool("byte_fallback", false);
  return std::make_unique<UnigramModel>(std::move(pieces), o, n.file() + ": " + n.path());
}

}  // namespace embed::text
