#pragma once
// The embed subcommands: each one is a function over its parsed options.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace embed::cli {

// Options every model-using command shares.
struct CommonArgs {
  std::string model;
  std::vector<std::string> texts;  // none: read standard input
  bool jsonl = false;              // stdin lines are JSON strings
  bool lossy = false;              // replace invalid UTF-8 with U+FFFD instead of failing
  int threads = 0;
  std::string precision = "fp32";
  std::string output;              // file; empty: stdout
};

struct EncodeArgs {
  CommonArgs common;
  std::string output_value = "sentence_embedding";
  std::vector<std::string> pooling;
  std::optional<bool> normalize;
  std::size_t batch_size = 32;
  std::optional<std::size_t> max_seq_length;
  std::string format = "text";
  std::optional<bool> progress;  // none: when standard error is a terminal and there is more than one pass
};

struct TokenizeArgs {
  CommonArgs common;
  std::optional<std::size_t> max_length;
  bool no_truncation = false;
};

struct SimilarityArgs {
  CommonArgs common;
  std::string format = "text";
};

struct BenchArgs {
  std::string model;
  std::vector<std::string> corpora;            // files, one text per line; none: synthetic sentences
  std::vector<std::string> precisions{"fp32"};
  std::vector<int> threads;                    // none: the machine's cores
  std::vector<std::size_t> batch_sizes{32, 1};
  int repeat = 3;
  std::size_t limit = 0;                       // texts per corpus file; 0: all
  std::size_t latency_texts = 200;             // batch 1: how many texts are timed one by one
  bool lossy = false;                          // replace invalid UTF-8 in the corpus with U+FFFD
  bool gemm_peak = false;
  bool accuracy = false;
  std::string format = "text";                 // text (markdown table) or jsonl
};

int run_encode(const EncodeArgs& args);
int run_bench(const BenchArgs& args);
int run_tokenize(const TokenizeArgs& args);
int run_similarity(const SimilarityArgs& args);

}  // namespace embed::cli
