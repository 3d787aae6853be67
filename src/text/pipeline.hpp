#pragma once
// The tokenizer pipeline, modelled on Hugging Face `tokenizers`:
//   added tokens -> Normalizer -> PreTokenizer -> Model -> PostProcessor   (Decoder for display)
// Every component is built from its tokenizer.json object (see tokenizer_json.cpp); the legacy
// loaders build the same components from vocab.txt / spm.model / vocab.json + merges.txt.
//
// Offsets: a NormalizedString keeps, for every byte of the normalized text, the byte span of the
// original text it came from, so tokens map back to the original input exactly as `tokenizers` does.
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

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::vector<Split> splits) : splits_(std::move(splits)) {}
  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

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

  Encoding encode(std::string_view text, const TokenizeOptions& options) const;
  Encoding encode_pair(std::string_view a, std::string_view b, const TokenizeOptions& options) const;
};

}  // namespace embed::text
