// The embed CLI's handling of awkward input and output: texts that look like CLI11 lists, options that
// exclude each other, --jsonl edge cases, byte order marks, and output files a failed command must not
// damage.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/expect_error.hpp"
#include "support/fixture.hpp"
#include "support/test_support.hpp"

using embed::testing::data_path;
using embed::testing::run_cli;

namespace {

const std::string kBert = data_path("models/bert-tiny").string();


std::size_t line_count(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The tokens of each JSON line `embed tokenize` printed.
std::vector<std::vector<std::string>> tokens_of(const std::string& out) {
  std::vector<std::vector<std::string>> all;
  std::size_t start = 0;
  for (std::size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
    all.push_back(nlohmann::json::parse(out.substr(start, end - start))["tokens"].get<std::vector<std::string>>());
  return all;
}

}  // namespace

// CLI11 reads "[a,b]" as a list; a text is a text.
TEST(CliInput, BracketedTextsStayWhole) {
  auto r = run_cli({"encode", "-m", kBert, "--format", "jsonl", "[a,b]", "[]", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(line_count(r.out), 3u);
  r = run_cli({"tokenize", "-m", kBert, "[CLS] hello [SEP]"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tokens_of(r.out).at(0), (std::vector<std::string>{"[CLS]", "[CLS]", "hello", "[SEP]", "[SEP]"}));
  r = run_cli({"similarity", "-m", kBert, "x", "[]"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// --pooling takes one (comma-separated) argument: the texts after it stay texts.
TEST(CliInput, PoolingTakesOneArgument) {
  auto r = run_cli({"encode", "-m", kBert, "--format", "jsonl", "--pooling", "cls,mean", "hello world", "again"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(line_count(r.out), 2u);
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(0, r.out.find('\n')))["embedding"].size(), 64u);
}

TEST(CliInput, OptionsThatExcludeEachOtherAreUsageErrors) {
  auto r = run_cli({"encode", "-m", kBert, "--normalize", "--no-normalize", "x"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"encode", "-m", kBert, "--output-value", "token_embeddings", "--pooling", "cls", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--pooling and --normalize apply to sentence embeddings");
  r = run_cli({"tokenize", "-m", kBert, "--jsonl", "\"x\""});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_CONTAINS(r.err, "--jsonl reads standard input");
}

TEST(CliInput, JsonlLossyBlankLinesAndByteOrderMark) {
  // --lossy also applies to --jsonl lines.
  auto r = run_cli({"tokenize", "-m", kBert, "--jsonl", "--lossy"}, "\"a\xff" "b\"\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // BERT's normalizer drops U+FFFD; the offsets show it was there: "ab" spans 3 code points.
  EXPECT_CONTAINS(r.out, "\"tokens\":[\"[CLS]\",\"ab\",\"[SEP]\"],\"offsets\":[[0,0],[0,3],[0,0]]");
  r = run_cli({"tokenize", "-m", kBert, "--jsonl"}, "\"a\xff" "b\"\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "stdin line 1: invalid UTF-8 at byte 2 (0xff)");
  // A blank line between texts is an error; blank lines at the end are not texts.
  r = run_cli({"tokenize", "-m", kBert, "--jsonl"}, "\"a\"\n  \n\"b\"\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "stdin line 2: blank line");
  r = run_cli({"tokenize", "-m", kBert, "--jsonl"}, "\"a\"\n\"b\"\n\n \n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(line_count(r.out), 2u);
  // A UTF-8 byte order mark before the first line is not part of its text.
  r = run_cli({"tokenize", "-m", data_path("tokenizers/roberta-base").string()}, "\xEF\xBB\xBFhello\nhello\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tokens = tokens_of(r.out);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0], tokens[1]);
}

TEST(CliInput, MaxLengthWithoutRoomForTextSaysSo) {
  auto r = run_cli({"tokenize", "-m", kBert, "--max-length", "1", "a b c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "--max-length 1 leaves no room beside the 2 special token(s)");
  EXPECT_CONTAINS(r.err, "not truncated at all");
  EXPECT_EQ(tokens_of(r.out).at(0).size(), 5u);  // as Hugging Face tokenizers: [CLS] a b c [SEP]
  r = run_cli({"encode", "-m", kBert, "--max-seq-length", "2", "a b c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "only the special tokens are kept");
  // The truncation note names the option of the command that ran (similarity has none).
  r = run_cli({"tokenize", "-m", kBert, "--max-length", "3", "a b c"});
  EXPECT_CONTAINS(r.err, "were truncated to 3 (first: input 1); use --max-length to change the limit\n");
  r = run_cli({"tokenize", "-m", kBert, "--max-length", "3", "--no-truncation", "a b c"});
  EXPECT_EQ(r.exit_code, 2);
}

// A failed command leaves an existing --output file as it was; a successful one replaces it whole.
TEST(CliOutput, FailedCommandLeavesTheOutputFile) {
  const auto dir = embed::testing::make_temp_dir("cli_output");
  const auto file = dir / "out.jsonl";
  std::ofstream(file) << "keep\n";
  std::string too_long;  // 600 tokens with --max-seq-length 600: past the model's 512 positions, an error
  for (int i = 0; i < 600; ++i) too_long += "x ";
  auto r = run_cli({"encode", "-m", kBert, "--max-seq-length", "600", "-o", file.string(), too_long});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "more than the model's 512 positions");
  EXPECT_EQ(read_file(file), "keep\n");
  r = run_cli({"encode", "-m", kBert, "--format", "jsonl", "-o", file.string(), "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(read_file(file), "{\"index\":0,\"embedding\":[");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);  // no partial file left behind
  r = run_cli({"encode", "-m", kBert, "-o", dir.string(), "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, ": is a directory");
  r = run_cli({"encode", "-m", kBert, "-o", (dir / "missing" / "out.npy").string(), "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "out.npy: cannot write there (No such file or directory)");
}

TEST(CliOutput, DashIsStandardOutput) {
  auto r = run_cli({"encode", "-m", kBert, "--format", "jsonl", "-o", "-", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "{\"index\":0,\"embedding\":[");
  EXPECT_FALSE(std::filesystem::exists("-"));
}

// No texts: an empty array of the right rank, as for sentence embeddings.
TEST(CliOutput, NoTextsGiveAnEmptyTokenEmbeddingsArray) {
  const auto file = embed::testing::make_temp_dir("cli_npy") / "empty.npy";
  auto r = run_cli({"encode", "-m", kBert, "--output-value", "token_embeddings", "--format", "npy", "-o", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(read_file(file), "'shape': (0, 0, 32)");
}

TEST(CliInput, BenchCorpusErrorsNameFileAndLine) {
  const auto file = embed::testing::make_temp_dir("cli_corpus") / "corpus.txt";
  std::ofstream(file, std::ios::binary) << "good line\n\xff" "bad\n";
  auto r = run_cli({"bench", "-m", kBert, "--corpus", file.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, file.string() + " line 2: invalid UTF-8 at byte 0 (0xff)");
  r = run_cli({"bench", "-m", kBert, "--corpus", file.string(), "--lossy", "--batch-size", "1", "--repeat", "1",
               "--format", "jsonl"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ofstream(file, std::ios::binary) << "\n  \n\t\n";
  r = run_cli({"bench", "-m", kBert, "--corpus", file.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, file.string() + ": the corpus has no non-blank lines");
}
