#pragma once
// Sentencepiece model files (spm.model, spiece.model, sentencepiece.bpe.model, tokenizer.model) ->
// TokenizerPipeline, with the special tokens, templates and type ids of the slow transformers
// tokenizer named in tokenizer_config.json (DebertaV2, XLMRoberta, T5, Albert), as
// convert_slow_tokenizer lays them out. Tokenization itself follows the slow tokenizer on
// sentencepiece 0.1.97 exactly, since that is these models' reference (tests/data fixtures):
//  * special / added tokens are split off the raw text, and Python whitespace next to them is
//    stripped (tokenize(): plain-string tokens strip both neighbours, AddedToken dicts per flags);
//  * each remaining piece goes through sentencepiece's normalizer (SpmNormalizer, run by the
//    pre-tokenizer) and Viterbi (UnigramModel in spm mode: f32 scores, piece types, unknown runs
//    merged, byte fallback per byte); offsets are sentencepiece's surface spans;
//  * pairs are truncated one token at a time from the longer sequence (slow_pair_truncation).
// Where the fast tokenizer would differ (tie-breaks, offsets of U+2581, byte fallback), the slow
// result is produced.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/pipeline.hpp"
#include "text/precompiled.hpp"
#include "text/unigram.hpp"

namespace embed::text {

// The parts of sentencepiece's ModelProto the engine uses (protobuf wire format read directly).
struct SpmModelProto {
  std::vector<UnigramPiece> pieces;
  int model_type = 1;  // 1 unigram, 2 bpe, 3 word, 4 char
  bool byte_fallback = false;
  SpmNormalizerSpec normalizer;
  std::string precompiled_charsmap;
  std::string normalizer_name;
};
// Throws embed::Error("<where>: ...") on a malformed file.
SpmModelProto parse_spm_model_proto(std::string_view bytes, const std::string& where);
SpmModelProto read_spm_model(const std::filesystem::path& file);

// Builds the pipeline from the sentencepiece file in `dir` plus tokenizer_config.json,
// special_tokens_map.json and added_tokens.json when present.
std::shared_ptr<const TokenizerPipeline> load_sentencepiece_tokenizer(const std::filesystem::path& dir);

}  // namespace embed::text
