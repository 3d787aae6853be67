#pragma once
// The tokenizer pipeline, modelled on Hugging Face `tokenizers`:
//   added tokens -> Normalizer -> PreTokenizer -> Model -> PostProcessor   (Decoder for display)
// Every component is built from its tokenizer.json object (see tokenizer_json.cpp); the legacy
// loaders build the same components from vocab.txt / spm.model / vocab.json + merges.txt.
//
// Offsets: a NormalizedString keeps, for every byte of the normalized text, the byte span of the
// original text it came from, so tokens map back to the original input exactly as `tokenizers` does.
// As tokenizers' encode_char_offsets, token offsets become code points before post-processing
// (offset trimming counts chars); Encoding::byte_offsets are derived from them at the end.
//
// Files: normalized_string.cpp (alignments, slice, split behaviours), normalizers.cpp,
// pre_tokenizers.cpp, wordpiece.cpp, bpe.cpp, post_processors.cpp (+ truncation in pipeline.cpp),
// decoders.cpp, pipeline.cpp (added tokens, encode), tokenizer_json.cpp (factory + registration
// tables), legacy_loaders.cpp (vocab.txt, vocab.json + merges.txt), unicode*.cpp (character classes:
// BertNormalizer / punctuation use Unicode 8.0 tables like tokenizers' unicode_categories crate),
// regex.cpp (Oniguruma). Sentencepiece parts: unigram, precompiled, metaspace, sp_decoders, spm_loader.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "embed/tokenizer.hpp"

namespace embed::text {

using ByteSpan = std::pair<std::size_t, std::size_t>;  // [start, end) in bytes

// Text under normalization, aligned to the original input byte by byte.
class NormalizedString {
 public:
  NormalizedString() = default;
  explicit NormalizedString(std::string original);

  const std::string& original() const { return original_; }
  const std::string& normalized() const { return normalized_; }
  // Span of the original (in bytes of original()) that normalized bytes [start, end) came from.
  ByteSpan original_span(std::size_t start, std::size_t end) const;
  // Where this piece starts in the full input (set when a split is cut out of a larger string).
  std::size_t original_shift() const { return original_shift_; }

  // Core edit: replace the normalized text by `pieces`, each a new UTF-8 char string with a change
  // marker as in tokenizers' `transform`: change = +n inserted chars, -n removed chars, 0 replaced.
  struct CharChange {
    std::string chars;  // one Unicode scalar value, UTF-8
    int change;
  };
  void transform(const std::vector<CharChange>& changes, std::size_t initial_removed_chars);
  // The same with one code point per change (faster; no per-char strings).
  struct Change {
    char32_t c;
    int change;
  };
  void transform(const std::vector<Change>& changes, std::size_t initial_removed_chars);
  // transform() restricted to normalized bytes [start, end) (tokenizers' transform_range).
  void transform_range(std::size_t start, std::size_t end, const std::vector<Change>& changes,
                       std::size_t initial_removed_chars);

  // Span of this string's original() for normalized bytes [start, end), as tokenizers'
  // convert_offsets(Range::Normalized): an empty range is returned as is.
  std::optional<ByteSpan> convert_normalized_offsets(std::size_t start, std::size_t end) const;

  // Common edits (as in tokenizers' NormalizedString).
  void prepend(std::string_view s);
  void append(std::string_view s);
  void lowercase();
  void strip(bool left, bool right);
  template <class Keep>
  void filter(Keep keep);  // keep(char32_t) -> bool

  // Cut out normalized bytes [start, end) as a new NormalizedString (keeping alignment to the input).
  NormalizedString slice(std::size_t start, std::size_t end) const;

  bool empty() const { return normalized_.empty(); }

  // Raw access for components that rebuild the string themselves.
  std::vector<ByteSpan>& alignments() { return alignments_; }
  const std::vector<ByteSpan>& alignments() const { return alignments_; }
  std::string& normalized_mut() { return normalized_; }
  void set_original_shift(std::size_t s) { original_shift_ = s; }

 private:
  std::string original_;
  std::string normalized_;
  std::vector<ByteSpan> alignments_;  // one per byte of normalized_, spans into original_
  std::size_t original_shift_ = 0;
};

// A token produced by a model, with byte offsets into the normalized string it was run on.
struct Token {
  int32_t id;
  std::string value;
  ByteSpan offsets;
};

// One piece of pre-tokenized text; `tokens` is filled once the model has run on it.
struct Split {
  NormalizedString normalized;
  std::optional<std::vector<Token>> tokens;  // set for added tokens (matched before the model)
};

// One piece of a pattern search over a normalized string: a match or the text between matches.
struct PatternMatch {
  ByteSpan span;
  bool is_match;
};
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
// Splits `s` at the pieces of `matches` (which cover all of s.normalized() in order).
std::vector<NormalizedString> split_normalized(const NormalizedString& s, const std::vector<PatternMatch>& matches,
                                               SplitBehavior behavior);

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::vector<Split> splits) : splits_(std::move(splits)) {}
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }
  // tokenizers' PreTokenizedString::split: `fn(NormalizedString&&) -> vector<NormalizedString>` is
  // applied to every split without tokens; empty results are dropped.
  template <class Fn>
  void split(Fn fn) {
    std::vector<Split> out;
    out.reserve(splits_.size());
    for (auto& sp : splits_) {
      if (sp.tokens) {
        out.push_back(std::move(sp));
        continue;
      }
      for (auto& n : fn(std::move(sp.normalized)))
        if (!n.empty()) out.push_back(Split{std::move(n), std::nullopt});
    }
    splits_ = std::move(out);
  }
  // Applies fn(NormalizedString&) to every split without tokens.
  template <class Fn>
  void normalize(Fn fn) {
    for (auto& sp : splits_)
      if (!sp.tokens) fn(sp.normalized);
  }

 private:
  std::vector<Split> splits_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every split that has no tokens yet into smaller splits.
  virtual void pre_tokenize(PreTokenizedString& s) const = 0;
};

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Tokenizes one pre-tokenized piece; offsets are byte offsets into `sequence`.
  virtual std::vector<Token> tokenize(std::string_view sequence) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual std::size_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::size_t added_tokens(bool is_pair) const = 0;
  // Adds special tokens (when add_special_tokens) and sets type ids; `pair` may be null.
  virtual Encoding process(Encoding first, const Encoding* pair, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};

// An entry of tokenizer.json "added_tokens".
struct AddedToken {
  int32_t id;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

// The assembled tokenizer. Built once, then const.
class TokenizerPipeline {
 public:
  std::vector<AddedToken> added_tokens;
  std::unique_ptr<Normalizer> normalizer;        // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;   // may be null
  std::unique_ptr<TokenModel> model;             // never null
  std::unique_ptr<PostProcessor> post_processor; // may be null
  std::unique_ptr<Decoder> decoder;              // may be null
  // Truncation from tokenizer.json (informational; TokenizeOptions decides what is applied).
  std::optional<TruncationOptions> default_truncation;
  // Pair truncation as the slow transformers tokenizers do it (set by the sentencepiece loader, whose
  // reference is the slow tokenizer): longest_first drops one token at a time from the longer
  // sequence, from the second one on ties (tokenizers splits the budget in halves instead).
  bool slow_pair_truncation = false;

  Encoding encode(std::string_view text, const TokenizeOptions& options) const;
  Encoding encode_pair(std::string_view a, std::string_view b, const TokenizeOptions& options) const;

  // Call once after filling the members: builds the added-token matchers (needs the normalizer).
  void finalize();
  std::optional<int32_t> token_to_id(std::string_view token) const;  // added tokens first, then model
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special_id(int32_t id) const;

  // The ids/tokens/offsets of one input before post-processing (type_id on every token).
  Encoding encode_one(std::string_view text, int32_t type_id, bool lossy_utf8) const;

  struct AddedMatcher;  // defined in pipeline.cpp

 private:
  std::shared_ptr<const AddedMatcher> matcher_;  // set by finalize()
};

// Truncates as tokenizers' truncate_encodings (max_length already net of special tokens).
// slow_pair: see TokenizerPipeline::slow_pair_truncation.
void truncate_encodings(Encoding& first, Encoding* pair, const TruncationOptions& options, bool slow_pair = false);
// Converts the byte_offsets of `e` to code point offsets of `text` for tokens whose sequence id is `seq`.
void fill_char_offsets(Encoding& e, std::string_view text, int32_t seq);
// The reverse: byte_offsets from the code point offsets.
void fill_byte_offsets(Encoding& e, std::string_view text, int32_t seq);

template <class Keep>
void NormalizedString::filter(Keep keep) {
  // Decode, walk backwards, mark removed counts on the kept char before them (tokenizers' filter).
  std::vector<char32_t> chars;
  chars.reserve(normalized_.size());
  for (std::size_t i = 0; i < normalized_.size();) {
    unsigned char b = static_cast<unsigned char>(normalized_[i]);
    char32_t c;
    std::size_t n;
    if (b < 0x80) { c = b; n = 1; }
    else if (b < 0xE0) { c = b & 0x1F; n = 2; }
    else if (b < 0xF0) { c = b & 0x0F; n = 3; }
    else { c = b & 0x07; n = 4; }
    for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(normalized_[i + k]) & 0x3F);
    chars.push_back(c);
    i += n;
  }
  bool any_removed = false;
  std::vector<Change> rev;
  rev.reserve(chars.size());
  int removed = 0;
  for (std::size_t k = chars.size(); k-- > 0;) {
    if (keep(chars[k])) {
      rev.push_back(Change{chars[k], -removed});
      removed = 0;
    } else {
      ++removed;
      any_removed = true;
    }
  }
  if (!any_removed) return;
  std::vector<Change> fwd(rev.rbegin(), rev.rend());
  transform(fwd, static_cast<std::size_t>(removed));
}

}  // namespace embed::text
