// End-to-end tests of the embed CLI: output formats, the tutorial's token-embedding print, exit codes
// and error messages.
#include <cstring>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "compute/linear.hpp"
#include "embed/model.hpp"
#include "support/expect_error.hpp"
#include "support/fixture.hpp"
#include "support/test_support.hpp"

using embed::testing::data_path;
using embed::testing::run_cli;

namespace {

const std::string kBert = data_path("models/bert-tiny").string();


std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST(Cli, TokenEmbeddingsTextPrintLikeTheTutorial) {
  auto r = run_cli({"encode", "-m", kBert, "Hello Embeddings!", "--output-value", "token_embeddings"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  // Tokens one per line, then the shape [1, n, dim], then the values.
  ASSERT_GE(lines.size(), 10u);
  EXPECT_EQ(lines[0], "# input tokens");
  const std::vector<std::string> tokens = {"[CLS]", "hello", "em", "##bed", "##ding", "##s", "!", "[SEP]"};
  for (std::size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(lines[1 + i], tokens[i]);
  EXPECT_CONTAINS(r.out, "\n[1, 8, 32]\n");
  EXPECT_CONTAINS(r.out, "[[[");
}

TEST(Cli, SentenceEmbeddingsJsonlMatchTheLibrary) {
  auto r = run_cli({"encode", "-m", kBert, "--format", "jsonl", "Hello Sentence Transformers library!",
                    "Generate sentence embeddings!"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u);
  auto model = embed::Model::load(kBert);
  std::vector<std::string> texts = {"Hello Sentence Transformers library!", "Generate sentence embeddings!"};
  auto e = model->encode(texts);
  for (std::size_t i = 0; i < 2; ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["index"], i);
    auto v = j["embedding"].get<std::vector<float>>();
    ASSERT_EQ(v.size(), 32u);
    for (std::size_t k = 0; k < v.size(); ++k) EXPECT_EQ(v[k], e.row(i)[k]);  // shortest round-trip floats
  }
}

TEST(Cli, StdinOneTextPerLineAndNpyOutput) {
  auto dir = embed::testing::make_temp_dir("npy");
  auto file = (dir / "out.npy").string();
  auto r = run_cli({"encode", "-m", kBert, "--format", "npy", "--output", file}, "first text\nsecond text\r\nthird\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  uint16_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  std::string header = bytes.substr(10, header_len);
  EXPECT_CONTAINS(header, "'shape': (3, 32)");
  EXPECT_EQ((10 + header_len) % 64, 0u);
  ASSERT_EQ(bytes.size(), 10u + header_len + 3 * 32 * 4);
  auto model = embed::Model::load(kBert);
  std::vector<std::string> texts = {"first text", "second text", "third"};
  auto e = model->encode(texts);
  EXPECT_EQ(std::memcmp(bytes.data() + 10 + header_len, e.data.data(), e.data.size() * 4), 0);
}

TEST(Cli, TokenEmbeddingsJsonlHasTokensIdsOffsetsAndVectors) {
  auto r = run_cli({"encode", "-m", kBert, "--output-value", "token_embeddings", "--format", "jsonl", "Hello world!"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(lines_of(r.out).at(0));
  EXPECT_EQ(j["tokens"], nlohmann::json({"[CLS]", "hello", "world", "!", "[SEP]"}));
  EXPECT_EQ(j["ids"], nlohmann::json({101, 7592, 2088, 999, 102}));
  EXPECT_EQ(j["offsets"], nlohmann::json::parse("[[0,0],[0,5],[6,11],[11,12],[0,0]]"));
  EXPECT_EQ(j["embeddings"].size(), 5u);
  EXPECT_EQ(j["embeddings"][0].size(), 32u);
}

TEST(Cli, TokenizeMatchesTheTokenizerCases) {
  auto cases = embed::testing::read_jsonl_file(data_path("tokenizers/all-MiniLM-L6-v2/cases.jsonl"));
  std::string input;
  std::vector<const nlohmann::json*> used;
  for (const auto& c : cases) {
    if (c["truncation"].is_null() && c["add_special_tokens"] == true) {
      nlohmann::json line = c.contains("text2") ? nlohmann::json::array({c["text"], c["text2"]}) : c["text"];
      input += line.dump() + "\n";
      used.push_back(&c);
    }
  }
  auto r = run_cli({"tokenize", "-m", data_path("tokenizers/all-MiniLM-L6-v2").string(), "--jsonl", "--no-truncation"},
                   input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), used.size());
  for (std::size_t i = 0; i < used.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    const auto& c = *used[i];
    EXPECT_EQ(j["ids"], c["ids"]) << c["id"];
    EXPECT_EQ(j["tokens"], c["tokens"]) << c["id"];
    EXPECT_EQ(j["offsets"], c["offsets"]) << c["id"];
    EXPECT_EQ(j["type_ids"], c["type_ids"]) << c["id"];
    EXPECT_EQ(j["special_tokens_mask"], c["special_tokens_mask"]) << c["id"];
    EXPECT_EQ(j["attention_mask"], c["attention_mask"]) << c["id"];
  }
}

TEST(Cli, TokenizeMaxLengthTruncatesAndSaysSo) {
  auto r = run_cli({"tokenize", "-m", kBert, "--max-length", "4", "one two three four five"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(lines_of(r.out).at(0));
  EXPECT_EQ(j["ids"].size(), 4u);
  EXPECT_EQ(j["tokens"].back(), "[SEP]");
  EXPECT_CONTAINS(r.err, "truncated");
}

TEST(Cli, EncodeSaysOnceOnStderrWhenTextsAreTruncated) {
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "word ";
  auto r = run_cli({"encode", "-m", kBert, "--format", "jsonl"}, long_text + "\n" + long_text + "\nshort\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "2 text(s) longer than 256 tokens were truncated");
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
}

TEST(Cli, EncodeProgressBarOnRequest) {
  std::string input;
  for (int i = 0; i < 40; ++i) input += "text number " + std::to_string(i) + "\n";
  // Standard error is not a terminal here: no bar unless asked for.
  auto quiet = run_cli({"encode", "-m", kBert, "--format", "jsonl", "--batch-size", "8"}, input);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  auto shown = run_cli({"encode", "-m", kBert, "--format", "jsonl", "--batch-size", "8", "--progress"}, input);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out, quiet.out);  // the bar goes to standard error only
  ASSERT_FALSE(shown.err.empty());
  EXPECT_EQ(shown.err.front(), '\r');
  EXPECT_EQ(shown.err.back(), '\n');
  const std::string last = shown.err.substr(shown.err.rfind('\r') + 1);
  EXPECT_EQ(last.rfind("encode: 100%|##############################| 40/40 [", 0), 0u) << last;
  EXPECT_CONTAINS(last, " texts/s]");
  auto off = run_cli({"encode", "-m", kBert, "--format", "jsonl", "--batch-size", "8", "--no-progress"}, input);
  EXPECT_EQ(off.err, "");
  // Both at once is a usage error (CLI11 runs flag callbacks in definition order, not command-line order,
  // so "the last one wins" could not hold).
  EXPECT_EQ(run_cli({"encode", "-m", kBert, "--progress", "--no-progress", "x"}).exit_code, 2);
}

TEST(Cli, SimilarityMatrix) {
  auto r = run_cli({"similarity", "-m", kBert, "a cat", "a dog", "a cat"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].substr(0, 6), "1.0000");
  // Text 0 and text 2 are the same: similarity 1.
  EXPECT_EQ(lines[0].substr(lines[0].size() - 6), "1.0000");
}

TEST(CliErrors, InvalidUtf8OnStdinNamesTheLine) {
  auto r = run_cli({"encode", "-m", kBert}, "fine\nalso fine\nbad \xff byte\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "stdin line 3: invalid UTF-8 at byte 4");
  EXPECT_TRUE(r.out.empty()) << "no partial result: " << r.out;
}

TEST(CliErrors, LossyReplacesInvalidUtf8) {
  // Each maximal ill-formed subsequence becomes one U+FFFD (one code point), as Python's errors="replace"
  // gives: a lone 0xff, and a 3-byte sequence cut after 2 bytes ("bad \ufffd byte" both times, not one
  // U+FFFD per byte). BERT's clean_text drops it; offsets count it, so "byte" starts at character 6.
  for (const std::string input : {"bad \xff byte\n", "bad \xE2\x82 byte\n"}) {
    auto r = run_cli({"tokenize", "-m", kBert, "--lossy"}, input);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(lines_of(r.out).at(0));
    EXPECT_EQ(j["tokens"], nlohmann::json({"[CLS]", "bad", "byte", "[SEP]"})) << input;
    EXPECT_EQ(j["offsets"], nlohmann::json::parse("[[0,0],[0,3],[6,10],[0,0]]")) << input;
  }
  // Without --lossy the error names the sequence's first byte.
  auto r = run_cli({"tokenize", "-m", kBert}, "bad \xE2\x82 byte\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "stdin line 1: invalid UTF-8 at byte 4 (0xe2)");
}

TEST(CliErrors, MissingModelDirectory) {
  auto r = run_cli({"encode", "-m", "/nonexistent/model", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "/nonexistent/model: not a model directory");
}

TEST(CliErrors, MissingConfigJson) {
  auto dir = embed::testing::make_temp_dir("noconfig");
  auto r = run_cli({"encode", "-m", dir.string(), "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "missing config.json");
}

TEST(CliErrors, UsageErrorsExitWith2) {
  EXPECT_EQ(run_cli({"encode", "hi"}).exit_code, 2);  // no -m
  EXPECT_EQ(run_cli({"encode", "-m", kBert, "--format", "xml", "hi"}).exit_code, 2);
  EXPECT_EQ(run_cli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_cli({}).exit_code, 2);
  auto r = run_cli({"encode", "-m", kBert, "--pooling", "median", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "unknown mode \"median\"");
}

// Number options say what they expect (CLI11's own check printed "Value 0 not in range 0.000000 to
// 17976931348623157...", also for text that is no number).
TEST(CliErrors, NumberOptionsSayWhatTheyExpect) {
  auto r = run_cli({"encode", "-m", kBert, "--batch-size", "0", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--batch-size: must be at least 1, got 0");
  r = run_cli({"encode", "-m", kBert, "--max-seq-length", "12x", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--max-seq-length: expected a whole number, got \"12x\"");
  r = run_cli({"encode", "-m", kBert, "--threads", "100000", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--threads: must be at most 1024, got 100000");
  r = run_cli({"bench", "-m", kBert, "--batch-size", "32,-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--batch-size: must be at least 1, got -1");
  r = run_cli({"tokenize", "-m", kBert, "--max-length", "99999999999999999999999", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--max-length: must be at most");
}

TEST(CliErrors, JsonlInputMustBeStrings) {
  auto r = run_cli({"encode", "-m", kBert, "--jsonl"}, "\"ok\"\n42\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "stdin line 2: expected a JSON string");
}

TEST(Cli, HelpExplainsTheCommands) {
  auto r = run_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_CONTAINS(r.out, "encode");
  EXPECT_CONTAINS(r.out, "tokenize");
  EXPECT_CONTAINS(r.out, "similarity");
  auto e = run_cli({"encode", "--help"});
  EXPECT_CONTAINS(e.out, "--output-value");
  EXPECT_CONTAINS(e.out, "--pooling");
}

TEST(CliBench, ReportsEveryConfigurationWithTokenCountsAndAccuracy) {
  const std::vector<std::string> texts = {"Hello Sentence Transformers library!", "Generate sentence embeddings!",
                                          "a", "The quick brown fox jumps over the lazy dog, twice."};
  const auto corpus = embed::testing::make_temp_dir("bench") / "corpus.txt";
  {
    std::ofstream f(corpus);
    for (const auto& t : texts) f << t << "\n";
  }
  auto r = run_cli({"bench", "-m", kBert, "--corpus", corpus.string(), "--precision", "fp32,int8", "--threads", "1",
                    "--batch-size", "2,1", "--repeat", "1", "--accuracy", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model = embed::Model::load(kBert);
  std::size_t tokens = 0;
  for (const auto& t : texts) tokens += model->tokenize(t).length();
  std::vector<nlohmann::json> rows, kernels;
  for (const auto& line : lines_of(r.out)) {
    auto record = nlohmann::json::parse(line);
    (record.contains("kernels") ? kernels : rows).push_back(record);
  }
  // First, per precision, the kernels it runs here (what the CPU can run, e.g. int8 on AMX tiles).
  ASSERT_EQ(kernels.size(), 2u) << r.out;
  EXPECT_EQ(kernels[0]["precision"], "fp32");
  EXPECT_EQ(kernels[0]["kernels"], embed::compute::gemm_backend_info(embed::Precision::FP32));
  EXPECT_EQ(kernels[1]["precision"], "int8");
  EXPECT_EQ(kernels[1]["kernels"], embed::compute::gemm_backend_info(embed::Precision::INT8));
  ASSERT_EQ(rows.size(), 4u);  // 2 precisions x 2 batch sizes
  for (const auto& row : rows) {
    EXPECT_EQ(row["texts"], texts.size()) << row;
    EXPECT_EQ(row["tokens"], tokens) << row;  // non-padding tokens of the model's own tokenization
    EXPECT_GT(row["texts_per_s"].get<double>(), 0.0);
    EXPECT_GT(row["latency_ms_median"].get<double>(), 0.0);
    EXPECT_GT(row["load_ms"].get<double>(), 0.0);
    EXPECT_GT(row["peak_rss_mb"].get<double>(), 0.0);
  }
  EXPECT_EQ(rows[0]["precision"], "fp32");
  EXPECT_EQ(rows[0]["batch"], 2);
  EXPECT_EQ(rows[1]["batch"], 1);
  EXPECT_FALSE(rows[0].contains("cosine_to_fp32_min"));
  ASSERT_TRUE(rows[2].contains("cosine_to_fp32_min")) << rows[2];  // int8, batch 2
  EXPECT_GT(rows[2]["cosine_to_fp32_min"].get<double>(), 0.99);
  EXPECT_LE(rows[2]["cosine_to_fp32_min"].get<double>(), 1.0 + 1e-9);
}

// --gemm-peak: per precision and thread count, oneDNN's GEMM peak and the multiply-add instruction's own
// rate (the instruction named, or why it was not measured), and each row's share of both: its effective
// GFLOP/s divided by the peaks printed above it.
TEST(CliBench, GemmPeakReportsBothPeaksAndEachRowsShareOfThem) {
  auto r = run_cli({"bench", "-m", kBert, "--precision", "fp32,int8", "--threads", "1", "--batch-size", "8",
                    "--repeat", "1", "--gemm-peak", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> gemm, instruction;
  std::vector<nlohmann::json> rows;
  for (const auto& line : lines_of(r.out)) {
    auto record = nlohmann::json::parse(line);
    if (record.contains("gemm_peak")) gemm[record["precision"]] = record;
    else if (record.contains("instruction_peak")) instruction[record["precision"]] = record;
    else if (record.contains("texts_per_s")) rows.push_back(record);
  }
  ASSERT_EQ(gemm.size(), 2u) << r.out;
  ASSERT_EQ(instruction.size(), 2u) << r.out;
  EXPECT_EQ(gemm["int8"]["unit"], "GOP/s");
  EXPECT_EQ(instruction["fp32"]["unit"], "GFLOP/s");
  EXPECT_EQ(instruction["fp32"]["threads"], 1);
  EXPECT_FALSE(instruction["int8"]["instruction"].get<std::string>().empty());
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_GT(instruction["fp32"]["instruction_peak"].get<double>(), 0.0);
    EXPECT_TRUE(instruction["fp32"]["instruction"].get<std::string>().starts_with("vfmadd231ps")) << instruction["fp32"];
  }
  ASSERT_EQ(rows.size(), 2u) << r.out;
  for (const auto& row : rows) {
    const std::string precision = row["precision"];
    const double gflops = row["effective_gflops"].get<double>();
    for (auto [peaks, key] : {std::pair{&gemm, "gemm_peak"}, std::pair{&instruction, "instruction_peak"}}) {
      const double peak = (*peaks)[precision][key].get<double>();
      const std::string share = std::string("fraction_of_") + key;
      if (peak > 0) {
        ASSERT_TRUE(row.contains(share)) << row;
        EXPECT_NEAR(row[share].get<double>(), gflops / peak, 1e-9) << row;
      } else {
        EXPECT_FALSE(row.contains(share)) << row;
      }
    }
  }
}

TEST(CliBench, WithoutACorpusUsesSentencesFromTheVocabulary) {
  auto r = run_cli({"bench", "-m", kBert, "--batch-size", "64", "--repeat", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "corpus synthetic sentences from the model's vocabulary: 512 texts");
  EXPECT_CONTAINS(r.out, "| precision | threads | batch | texts/s | tokens/s |");
  EXPECT_CONTAINS(r.out, "| fp32 | ");
  EXPECT_CONTAINS(r.out, "kernels fp32: " + embed::compute::gemm_backend_info(embed::Precision::FP32));
}

TEST(CliBench, MissingCorpusIsAUsageError) {
  auto r = run_cli({"bench", "-m", kBert, "--corpus", "/nonexistent/corpus.txt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "/nonexistent/corpus.txt");
}
