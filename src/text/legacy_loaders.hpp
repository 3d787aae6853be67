#pragma once
// Builders of the tokenizer pipeline from the files that predate tokenizer.json, the way
// transformers' convert_slow_tokenizer does (BertConverter, MPNetConverter, GPT2Converter,
// RobertaConverter, DebertaConverter).
#include <filesystem>
#include <memory>

#include "text/pipeline.hpp"

namespace embed::text {

// vocab.txt (+ tokenizer_config.json, special_tokens_map.json): BERT-style WordPiece, or MPNet
// when tokenizer_class is MPNetTokenizer.
std::shared_ptr<TokenizerPipeline> load_wordpiece_vocab_txt(const std::filesystem::path& dir);
// vocab.json + merges.txt: byte-level BPE (GPT-2, RoBERTa, DeBERTa v1 templates).
std::shared_ptr<TokenizerPipeline> load_byte_level_bpe(const std::filesystem::path& dir);

// Picks tokenizer.json, then vocab.txt, vocab.json + merges.txt, then the sentencepiece files.
std::shared_ptr<const TokenizerPipeline> load_tokenizer_directory(const std::filesystem::path& dir);

}  // namespace embed::text
