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

int run_encode(const EncodeArgs& args);
int run_tokenize(const TokenizeArgs& args);
int run_similarity(const SimilarityArgs& args);

}  // namespace embed::cli
