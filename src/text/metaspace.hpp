#pragma once
// Metaspace pre-tokenizer and decoder (tokenizers' pre_tokenizers/metaspace.rs): ' ' -> replacement
// (U+2581 by default), a replacement prepended per prepend_scheme, optional split before each
// replacement (MergedWithNext). Legacy serializations: "add_prefix_space" (false -> never) and "str_rep".
#include <memory>
#include <string>

#include "text/pipeline.hpp"

namespace embed::text {

class JsonNode;

enum class PrependScheme { Always, First, Never };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split);
  void pre_tokenize(PreTokenizedString& s) const override;

 private:
  void replace_spaces(NormalizedString& n) const;
  char32_t replacement_;
  std::string str_rep_;
  PrependScheme scheme_;
  bool split_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, PrependScheme scheme) : replacement_(replacement), scheme_(scheme) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;

 private:
  char32_t replacement_;
  PrependScheme scheme_;
};

std::unique_ptr<PreTokenizer> build_metaspace_pre_tokenizer(const JsonNode& node);
std::unique_ptr<Decoder> build_metaspace_decoder(const JsonNode& node);

}  // namespace embed::text
