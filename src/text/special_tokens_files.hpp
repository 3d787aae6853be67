#pragma once
// The special-token files next to a tokenizer saved without tokenizer.json (tokenizer_config.json,
// special_tokens_map.json, added_tokens.json), read once for every legacy loader: vocab.txt,
// vocab.json + merges.txt and the sentencepiece models. Every read is typed: a field of the wrong type is an
// embed::Error naming the file and the field (never nlohmann's type_error, never silently the default).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "text/pipeline.hpp"

namespace embed::text {

// The JSON object in `file`; {} when the file is absent (all three are optional). Anything but an object is an
// error naming the file.
nlohmann::json read_optional_json_object(const std::filesystem::path& file);

// added_tokens.json of `dir`: {token: id}, each id an integer in [0, 2^31); {} when the file is absent.
std::map<std::string, int32_t> read_added_tokens_json(const std::filesystem::path& dir);

// Whether a special token's "normalized" flag is read from the file.
enum class NormalizedFlag {
  AsSaved,  // the dict's "normalized" (false for a plain string)
  Never,    // always false: the slow tokenizers split special tokens off the raw text
};

// tokenizer_config.json with special_tokens_map.json merged in, both from one directory. Where both give a key,
// the map's value wins, as in transformers' from_pretrained; errors name the file the field came from.
class TokenizerConfig {
 public:
  explicit TokenizerConfig(const std::filesystem::path& dir);

  bool has(const std::string& key) const;  // present and not null
  const nlohmann::json& raw() const { return config_; }
  const std::string& file_of(const std::string& key) const;
  // "<file>: field '<key>': <message>"
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  // Absent: fallback. null is an error too: transformers passes None on, where it means false, not the default.
  bool get_bool(const std::string& key, bool fallback) const;
  std::optional<bool> get_optional_bool(const std::string& key) const;  // absent or null: none
  std::string get_string(const std::string& key, const std::string& fallback) const;  // absent or null: fallback
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;

  // A special token field ("cls_token" ...): "text" or {"content": "text", "lstrip": ...}; none when absent
  // or null.
  std::optional<AddedToken> special_token(const std::string& key,
                                          NormalizedFlag normalized = NormalizedFlag::AsSaved) const;
  // Whether the field is given as a plain string (not an AddedToken dict).
  bool is_plain_string(const std::string& key) const;
  // "additional_special_tokens" (absent or null: none): each token and whether it was a plain string.
  std::vector<std::pair<AddedToken, bool>> additional_special_tokens(NormalizedFlag normalized) const;
  // "added_tokens_decoder" {"id": {"content": ...}}, ids checked; none when absent or null.
  std::optional<std::vector<AddedToken>> added_tokens_decoder() const;

 private:
  nlohmann::json config_;
  std::string config_file_, map_file_;
  std::map<std::string, bool> from_map_;  // the keys special_tokens_map.json gave
};

}  // namespace embed::text
