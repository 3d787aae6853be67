// Sentencepiece tokenizers: golden cases (tests/data/tokenizers/<model>/cases.jsonl) for the
// tokenizer.json models with Unigram + Precompiled + Metaspace, and the spm.model loader.
#include <filesystem>
#include <fstream>
#include <iostream>

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
