#pragma once
// The special-token files next to a tokenizer saved without tokenizer.json (tokenizer_config.json,
// special_tokens_map.json, added_tokens.json), read once for every legacy loader: vocab.txt,
// vocab.json + merges.txt and the sentencepiece models.
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "text/pipeline.hpp"

namespace embed::text {

// The JSON object in `file`; {} when the file is absent or does not hold an object (all three are optional).
nlohmann::json read_optional_json_object(const std::filesystem::path& file);

// tokenizer_config.json with special_tokens_map.json merged in, both from `dir`. Where both give a key, the
// map's value wins, as in transformers' from_pretrained.
nlohmann::json read_tokenizer_config(const std::filesystem::path& dir);

// Whether a special token's "normalized" flag is read from the file.
enum class NormalizedFlag {
  AsSaved,  // the dict's "normalized" (false for a plain string)
  Never,    // always false: the slow tokenizers split special tokens off the raw text
};

// A special token given as "text" or {"content": "text", "lstrip": ..., "rstrip": ..., "single_word": ...,
// "normalized": ...}; none for anything else.
std::optional<AddedToken> parse_special_token(const nlohmann::json& value,
                                              NormalizedFlag normalized = NormalizedFlag::AsSaved);

}  // namespace embed::text
