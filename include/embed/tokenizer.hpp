#pragma once
// Tokenizer: text -> ids, tokens and offsets, exactly as Hugging Face `tokenizers` computes them.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace embed {

using Offsets = std::pair<std::size_t, std::size_t>;  // [start, end)

// The result of tokenizing one text or one pair of texts.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<Offsets> offsets;       // Unicode code points of the token's own input; [0,0] for added specials
  std::vector<Offsets> byte_offsets;  // the same spans in UTF-8 bytes
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;
  std::vector<int32_t> special_tokens_mask;
  std::vector<int32_t> sequence_ids;  // 0 or 1 for the input a token came from, -1 for added specials
  bool truncated = false;             // true when truncation removed tokens
  std::size_t length() const { return ids.size(); }
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class TruncationDirection { Right, Left };

struct TruncationOptions {
  std::size_t max_length = 0;  // counts the special tokens the post-processor adds
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  TruncationDirection direction = TruncationDirection::Right;
  std::size_t stride = 0;
};

struct TokenizeOptions {
  bool add_special_tokens = true;
  std::optional<TruncationOptions> truncation;  // none: never truncate
  // Invalid UTF-8 input: false (default) throws embed::Error naming the byte position; true replaces
  // each invalid sequence with U+FFFD (as String::from_utf8_lossy) and offsets refer to that text.
  bool lossy_utf8 = false;
};

namespace text {
class TokenizerPipeline;
}

// Immutable once loaded; safe to share across threads.
class Tokenizer {
 public:
  // Loads tokenizer.json when present, else the legacy files (vocab.txt, spm.model /
  // sentencepiece.bpe.model, vocab.json + merges.txt) the way transformers' convert_slow_tokenizer does.
  static Tokenizer from_directory(const std::filesystem::path& dir);
  static Tokenizer from_tokenizer_json(const std::filesystem::path& file);

  Encoding encode(std::string_view text, const TokenizeOptions& options = {}) const;
  Encoding encode_pair(std::string_view text, std::string_view text_pair,
                       const TokenizeOptions& options = {}) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;
  // Decodes ids to text with the tokenizer's decoder (a single id shows one token as text).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  std::size_t vocab_size() const;
  // Number of special tokens the post-processor adds to a single text (pair = true: to a pair).
  std::size_t num_special_tokens_to_add(bool pair) const;

  explicit Tokenizer(std::shared_ptr<const text::TokenizerPipeline> pipeline);
  const text::TokenizerPipeline& pipeline() const { return *pipeline_; }
  // Truncation configured in tokenizer.json ("truncation"), if any.
  std::optional<TruncationOptions> default_truncation() const;

 private:
  std::shared_ptr<const text::TokenizerPipeline> pipeline_;
};

}  // namespace embed
