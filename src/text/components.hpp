#pragma once
// The tokenizer.json components implemented here (sentencepiece ones live in their own files).
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/pipeline.hpp"
#include "text/regex.hpp"

namespace embed::text {

// ---------- normalizers ----------
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, std::optional<bool> strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(handle_chinese_chars), strip_accents_(strip_accents), lowercase_(lowercase) {}
  void normalize(NormalizedString& s) const override;

 private:
  bool clean_text_, chinese_;
  std::optional<bool> strip_accents_;
  bool lowercase_;
};

enum class UnicodeForm { NFC, NFD, NFKC, NFKD };
void unicode_normalize(NormalizedString& s, UnicodeForm form);
void strip_nonspacing_marks(NormalizedString& s);  // Mn (BertNormalizer)
void strip_combining_marks(NormalizedString& s);   // M* (StripAccents normalizer)

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm f) : form_(f) {}
  void normalize(NormalizedString& s) const override { unicode_normalize(s, form_); }

 private:
  UnicodeForm form_;
};
class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { strip_combining_marks(s); }
};
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_, right_;
};
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void normalize(NormalizedString& s) const override { s.prepend(prepend_); }

 private:
  std::string prepend_;
};
// A string-or-regex pattern as in tokenizer.json {"String": ...} / {"Regex": ...}.
struct TextPattern {
  std::string literal;
  std::shared_ptr<Regex> regex;  // null: literal
  std::vector<PatternMatch> find_matches(std::string_view text) const {
    return regex ? regex->find_matches(text) : find_literal_matches(text, literal);
  }
};
// tokenizers' NormalizedString::replace.
void replace_pattern(NormalizedString& s, const TextPattern& pattern, const std::string& content);
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(TextPattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override { replace_pattern(s, pattern_, content_); }

 private:
  TextPattern pattern_;
  std::string content_;
};
// tokenizers' Nmt normalizer: drops some control chars, maps others (and zero-width/separators) to ' '.
class NmtNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};
// tokenizers' ByteLevel normalizer: every byte becomes its GPT-2 byte-level char.
class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};
class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> n) : items_(std::move(n)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& n : items_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

// ---------- pre-tokenizers ----------
class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override;
};
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  WhitespacePreTokenizer();
  void pre_tokenize(PreTokenizedString& s) const override;
};
class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& s) const override;
};
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  bool add_prefix_space_, use_regex_;
  std::shared_ptr<Regex> re_;
};
class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior b) : behavior_(b) {}
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  SplitBehavior behavior_;
};
class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  bool individual_;
};
class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(TextPattern p, SplitBehavior b, bool invert) : pattern_(std::move(p)), behavior_(b), invert_(invert) {}
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  TextPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};
class CharDelimiterSplitPreTokenizer : public PreTokenizer {
 public:
  explicit CharDelimiterSplitPreTokenizer(char32_t d) : delimiter_(d) {}
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  char32_t delimiter_;
};
// tokenizers' byte-level mapping of every byte of each split (ByteLevel pre-tokenizer, normalizer).
void byte_level_map(NormalizedString& n);
class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> p) : items_(std::move(p)) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    for (const auto& p : items_) p->pre_tokenize(s);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

// GPT-2 byte <-> unicode char map.
const char32_t* bytes_to_unicode();         // 256 entries
int unicode_to_byte(char32_t c);            // -1 if not in the map

// ---------- models ----------
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Open-addressing string -> id table with one contiguous string pool (fast lookups for hot loops).
class FlatStringTable {
 public:
  // A key given twice keeps its first id, or its last with last_wins.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries, bool last_wins = false);
  int32_t find(std::string_view key) const {  // -1 if absent
    if (slots_.empty()) return -1;
    return slots_[probe(key, hash(key))].id;  // an empty slot's id is -1
  }
  static uint64_t hash(std::string_view k) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ k.size();
    for (unsigned char c : k) h = (h ^ c) * 0x100000001B3ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return h;
  }

 private:
  struct Slot {
    uint32_t tag = 0;
    int32_t id = -1;
    uint32_t off = 0;
    uint32_t len = 0;
  };
  // The slot holding `key` (hash h), or the empty slot where it would go.
  std::size_t probe(std::string_view key, uint64_t h) const {
    const auto tag = static_cast<uint32_t>(h >> 32);
    std::size_t i = static_cast<std::size_t>(h) & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return i;
      if (s.tag == tag && s.len == key.size() && std::memcmp(pool_.data() + s.off, key.data(), key.size()) == 0) return i;
    }
  }
  std::vector<Slot> slots_;
  std::string pool_;
  std::size_t mask_ = 0;
};

// Token ids are int32 here; tokenizers reads them as u32. Ids read from files must be in [0, kMaxTokenId].
constexpr int64_t kMaxTokenId = std::numeric_limits<int32_t>::max();
inline bool is_valid_token_id(int64_t id) { return id >= 0 && id <= kMaxTokenId; }

// A {token: id} vocabulary indexed both ways: token -> id in a FlatStringTable, id -> token in a vector
// (what WordPiece and BPE keep of it; negative ids are dropped). Ids may leave gaps (tokenizers allows it);
// a vocabulary whose largest id is far above its size goes into a hash map instead, so one stray id cannot
// make the table gigabytes.
class VocabIndex {
 public:
  explicit VocabIndex(const Vocab& vocab);
  const FlatStringTable& ids() const { return ids_; }
  std::optional<int32_t> token_to_id(std::string_view token) const {
    const int32_t id = ids_.find(token);
    if (id < 0) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(int32_t id) const {
    if (id < 0) return std::nullopt;
    if (!sparse_.empty()) {
      auto it = sparse_.find(id);
      return it == sparse_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    if (static_cast<std::size_t>(id) >= tokens_.size()) return std::nullopt;
    return tokens_[static_cast<std::size_t>(id)];
  }
  const std::string& token(int32_t id) const {  // a valid id
    return sparse_.empty() ? tokens_[static_cast<std::size_t>(id)] : sparse_.at(id);
  }
  std::size_t size() const { return size_; }  // the vocabulary's entries

 private:
  std::size_t size_;
  FlatStringTable ids_;
  std::vector<std::string> tokens_;                  // "" for an id no token has (dense ids)
  std::unordered_map<int32_t, std::string> sparse_;  // instead of tokens_ when the ids are sparse
};

// BPE merges: the pair of token ids (a, b) -> (rank, id of the merged token). Open addressing over one
// array: a lookup is one cache line, where std::unordered_map's node chase cost a miss per merge lookup (3
// lookups per merge while loading, one per adjacent pair while tokenizing).
class MergeTable {
 public:
  struct Merge {
    int32_t rank, id;
  };
  void reserve(std::size_t count);
  void insert_or_assign(int32_t a, int32_t b, Merge merge);
  const Merge* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(a, b);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // no pair of valid ids (>= 0) packs to this
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  std::size_t slot_of(uint64_t key) const {  // splitmix64's finalizer: consecutive ids spread over the table
    key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9ull;
    key = (key ^ (key >> 27)) * 0x94D049BB133111EBull;
    return static_cast<std::size_t>(key ^ (key >> 31)) & mask_;
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0, size_ = 0;
};

class WordPieceModel : public TokenModel {
 public:
  // where: the file (and field) the vocabulary came from, for errors.
  WordPieceModel(Vocab vocab, std::string unk_token, std::string prefix, std::size_t max_chars, std::string where);
  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(int32_t id) const override;
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  VocabIndex vocab_;
  std::string unk_, prefix_;
  std::size_t max_chars_;
  std::string where_;
  std::optional<int32_t> unk_id_;
  std::size_t max_token_bytes_ = 0;
  FlatStringTable continuations_;  // entries starting with the prefix, keyed without it
};

class BpeModel : public TokenModel {
 public:
  struct Options {
    std::optional<std::string> unk_token;
    std::string continuing_subword_prefix;  // empty: none
    std::string end_of_word_suffix;         // empty: none
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
  };
  // merges: pairs of token strings, rank = position.
  BpeModel(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
           const std::string& where);
  std::vector<Token> tokenize(std::string_view sequence) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(int32_t id) const override;
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  struct Symbol {
    int32_t id;
    uint32_t start, len;
  };
  std::vector<Symbol> merge_word(std::string_view w) const;
  VocabIndex vocab_;
  MergeTable merges_;
  Options opt_;
  std::optional<int32_t> unk_id_;  // of opt_.unk_token, when the vocabulary has it
  // Word cache: open addressing over a fixed slot array, keys and symbols in pools (filled until
  // kCacheMaxWords words; the result is the same with or without it).
  static constexpr std::size_t kCacheSlots = 1u << 17, kCacheMaxWords = 60000;
  struct CacheSlot {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = 0, sym_off = 0, sym_count = 0;
    bool used = false;
  };
  mutable std::shared_mutex cache_mutex_;
  mutable std::vector<CacheSlot> cache_slots_;
  mutable std::string cache_keys_;
  mutable std::vector<Symbol> cache_syms_;
  mutable std::size_t cache_words_ = 0;
};

// ---------- post-processors ----------
// tokenizers' byte_level process_offsets (trims leading/trailing 'Ġ'/whitespace from offsets).
void byte_level_trim_offsets(Encoding& e, bool add_prefix_space);
// Concatenates encodings (tokenizers' Encoding::merge without growing offsets).
void append_encoding(Encoding& dst, const Encoding& src);

class BertProcessing : public PostProcessor {
 public:
  BertProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls) : sep_(std::move(sep)), cls_(std::move(cls)) {}
  std::size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const override;

 private:
  std::pair<std::string, int32_t> sep_, cls_;
};
class RobertaProcessing : public PostProcessor {
 public:
  RobertaProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls, bool trim_offsets,
                    bool add_prefix_space)
      : sep_(std::move(sep)), cls_(std::move(cls)), trim_offsets_(trim_offsets), add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const override;

 private:
  std::pair<std::string, int32_t> sep_, cls_;
  bool trim_offsets_, add_prefix_space_;
};
class TemplateProcessing : public PostProcessor {
 public:
  struct Piece {
    bool is_special;
    std::string id;  // "A"/"B" for sequences, the special token key otherwise
    int32_t type_id;
  };
  struct SpecialTokens {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
  };
  TemplateProcessing(std::vector<Piece> single, std::vector<Piece> pair, std::map<std::string, SpecialTokens> specials);
  std::size_t added_tokens(bool is_pair) const override;
  Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const override;

 private:
  std::vector<Piece> single_, pair_;
  std::map<std::string, SpecialTokens> specials_;
};
class ByteLevelProcessing : public PostProcessor {
 public:
  ByteLevelProcessing(bool trim_offsets, bool add_prefix_space) : trim_offsets_(trim_offsets), add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool) const override { return 0; }
  Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const override;

 private:
  bool trim_offsets_, add_prefix_space_;
};
class SequenceProcessing : public PostProcessor {
 public:
  explicit SequenceProcessing(std::vector<std::unique_ptr<PostProcessor>> p) : items_(std::move(p)) {}
  std::size_t added_tokens(bool is_pair) const override;
  Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const override;

 private:
  std::vector<std::unique_ptr<PostProcessor>> items_;
};
// No post-processor: sequence ids set, pair keeps its type ids, merged.
Encoding default_process(Encoding first, const Encoding* pair);

// ---------- decoders ----------
class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;

 private:
  std::string prefix_;
  bool cleanup_;
};
class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;
};
class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;

 private:
  std::string suffix_;
};
class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(TextPattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;

 private:
  TextPattern pattern_;
  std::string content_;
};
class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> d) : items_(std::move(d)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& d : items_) tokens = d->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};
std::string wordpiece_cleanup(std::string s);

}  // namespace embed::text
