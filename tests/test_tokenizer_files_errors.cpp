// Broken tokenizer files get an embed::Error naming the file, the field or token, and what was expected:
// token ids out of the 32-bit range, config fields of the wrong type on the legacy paths (vocab.txt,
// spm.model), a WordPiece unknown token missing from the vocabulary.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"
#include "support/expect_error.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::Error;
using embed::Tokenizer;
using embed::testing::data_path;
using embed::testing::error_message;
using embed::testing::make_temp_dir;
using nlohmann::json;

namespace {

// A copy of tests/data/tokenizers/<model> (without the case files) the test may change; tokenizer.json dropped
// unless keep_json.
fs::path copy_of(const std::string& model, bool keep_json) {
  fs::path dst = make_temp_dir("tok-files-" + model);
  for (const auto& e : fs::directory_iterator(data_path("tokenizers/" + model))) {
    const auto name = e.path().filename().string();
    if (!e.is_regular_file() || name == "cases.jsonl" || name == "cases.meta.json") continue;
    if (name == "tokenizer.json" && !keep_json) continue;
    fs::copy_file(e.path(), dst / name);
    fs::permissions(dst / name, fs::perms::owner_write, fs::perm_options::add);
  }
  return dst;
}

void edit_json(const fs::path& file, const std::function<void(json&)>& edit) {
  json j = fs::exists(file) ? embed::testing::read_json_file(file) : json::object();
  edit(j);
  std::ofstream(file, std::ios::trunc) << j.dump();
}

// MiniLM's tokenizer.json with `edit` applied.
fs::path minilm_json_with(const std::function<void(json&)>& edit) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", true);
  edit_json(dir / "tokenizer.json", edit);
  return dir / "tokenizer.json";
}

std::string minilm_json_error(const std::function<void(json&)>& edit) {
  const fs::path file = minilm_json_with(edit);
  return error_message([&] { Tokenizer::from_tokenizer_json(file); });
}

}  // namespace

// ---------------------------------------------------------------- token ids (tokenizers reads u32; ours are int32)
TEST(TokenizerIds, VocabIdBeyond32BitsIsRejectedNotTruncated) {
  // 2^32 + 5 was read as 5 ("hello world" -> [101, 5, 2088, 102]).
  auto msg = minilm_json_error([](json& j) { j["model"]["vocab"]["hello"] = (int64_t{1} << 32) + 5; });
  EXPECT_CONTAINS(msg, "tokenizer.json: model.vocab: token \"hello\": id 4294967301 is outside 0 to 2147483647");
  msg = minilm_json_error([](json& j) { j["model"]["vocab"]["hello"] = int64_t{1} << 31; });
  EXPECT_CONTAINS(msg, "model.vocab: token \"hello\": id 2147483648 is outside 0 to 2147483647");
  msg = minilm_json_error([](json& j) { j["model"]["vocab"]["hello"] = UINT64_MAX; });
  EXPECT_CONTAINS(msg, "model.vocab: token \"hello\": id >= 2^63 - 1 is outside 0 to 2147483647");
}

TEST(TokenizerIds, NegativeVocabIdIsRejected) {
  // -5 was dropped silently: "hello" became "hell ##o".
  auto msg = minilm_json_error([](json& j) { j["model"]["vocab"]["hello"] = -5; });
  EXPECT_CONTAINS(msg, "tokenizer.json: model.vocab: token \"hello\": id -5 is outside 0 to 2147483647");
}

TEST(TokenizerIds, SparseLargeIdLoadsQuicklyAndMapsBothWays) {
  // 10^9 made a 10^9-entry id -> token table (std::bad_alloc); tokenizers allows gaps, so it is kept, hashed.
  const int32_t big = 1000000000;
  const fs::path file = minilm_json_with([&](json& j) { j["model"]["vocab"]["hello"] = big; });
  const auto start = std::chrono::steady_clock::now();
  auto tok = Tokenizer::from_tokenizer_json(file);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(tok.token_to_id("hello"), big);
  EXPECT_EQ(tok.id_to_token(big), "hello");
  EXPECT_EQ(tok.id_to_token(2088), "world");
  EXPECT_EQ(tok.encode("hello world").ids, (std::vector<int32_t>{101, big, 2088, 102}));
}

TEST(TokenizerIds, AddedTokenIdOutOfRangeNamesTheToken) {
  auto msg = minilm_json_error([](json& j) { j["added_tokens"][0]["id"] = -1; });
  EXPECT_CONTAINS(msg, "tokenizer.json: added_tokens[0].id: token \"[PAD]\": id -1 is outside 0 to 2147483647");
  msg = minilm_json_error([](json& j) { j["added_tokens"][0]["id"] = int64_t{1} << 32; });
  EXPECT_CONTAINS(msg, "added_tokens[0].id: token \"[PAD]\": id 4294967296 is outside");
}

TEST(TokenizerIds, PostProcessorIdOutOfRangeNamesThePath) {
  auto msg = minilm_json_error([](json& j) { j["post_processor"]["special_tokens"]["[CLS]"]["ids"][0] = -101; });
  EXPECT_CONTAINS(msg, "tokenizer.json: post_processor.special_tokens.[CLS].ids[0]: id -101 is outside 0 to 2147483647");
  msg = minilm_json_error([](json& j) {
    j["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 102}}, {"cls", {"[CLS]", int64_t{1} << 32}}};
  });
  EXPECT_CONTAINS(msg, "tokenizer.json: post_processor.cls: token \"[CLS]\": id 4294967296 is outside");
}

TEST(TokenizerIds, VocabJsonIdOutOfRangeNamesFileAndToken) {
  fs::path dir = copy_of("roberta-base", false);  // vocab.json + merges.txt
  edit_json(dir / "vocab.json", [](json& j) { j["hello"] = (int64_t{1} << 32) + 5; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "vocab.json: top level: token \"hello\": id 4294967301 is outside 0 to 2147483647");
}

TEST(TokenizerIds, AddedTokensJsonIdMustBeAnId) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);  // vocab.txt
  std::ofstream(dir / "added_tokens.json") << R"({"<new>": -3})";
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "added_tokens.json: token \"<new>\": expected an id from 0 to 2147483647, found number -3");
  std::ofstream(dir / "added_tokens.json", std::ios::trunc) << R"({"<new>": "7"})";
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "added_tokens.json: token \"<new>\": expected an id from 0 to 2147483647, found string \"7\"");
}

// ---------------------------------------------------------------- config fields on the legacy paths
TEST(LegacyTokenizerConfig, NullBooleanOnSentencepiecePathNamesFileAndField) {
  // Was "internal error: [json.exception.type_error.302] type must be boolean, but is null".
  fs::path dir = copy_of("deberta-v3-xsmall", false);  // spm.model
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["do_lower_case"] = nullptr; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'do_lower_case': expected a boolean, found null");
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["do_lower_case"] = "yes"; });
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'do_lower_case': expected a boolean, found string \"yes\"");
}

TEST(LegacyTokenizerConfig, WrongTypedFieldsOnVocabTxtPathNameFileAndField) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);  // vocab.txt
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["do_lower_case"] = "yes"; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'do_lower_case': expected a boolean, found string \"yes\"");
  edit_json(dir / "tokenizer_config.json", [](json& j) {
    j["do_lower_case"] = true;
    j["strip_accents"] = 1;
  });
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'strip_accents': expected a boolean, found number 1");
}

TEST(LegacyTokenizerConfig, TokenizerClassOfWrongTypeNamesFileAndField) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);
  for (const json& value : {json(5), json::object(), json::array({"BertTokenizer"})}) {
    edit_json(dir / "tokenizer_config.json", [&](json& j) { j["tokenizer_class"] = value; });
    auto msg = error_message([&] { Tokenizer::from_directory(dir); });
    EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'tokenizer_class': expected a string, found " +
                             std::string(value.is_number() ? "number 5" : value.type_name()));
  }
  // null: as absent (transformers' AutoTokenizer then goes by the model config).
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["tokenizer_class"] = nullptr; });
  auto tok = Tokenizer::from_directory(dir);
  EXPECT_EQ(tok.encode("hello world").ids, (std::vector<int32_t>{101, 7592, 2088, 102}));
}

TEST(LegacyTokenizerConfig, SpecialTokenFieldsNameTheFileTheyCameFrom) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);
  edit_json(dir / "special_tokens_map.json", [](json& j) { j["mask_token"] = {{"content", "[MASK]"}, {"lstrip", nullptr}}; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "special_tokens_map.json: field 'mask_token.lstrip': expected true or false, found null");
  edit_json(dir / "special_tokens_map.json", [](json& j) { j["mask_token"] = 7; });
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "special_tokens_map.json: field 'mask_token': expected a string or {\"content\": \"...\"}, found "
                       "number 7");
  edit_json(dir / "special_tokens_map.json", [](json& j) {
    j["mask_token"] = "[MASK]";
    j["additional_special_tokens"] = "[X]";
  });
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "special_tokens_map.json: field 'additional_special_tokens': expected an array, found string");
}

TEST(LegacyTokenizerConfig, AddedTokensDecoderKeysMustBeIds) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["added_tokens_decoder"] = {{"x1", {{"content", "[PAD]"}}}}; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'added_tokens_decoder.x1': the key must be a token id");
  edit_json(dir / "tokenizer_config.json", [](json& j) {
    j["added_tokens_decoder"] = {{"0", {{"content", "[PAD]"}, {"special", "yes"}}}};
  });
  msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'added_tokens_decoder.0.special': expected true or false");
}

TEST(LegacyTokenizerConfig, T5ExtraIdsMustBeASmallCount) {
  fs::path dir = copy_of("t5-small", false);  // spiece.model
  edit_json(dir / "tokenizer_config.json", [](json& j) { j["extra_ids"] = 1000000000; });
  auto msg = error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_CONTAINS(msg, "tokenizer_config.json: field 'extra_ids': expected an integer from 0 to 100000, found number");
}

// ---------------------------------------------------------------- WordPiece's unknown token
TEST(WordPieceUnknownToken, MissingFromTokenizerJsonVocabNamesTheFile) {
  const fs::path file = minilm_json_with([](json& j) { j["model"]["unk_token"] = "[NOPE]"; });
  auto tok = Tokenizer::from_tokenizer_json(file);
  EXPECT_EQ(tok.encode("hello").ids, (std::vector<int32_t>{101, 7592, 102}));  // not needed: fine, as in tokenizers
  auto msg = error_message([&] { tok.encode(std::string(101, 'a')); });         // over max_input_chars_per_word
  EXPECT_CONTAINS(msg, "tokenizer.json: model: WordPiece unknown token \"[NOPE]\" is not in the vocabulary");
}

TEST(WordPieceUnknownToken, MissingFromVocabTxtNamesTheFile) {
  fs::path dir = copy_of("all-MiniLM-L6-v2", false);
  edit_json(dir / "special_tokens_map.json", [](json& j) { j["unk_token"] = "[NOPE]"; });
  auto tok = Tokenizer::from_directory(dir);
  auto msg = error_message([&] { tok.encode(std::string(101, 'a')); });
  EXPECT_CONTAINS(msg, "vocab.txt: WordPiece unknown token \"[NOPE]\" is not in the vocabulary");
}
