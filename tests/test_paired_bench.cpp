// bench/paired_bench (paired A/B of two load settings): it runs on a fixture model and prints the ratio, and
// every bad input stops it with a message that names what was wrong.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/test_support.hpp"

namespace {

using embed::testing::data_path;
using embed::testing::run_program;

const std::string kBert = data_path("models/bert-tiny").string();

std::string corpus_file() {
  const auto path = embed::testing::make_temp_dir("paired") / "texts.txt";
  std::ofstream(path) << "first text\nthe second text\na third, longer text than the others\n";
  return path.string();
}

TEST(PairedBench, PrintsTheRatioOfTwoSettings) {
  auto r = run_program(EMBED_PAIRED_BENCH_PATH, {"-m", kBert, "--a", "precision=fp32", "--b",
                                                 "precision=fp32,threads=1,env=EMBED_AMX:0", "--corpus", corpus_file(),
                                                 "--limit", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("A: precision=fp32\nB: precision=fp32,threads=1,env=EMBED_AMX:0\n3 texts, batch 1, 3 pairs of calls"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("time B / time A: median "), std::string::npos) << r.out;
}

TEST(PairedBench, BadSettingsNameTheItem) {
  auto r = run_program(EMBED_PAIRED_BENCH_PATH,
                       {"-m", kBert, "--a", "precision=fp32", "--b", "precision=int9", "--corpus", corpus_file()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("settings \"precision=int9\": cannot read \"precision=int9\" (expected "
                       "precision=fp32|bf16|int8, threads=N, amx=0|1 or env=NAME:VALUE)"),
            std::string::npos)
      << r.err;
  // An environment setting needs a name and a colon.
  for (const char* item : {"env=EMBED_AMX", "env=:0"}) {
    r = run_program(EMBED_PAIRED_BENCH_PATH,
                    {"-m", kBert, "--a", "precision=fp32", "--b", item, "--corpus", corpus_file()});
    EXPECT_EQ(r.exit_code, 1) << item;
    EXPECT_NE(r.err.find(std::string("cannot read \"") + item + "\""), std::string::npos) << r.err;
  }
}

TEST(PairedBench, MissingCorpusIsNamed) {
  auto r = run_program(EMBED_PAIRED_BENCH_PATH,
                       {"-m", kBert, "--a", "precision=fp32", "--b", "precision=bf16", "--corpus", "/nonexistent.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open corpus /nonexistent.txt"), std::string::npos) << r.err;
}

TEST(PairedBench, UnknownOptionAndMissingArgumentsShowUsage) {
  auto unknown = run_program(EMBED_PAIRED_BENCH_PATH, {"-m", kBert, "--speed", "fast"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown option --speed"), std::string::npos) << unknown.err;
  auto missing = run_program(EMBED_PAIRED_BENCH_PATH, {"-m", kBert, "--a", "precision=fp32"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("usage: paired_bench -m MODEL_DIR --a SETTINGS --b SETTINGS"), std::string::npos)
      << missing.err;
}

}  // namespace
