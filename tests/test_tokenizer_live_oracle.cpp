// Fresh random strings through our tokenizer and through the Hugging Face `tokenizers` library itself
// (npm @anush008/tokenizers, a native build of the Rust library). Skipped, saying how to install it,
// when node or the package is absent (it is a test-only tool, not a build dependency).
#include <cstdlib>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "embed/tokenizer.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::testing::data_path;

namespace {

fs::path repo_root() { return data_path("x").parent_path().parent_path().parent_path(); }

// Where the package is: $EMBED_NODE_MODULES, else bench/peers/node_modules (bench/run_bench.sh installs it).
std::optional<fs::path> node_modules() {
  if (const char* env = std::getenv("EMBED_NODE_MODULES")) return fs::path(env);
  fs::path p = repo_root() / "bench/peers/node_modules";
  if (fs::exists(p / "@anush008/tokenizers")) return p;
  return std::nullopt;
}

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A random string drawing from ASCII words, punctuation, accents (composed and combining), CJK, Cyrillic,
// Arabic, emoji and whitespace of several kinds.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'!', '/'}, {0xC0, 0xFF}, {0x300, 0x36F}, {0x4E00, 0x4FFF},
      {0x400, 0x44F}, {0x627, 0x64A}, {0x1F600, 0x1F64F}, {0x3040, 0x309F}, {0xAC00, 0xAC80}};
  static const uint32_t spaces[] = {' ', ' ', ' ', '\t', '\n', 0xA0, 0x3000, 0x200B};
  std::string s;
  const int n = std::uniform_int_distribution<int>(0, 60)(rng);
  for (int i = 0; i < n; ++i) {
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
      append_utf8(s, spaces[std::uniform_int_distribution<int>(0, 7)(rng)]);
      continue;
    }
    const auto& r = ranges[std::uniform_int_distribution<std::size_t>(0, ranges.size() - 1)(rng)];
    append_utf8(s, std::uniform_int_distribution<uint32_t>(r.first, r.second)(rng));
  }
  return s;
}

}  // namespace

class LiveOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(LiveOracle, RandomStringsMatchTheTokenizersLibrary) {
  auto modules = node_modules();
  if (!modules || std::system("node --version >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "Hugging Face tokenizers for node not found: run `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix "
                    "bench/peers` (or set EMBED_NODE_MODULES) to run this check";
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  const fs::path dir = embed::testing::make_temp_dir("oracle");
  std::vector<std::string> texts;
  {
    std::ofstream in(dir / "in.jsonl");
    for (int i = 0; i < 300; ++i) {
      texts.push_back(random_text(rng));
      in << nlohmann::json(texts.back()).dump() << "\n";
    }
  }
  const fs::path tokenizer_json = data_path("tokenizers/" + GetParam() + "/tokenizer.json");
  const std::string cmd = "NODE_PATH='" + modules->string() + "' node '" +
                          (repo_root() / "tests/tools/oracle_tokenize.js").string() + "' '" + tokenizer_json.string() +
                          "' '" + (dir / "in.jsonl").string() + "' '" + (dir / "out.jsonl").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto expected = embed::testing::read_jsonl_file(dir / "out.jsonl");
  ASSERT_EQ(expected.size(), texts.size());
  const auto tokenizer = embed::Tokenizer::from_tokenizer_json(tokenizer_json);
  int mismatches = 0;
  for (std::size_t i = 0; i < texts.size() && mismatches < 5; ++i) {
    auto enc = tokenizer.encode(texts[i]);
    if (enc.ids != expected[i]["ids"].get<std::vector<int32_t>>() ||
        enc.tokens != expected[i]["tokens"].get<std::vector<std::string>>()) {
      ++mismatches;
      ADD_FAILURE() << "seed " << seed << ", text " << nlohmann::json(texts[i]).dump() << "\n ours: "
                    << nlohmann::json(enc.tokens).dump() << "\n reference: " << expected[i]["tokens"].dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, LiveOracle,
                         ::testing::Values("all-MiniLM-L6-v2", "all-mpnet-base-v2", "roberta-base", "gpt2", "t5-small",
                                           "paraphrase-albert-small-v2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
