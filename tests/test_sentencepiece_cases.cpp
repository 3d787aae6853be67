// Sentencepiece tokenizers: golden cases (tests/data/tokenizers/<model>/cases.jsonl) for the
// tokenizer.json models with Unigram + Precompiled + Metaspace, and the spm.model loader.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"
#include "support/test_support.hpp"
#include "tokenizer_case_check.hpp"

namespace fs = std::filesystem;
using embed::Tokenizer;
using embed::testing::check_tokenizer_cases;
using embed::testing::data_path;

TEST(SentencepieceJson, T5Small) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/t5-small/tokenizer.json"));
  auto r = check_tokenizer_cases("t5-small", tok, 40);
  std::cout << "[tokenizer.json] t5-small: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

TEST(SentencepieceJson, ParaphraseAlbertSmallV2) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/paraphrase-albert-small-v2/tokenizer.json"));
  auto r = check_tokenizer_cases("paraphrase-albert-small-v2", tok, 40);
  std::cout << "[tokenizer.json] paraphrase-albert-small-v2: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

namespace {

// A copy of tests/data/<rel> without tokenizer.json (and the golden files), so the loader is used.
fs::path copy_without_tokenizer_json(const std::string& rel, const std::string& tag) {
  fs::path src = data_path(rel);
  fs::path dst = embed::testing::make_temp_dir(tag);
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    auto name = e.path().filename().string();
    if (name == "tokenizer.json" || name == "cases.jsonl" || name == "cases.meta.json" || name.rfind("expected", 0) == 0 ||
        name.find(".safetensors") != std::string::npos)
      continue;
    fs::copy_file(e.path(), dst / name);
  }
  return dst;
}

}  // namespace

// deberta-v3-xsmall ships spm.model only; its golden cases come from sentencepiece 0.1.97 with the
// slow DebertaV2Tokenizer rules (offsets = sentencepiece surface spans).
TEST(SentencepieceLoader, DebertaV3XsmallSpmModel) {
  auto tok = Tokenizer::from_directory(copy_without_tokenizer_json("tokenizers/deberta-v3-xsmall", "spm-deberta"));
  auto r = check_tokenizer_cases("deberta-v3-xsmall", tok, 40);
  std::cout << "[spm.model] deberta-v3-xsmall: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

// t5-small through spiece.model: plain sentencepiece ids must equal the golden (Rust) ids wherever
// cases.meta.json's spm_crosscheck says sentencepiece and tokenizers agree.
TEST(SentencepieceLoader, T5SmallSpieceModelIdsWhereSentencepieceAgrees) {
  auto dir = copy_without_tokenizer_json("tokenizers/t5-small", "spm-t5");
  auto tok = Tokenizer::from_directory(dir);
  auto meta = embed::testing::read_json_file(data_path("tokenizers/t5-small/cases.meta.json"));
  std::set<std::string> differ;
  for (const auto& id : meta["spm_crosscheck"]["id_mismatches"]) differ.insert(id.get<std::string>());
  ASSERT_FALSE(differ.empty());
  auto cases = embed::testing::read_jsonl_file(data_path("tokenizers/t5-small/cases.jsonl"));
  std::size_t checked = 0, passed = 0;
  for (const auto& c : cases) {
    std::string id = c["id"].get<std::string>();
    if (c["kind"].get<std::string>().find("trunc") != std::string::npos) continue;  // compared untruncated
    if (differ.count(id)) continue;
    ++checked;
    auto e = c.contains("text2") && !c["text2"].is_null()
                 ? tok.encode_pair(c["text"].get<std::string>(), c["text2"].get<std::string>())
                 : tok.encode(c["text"].get<std::string>());
    bool ok = nlohmann::json(e.ids) == c["ids"] && nlohmann::json(e.type_ids) == c["type_ids"] &&
              nlohmann::json(e.special_tokens_mask) == c["special_tokens_mask"];
    EXPECT_TRUE(ok) << id << ": ids " << nlohmann::json(e.ids).dump() << " expected " << c["ids"].dump();
    passed += ok;
  }
  std::cout << "[spiece.model] t5-small: " << passed << "/" << checked << " cases (where sentencepiece agrees) pass\n";
  EXPECT_GT(checked, 300u);
}

// tests/data/models/<m>/expected.json (reference: the slow transformers tokenizer = sentencepiece).
// Through tokenizer.json the Rust library's ids are expected (fast_input_ids where they differ).
void check_model_fixture(const std::string& model, bool use_loader) {
  fs::path dir = data_path("models/" + model);
  auto expected = embed::testing::read_json_file(dir / "expected.json");
  Tokenizer tok = use_loader ? Tokenizer::from_directory(copy_without_tokenizer_json("models/" + model, "spm-fixture-" + model))
                             : Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  embed::TokenizeOptions opt;
  embed::TruncationOptions trunc;
  trunc.max_length = expected["pipeline"]["max_seq_length"].get<std::size_t>();
  opt.truncation = trunc;
  std::size_t checked = 0, passed = 0;
  for (const auto& item : expected["texts"]) {
    std::string text = item.contains("input_text") ? item["input_text"].get<std::string>() : item["text"].get<std::string>();
    auto e = tok.encode(text, opt);
    const auto& want_ids = (!use_loader && item.contains("fast_input_ids")) ? item["fast_input_ids"] : item["input_ids"];
    const auto& want_tokens = (!use_loader && item.contains("fast_tokens")) ? item["fast_tokens"] : item["tokens"];
    bool ok = nlohmann::json(e.ids) == want_ids && nlohmann::json(e.tokens) == want_tokens &&
              nlohmann::json(e.special_tokens_mask) == item["special_tokens_mask"] &&
              nlohmann::json(e.attention_mask) == item["attention_mask"];
    if (!item["token_type_ids"].is_null()) ok = ok && nlohmann::json(e.type_ids) == item["token_type_ids"];
    EXPECT_TRUE(ok) << model << (use_loader ? " (spm loader)" : " (tokenizer.json)") << " text " << item["index"] << ": got "
                    << nlohmann::json(e.tokens).dump() << " " << nlohmann::json(e.ids).dump() << "\nexpected "
                    << want_tokens.dump() << " " << want_ids.dump();
    ++checked;
    passed += ok;
  }
  std::cout << "[" << (use_loader ? "spm loader" : "tokenizer.json") << "] models/" << model << ": " << passed << "/"
            << checked << " texts pass\n";
  EXPECT_GT(checked, 0u);
}

TEST(SentencepieceModelFixtures, DebertaV3TinySpmModel) { check_model_fixture("deberta-v3-tiny", true); }
TEST(SentencepieceModelFixtures, MultilingualTinyTokenizerJson) { check_model_fixture("multilingual-tiny", false); }
TEST(SentencepieceModelFixtures, MultilingualTinySentencepieceBpeModel) { check_model_fixture("multilingual-tiny", true); }
