// Golden tokenization cases (Hugging Face tokenizers) for every tokenizer.json model, and the same
// cases through the legacy loaders (vocab.txt, vocab.json + merges.txt) with tokenizer.json hidden.
// To add a model: one line in kJsonModels / kLegacyModels below.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"
#include "support/expect_error.hpp"
#include "support/test_support.hpp"
#include "tokenizer_case_check.hpp"

namespace fs = std::filesystem;
using embed::Error;
using embed::Tokenizer;
using embed::testing::check_tokenizer_cases;
using embed::testing::data_path;

namespace {

const char* const kJsonModels[] = {
    "all-MiniLM-L6-v2", "all-MiniLM-L12-v2", "all-mpnet-base-v2", "bge-small-en-v1.5",
    "e5-small-v2",      "nomic-embed-text-v1.5", "roberta-base",  "gpt2",
};
// Models with legacy files; the loader sees a copy of the directory without tokenizer.json.
const char* const kLegacyModels[] = {
    "all-MiniLM-L6-v2", "all-MiniLM-L12-v2", "all-mpnet-base-v2", "bge-small-en-v1.5",
    "e5-small-v2",      "nomic-embed-text-v1.5", "roberta-base",  "gpt2",
};

fs::path legacy_copy(const std::string& model) {
  fs::path src = data_path("tokenizers/" + model);
  fs::path dst = embed::testing::make_temp_dir("tok-legacy-" + model);
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    auto name = e.path().filename().string();
    if (name == "tokenizer.json" || name == "cases.jsonl" || name == "cases.meta.json") continue;
    fs::copy_file(e.path(), dst / name);
  }
  return dst;
}

class JsonCases : public ::testing::TestWithParam<const char*> {};
class LegacyCases : public ::testing::TestWithParam<const char*> {};

std::string param_name(const ::testing::TestParamInfo<const char*>& info) {
  std::string s = info.param;
  for (auto& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

}  // namespace

TEST_P(JsonCases, MatchHuggingFaceTokenizers) {
  std::string model = GetParam();
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/" + model + "/tokenizer.json"));
  auto r = check_tokenizer_cases(model, tok);
  std::cout << "[tokenizer.json] " << model << ": " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}
INSTANTIATE_TEST_SUITE_P(Tokenizers, JsonCases, ::testing::ValuesIn(kJsonModels), param_name);

TEST_P(LegacyCases, MatchHuggingFaceTokenizers) {
  std::string model = GetParam();
  auto dir = legacy_copy(model);
  auto tok = Tokenizer::from_directory(dir);
  auto r = check_tokenizer_cases(model, tok);
  std::cout << "[legacy files] " << model << ": " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}
INSTANTIATE_TEST_SUITE_P(Tokenizers, LegacyCases, ::testing::ValuesIn(kLegacyModels), param_name);

// tests/data/models/<m>/expected.json: input_ids per text (sentence-transformers strips the text).
TEST(ModelFixtures, InputIdsMatchExpected) {
  for (const char* m : {"bert-tiny", "mpnet-tiny"}) {
    fs::path dir = data_path(std::string("models/") + m);
    auto expected = embed::testing::read_json_file(dir / "expected.json");
    for (bool legacy : {false, true}) {
      Tokenizer tok = legacy ? Tokenizer::from_directory([&] {
        fs::path d = embed::testing::make_temp_dir(std::string("fixture-") + m);
        for (const auto& e : fs::directory_iterator(dir))
          if (e.is_regular_file() && e.path().filename() != "tokenizer.json") fs::copy_file(e.path(), d / e.path().filename());
        return d;
      }())
                             : Tokenizer::from_directory(dir);
      const auto& items = expected["texts"];
      embed::TokenizeOptions opt;
      embed::TruncationOptions trunc;
      trunc.max_length = expected["pipeline"]["max_seq_length"].get<std::size_t>();
      opt.truncation = trunc;
      std::size_t checked = 0;
      for (const auto& item : items) {
        if (!item.is_object() || !item.contains("input_ids")) continue;
        std::string text = item.contains("input_text") ? item["input_text"].get<std::string>() : item["text"].get<std::string>();
        auto e = tok.encode(text, opt);
        EXPECT_EQ(nlohmann::json(e.ids), item["input_ids"]) << m << (legacy ? " (legacy)" : "") << ": " << text;
        ++checked;
      }
      EXPECT_GT(checked, 0u) << m;
    }
  }
}

// Component coverage beyond the published models: tokenizer.json variants (normalizers NFC/NFD/NFKC/NFKD,
// Replace, Strip, Prepend, StripAccents; pre-tokenizers Whitespace, Split (all behaviours, invert),
// Punctuation, Digits, ByteLevel options; BertProcessing, TemplateProcessing, RobertaProcessing with
// prefix space; added tokens with single_word/lstrip/rstrip/normalized; BPE merges as arrays;
// truncation strategies and directions) with golden outputs from the tokenizers library
// (tests/data/tokenizers/synthetic/README.md).
TEST(SyntheticVariants, MatchHuggingFaceTokenizers) {
  fs::path dir = data_path("tokenizers/synthetic");
  auto variants = embed::testing::read_json_file(dir / "variants.json");
  auto all = embed::testing::read_jsonl_file(dir / "cases.jsonl");
  auto tmp = embed::testing::make_temp_dir("tok-synthetic");
  std::size_t total = 0;
  for (auto it = variants.begin(); it != variants.end(); ++it) {
    const std::string name = it.key();
    // {"tokenizer": full tokenizer.json} or {"base": model dir, "override": {top-level fields}}
    nlohmann::json j = it.value().contains("tokenizer")
                           ? it.value()["tokenizer"]
                           : embed::testing::read_json_file(
                                 data_path("tokenizers/" + it.value()["base"].get<std::string>() + "/tokenizer.json"));
    const nlohmann::json no_override = nlohmann::json::object();
    const auto& overrides = it.value().contains("override") ? it.value()["override"] : no_override;
    for (auto o = overrides.begin(); o != overrides.end(); ++o) {
      if (o.key() == "model_merges_as_arrays") {
        for (auto& m : j["model"]["merges"]) {
          std::string s = m.get<std::string>();
          auto sp = s.find(' ');
          m = nlohmann::json::array({s.substr(0, sp), s.substr(sp + 1)});
        }
      } else {
        j[o.key()] = o.value();
      }
    }
    std::ofstream(tmp / (name + ".json")) << j.dump();
    auto tok = Tokenizer::from_tokenizer_json(tmp / (name + ".json"));
    std::vector<nlohmann::json> cases;
    for (const auto& c : all)
      if (c["variant"] == name) cases.push_back(c);
    auto r = embed::testing::check_tokenizer_case_list(cases, tok);
    for (const auto& c : cases) {
      if (!c.contains("decoded")) continue;
      auto ids = c["ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>()) << c["id"];
    }
    std::cout << "[synthetic] " << name << ": " << r.passed << "/" << r.total << " cases pass\n";
    EXPECT_EQ(r.failed, 0u) << name << "\n" << r.report;
    EXPECT_GT(r.total, 0u) << name;
    total += r.total;
  }
  EXPECT_EQ(total, all.size());
}

namespace {
std::string tokenizer_json_error(const fs::path& file) {
  return embed::testing::error_message([&] { Tokenizer::from_tokenizer_json(file); });
}

// MiniLM's tokenizer.json with `edit` applied, written to dir/tokenizer.json.
fs::path edited_minilm_tokenizer(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = embed::testing::read_json_file(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json"));
  edit(j);
  std::ofstream(dir / "tokenizer.json", std::ios::trunc) << j.dump();
  return dir / "tokenizer.json";
}
}  // namespace

TEST(TokenizerErrors, UnknownComponentTypeNamesTypeAndPath) {
  auto dir = embed::testing::make_temp_dir("tok-unknown");
  auto msg = tokenizer_json_error(edited_minilm_tokenizer(dir, [](nlohmann::json& j) {
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", nlohmann::json::array({{{"type", "Lowercase"}}, {{"type", "Foo"}}})}};
  }));
  EXPECT_NE(msg.find("tokenizer.json: normalizer.normalizers[1]: unknown normalizer type \"Foo\""), std::string::npos) << msg;
  msg = tokenizer_json_error(edited_minilm_tokenizer(dir, [](nlohmann::json& j) { j["decoder"] = {{"type", "Bar"}}; }));
  EXPECT_NE(msg.find("decoder: unknown decoder type \"Bar\""), std::string::npos) << msg;
}

// tokenizer.json is read with simdjson; what nlohmann (the reader before it) and the Hugging Face tokenizers
// library (serde_json) do with the same bytes must not change.
TEST(TokenizerJson, SyntaxErrorNamesFileLineAndColumn) {
  auto dir = embed::testing::make_temp_dir("tok-syntax");
  std::ofstream(dir / "tokenizer.json") << "{\n  \"model\": {\"type\": \"WordPiece\",\n    \"vocab\": {\"a\": 0,, \"b\": 1}}\n}\n";
  auto msg = tokenizer_json_error(dir / "tokenizer.json");
  EXPECT_NE(msg.find("tokenizer.json: invalid JSON at line 3, column 22"), std::string::npos) << msg;
}

// Valid JSON that simdjson does not read (nlohmann did): an integer beyond 64 bits, nesting deeper than 1024.
// No tokenizer.json holds either; the error names the file and the reason.
TEST(TokenizerJson, JsonSimdjsonCannotReadNamesFileAndReason) {
  auto dir = embed::testing::make_temp_dir("tok-simdjson");
  const std::string text = embed::testing::read_json_file(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json")).dump();
  // MiniLM's tokenizer.json with one more top-level field, written as given.
  auto with_extra = [&](const std::string& value) {
    std::ofstream(dir / "tokenizer.json", std::ios::trunc) << text.substr(0, text.size() - 1) << ",\"extra\":" << value << "}";
    return dir / "tokenizer.json";
  };
  auto msg = tokenizer_json_error(with_extra("123456789012345678901234567890"));
  EXPECT_NE(msg.find("tokenizer.json: invalid JSON: Problem while parsing a number"), std::string::npos) << msg;
  msg = tokenizer_json_error(with_extra(std::string(1500, '[') + std::string(1500, ']')));
  EXPECT_NE(msg.find("tokenizer.json: invalid JSON: The JSON document was too deep"), std::string::npos) << msg;
}

TEST(TokenizerErrors, BadVocabJsonNamesFileAndToken) {
  auto dir = legacy_copy("roberta-base");  // vocab.json + merges.txt
  std::ofstream(dir / "vocab.json", std::ios::trunc) << "[\"a\", \"b\"]";
  auto msg = embed::testing::error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_NE(msg.find("vocab.json: top level: expected an object {token: id}, found array"), std::string::npos) << msg;
  std::ofstream(dir / "vocab.json", std::ios::trunc) << "{\"a\": 0, \"b\": \"1\"}";
  msg = embed::testing::error_message([&] { Tokenizer::from_directory(dir); });
  EXPECT_NE(msg.find("vocab.json: top level: token \"b\": expected an integer id"), std::string::npos) << msg;
}

TEST(TokenizerJson, RepeatedVocabTokenKeepsItsLastId) {
  // serde_json fills the vocabulary HashMap in file order, so a repeated key ends with its last value.
  std::ifstream in(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto vocab = text.find("\"vocab\":{");
  ASSERT_NE(vocab, std::string::npos);
  text.insert(vocab + 9, "\"hello\":1,");  // before the real "hello" (id 7592)
  auto dir = embed::testing::make_temp_dir("tok-repeated");
  std::ofstream(dir / "tokenizer.json") << text;
  auto tok = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  EXPECT_EQ(tok.token_to_id("hello"), 7592);
  EXPECT_EQ(tok.encode("hello").ids, (std::vector<int32_t>{101, 7592, 102}));
}

TEST(TokenizerJson, RepeatedUnigramPieceKeepsItsLastId) {
  // tokenizers maps each Unigram piece to its id with HashMap inserts in vocabulary order: the last wins.
  nlohmann::json j = embed::testing::read_json_file(data_path("tokenizers/t5-small/tokenizer.json"));
  auto& vocab = j["model"]["vocab"];
  ASSERT_EQ(vocab[8][0], "\u2581the");
  const auto last = static_cast<int32_t>(vocab.size());
  vocab.push_back({"\u2581the", -1.0});
  auto dir = embed::testing::make_temp_dir("tok-unigram-repeated");
  std::ofstream(dir / "tokenizer.json") << j.dump();
  auto tok = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  EXPECT_EQ(tok.token_to_id("\u2581the"), last);
  EXPECT_EQ(tok.encode("the").ids, (std::vector<int32_t>{last, 1}));  // then </s>
}

TEST(TokenizerJson, WrongValueTypesNameThePath) {
  auto dir = embed::testing::make_temp_dir("tok-types");
  auto msg = tokenizer_json_error(edited_minilm_tokenizer(dir, [](nlohmann::json& j) { j["model"]["vocab"]["hello"] = "7592"; }));
  EXPECT_NE(msg.find("tokenizer.json: model.vocab: token \"hello\": expected an integer id"), std::string::npos) << msg;
  msg = tokenizer_json_error(edited_minilm_tokenizer(dir, [](nlohmann::json& j) {
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", "[CLS] $A [SEP]"},
                           {"special_tokens", {{"[CLS]", {{"id", "[CLS]"}, {"ids", {"101"}}, {"tokens", {"[CLS]"}}}}}}};
  }));
  EXPECT_NE(msg.find("post_processor.special_tokens.[CLS].ids[0]: expected an integer id, found string"), std::string::npos)
      << msg;
}

TEST(TokenizerErrors, InvalidUtf8NamesBytePosition) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json"));
  std::string bad = "hello \xC3\x28 world";
  try {
    tok.encode(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("byte 6"), std::string::npos) << msg;
  }
  embed::TokenizeOptions lossy;
  lossy.lossy_utf8 = true;
  auto e = tok.encode(bad, lossy);
  auto ref = tok.encode("hello \xEF\xBF\xBD( world");
  EXPECT_EQ(e.ids, ref.ids);
  EXPECT_EQ(e.offsets, ref.offsets);
}

TEST(TokenizerApi, DecodeAndVocab) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json"));
  auto e = tok.encode("Hello Embeddings!");
  EXPECT_EQ(tok.decode(e.ids, true), "hello embeddings!");
  EXPECT_EQ(tok.id_to_token(101), "[CLS]");
  EXPECT_EQ(tok.token_to_id("[SEP]"), 102);
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(tok.vocab_size(), 30522u);
  auto g = Tokenizer::from_tokenizer_json(data_path("tokenizers/gpt2/tokenizer.json"));
  auto ge = g.encode("Hello world, héllo!");
  EXPECT_EQ(g.decode(ge.ids), "Hello world, héllo!");
  std::vector<int32_t> one{ge.ids[1]};
  EXPECT_EQ(g.decode(one), " world");
}

// Truncation limits at or below the number of special tokens, as tokenizers 0.22 does them (its
// max_length - added is computed in usize: below the count nothing is truncated).
TEST(TokenizerTruncation, LimitsAroundSpecialTokenCount) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/all-MiniLM-L6-v2/tokenizer.json"));
  auto with = [](std::size_t max_length, embed::TruncationStrategy s = embed::TruncationStrategy::LongestFirst,
                 embed::TruncationDirection d = embed::TruncationDirection::Right) {
    embed::TokenizeOptions o;
    embed::TruncationOptions t;
    t.max_length = max_length;
    t.strategy = s;
    t.direction = d;
    o.truncation = t;
    return o;
  };
  EXPECT_EQ(tok.encode("hello world foo", with(1)).ids, (std::vector<int32_t>{101, 7592, 2088, 29379, 102}));
  EXPECT_EQ(tok.encode("hello world foo", with(0)).ids, (std::vector<int32_t>{101, 7592, 2088, 29379, 102}));
  EXPECT_EQ(tok.encode("hello world foo", with(2)).ids, (std::vector<int32_t>{101, 102}));
  auto p = tok.encode_pair("hello world foo", "bar baz", with(3));
  EXPECT_EQ(p.ids, (std::vector<int32_t>{101, 102, 102}));
  EXPECT_EQ(p.type_ids, (std::vector<int32_t>{0, 0, 1}));
  EXPECT_TRUE(p.truncated);
  EXPECT_THROW(tok.encode_pair("hello world foo", "bar baz",
                               with(4, embed::TruncationStrategy::OnlySecond, embed::TruncationDirection::Left)),
               Error);
  auto l = tok.encode("hello world foo", with(4, embed::TruncationStrategy::LongestFirst, embed::TruncationDirection::Left));
  EXPECT_EQ(l.ids, (std::vector<int32_t>{101, 2088, 29379, 102}));
}

// One loaded tokenizer shared by several threads gives the same encodings as one thread (BPE cache,
// Oniguruma regexes, added-token matcher are shared state).
TEST(TokenizerThreads, SharedTokenizerIsThreadSafe) {
  for (const char* m : {"gpt2", "all-MiniLM-L6-v2"}) {
    auto tok = Tokenizer::from_tokenizer_json(data_path(std::string("tokenizers/") + m + "/tokenizer.json"));
    auto cases = embed::testing::read_jsonl_file(data_path(std::string("tokenizers/") + m + "/cases.jsonl"));
    std::vector<std::string> texts;
    for (const auto& c : cases) texts.push_back(c["text"].get<std::string>());
    std::vector<std::vector<int32_t>> want;
    {
      auto fresh = Tokenizer::from_tokenizer_json(data_path(std::string("tokenizers/") + m + "/tokenizer.json"));
      for (const auto& t : texts) want.push_back(fresh.encode(t).ids);
    }
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&, k] {
        for (int round = 0; round < 3; ++round)
          for (std::size_t i = (k * 7) % texts.size(), n = 0; n < texts.size(); ++n, i = (i + 1) % texts.size())
            if (tok.encode(texts[i]).ids != want[i]) ++mismatches;
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0) << m;
  }
}
