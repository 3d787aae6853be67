#pragma once
// Sentencepiece normalization rules ("precompiled_charsmap"): a darts-clone double-array trie over
// UTF-8 source strings whose values index a blob of NUL-terminated replacement strings.
//
// Two normalizers use it:
//  * PrecompiledNormalizer: tokenizers' `Precompiled` (tokenizer.json), which follows the Rust
//    `spm_precompiled` crate: per extended grapheme cluster (< 6 bytes) the FIRST prefix match of the
//    cluster replaces the whole cluster, else char by char.
//  * SpmNormalizer: sentencepiece's own Normalizer (spm.model loader): longest-prefix rules, heading /
//    trailing / repeated whitespace removed, dummy prefix, ' ' -> U+2581; offsets follow
//    sentencepiece's norm_to_orig (a token [s, e) maps to [n2o[s], n2o[e]) of the original).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/pipeline.hpp"

namespace embed::text {

class JsonNode;

// darts-clone double array (read-only view over 32-bit units).
class DoubleArray {
 public:
  DoubleArray() = default;
  explicit DoubleArray(std::vector<uint32_t> units) : units_(std::move(units)) {}
  // The shortest prefix of key in the trie (stops at a 0 byte, as the Rust crate).
  bool shortest_match(std::string_view key, uint32_t& value) const;
  // The longest prefix of key in the trie (darts-clone semantics: 0 bytes are ordinary labels).
  bool longest_match(std::string_view key, uint32_t& value, std::size_t& length) const;
  bool empty() const { return units_.empty(); }

 private:
  // Calls on_prefix(value, bytes) for each prefix of `key` in the trie, shortest first, until it returns
  // false. stop_at_nul: a 0 byte ends the walk (the Rust crate's rule; darts-clone, given an explicit
  // length, treats it as an ordinary label).
  template <class OnPrefix>
  void walk_prefixes(std::string_view key, bool stop_at_nul, OnPrefix&& on_prefix) const;
  std::vector<uint32_t> units_;
};

// Parsed precompiled_charsmap: <u32 LE trie size in bytes><trie units><normalized strings blob>.
class CharsMap {
 public:
  CharsMap() = default;
  // Throws embed::Error("<where>: ...") on a malformed blob.
  CharsMap(std::string_view blob, const std::string& where);
  bool empty() const { return trie_.empty(); }
  // The replacement for the shortest prefix of `s` in the map (spm_precompiled's transform).
  const char* shortest(std::string_view s) const;
  // Whether the single ASCII char b has a rule.
  bool ascii_mapped(unsigned char b) const { return b < 128 && ascii_mapped_[b]; }
  // The longest rule matching a prefix of `s` (sentencepiece's NormalizePrefix); length 0: none.
  std::pair<std::string_view, std::size_t> longest(std::string_view s) const;

 private:
  const char* value_string(uint32_t v) const;
  DoubleArray trie_;
  std::string normalized_;
  bool ascii_mapped_[128] = {};
};

std::string base64_decode(std::string_view in, const std::string& where);

class PrecompiledNormalizer : public Normalizer {
 public:
  explicit PrecompiledNormalizer(std::shared_ptr<const CharsMap> map) : map_(std::move(map)) {}
  void normalize(NormalizedString& s) const override;
  // The normalized text only (no alignments), for tests.
  std::string normalize_string(std::string_view s) const;

 private:
  std::shared_ptr<const CharsMap> map_;
};

// tokenizer.json {"type": "Precompiled", "precompiled_charsmap": "<base64>"}
std::unique_ptr<Normalizer> build_precompiled_normalizer(const JsonNode& node);

// sentencepiece NormalizerSpec options.
struct SpmNormalizerSpec {
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false;
};

class SpmNormalizer : public Normalizer {
 public:
  // `user_defined`: pieces matched as a whole before the rules (sentencepiece's prefix matcher).
  SpmNormalizer(std::shared_ptr<const CharsMap> map, SpmNormalizerSpec spec, std::vector<std::string> user_defined = {});
  void normalize(NormalizedString& s) const override;
  // sentencepiece's Normalizer::Normalize: the text and norm_to_orig (size = normalized + 1).
  void normalize_raw(std::string_view input, std::string& normalized, std::vector<std::size_t>& n2o) const;

 private:
  std::pair<std::string_view, std::size_t> normalize_prefix(std::string_view input) const;
  std::shared_ptr<const CharsMap> map_;
  SpmNormalizerSpec spec_;
  std::vector<std::string> user_defined_;  // longest first
};

}  // namespace embed::text
