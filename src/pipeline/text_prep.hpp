#pragma once
// Input text preparation exactly as sentence-transformers' Transformer.tokenize does it.
#include <string>
#include <string_view>

namespace embed::pipeline {

// Python's str.strip(): removes leading/trailing Unicode whitespace (str.isspace). Input must be UTF-8.
std::string python_strip(std::string_view text);
// Python's str.lower() for sentence_bert_config.json do_lower_case (simple case mapping per code point).
std::string python_lower(std::string_view text);

}  // namespace embed::pipeline
