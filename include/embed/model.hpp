#pragma once
// Model: a loaded sentence-transformers / transformers directory. Immutable after load and shared by
// every thread; each encode call keeps its scratch buffers to itself.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "embed/tokenizer.hpp"

namespace embed {

enum class Precision { FP32, BF16, INT8 };

// Pooling modes, named as in 1_Pooling/config.json (pooling_mode_<name>).
enum class PoolingMode { Cls, Mean, Max, MeanSqrtLen, WeightedMean, LastToken };

struct LoadOptions {
  Precision precision = Precision::FP32;
  int threads = 0;  // 0: the machine's cores
};

// Filled by encode calls when EncodeOptions::report is set: what happened to the inputs.
struct EncodeReport {
  std::size_t truncated_texts = 0;             // texts cut to max_seq_length
  std::optional<std::size_t> first_truncated;  // index of the first one
  std::size_t tokens = 0;                      // tokens run through the model
};

struct EncodeOptions {
  // Texts per forward pass. Texts are sorted by length and packed without padding; a pass also holds at
  // most 512 tokens (beyond its first text). No padding, and on AVX-512 CPUs every GEMM row is summed the
  // same way at any row count, so the grouping never changes a text's outputs there, only speed (on other
  // CPUs oneDNN's kernels can round differently for other row counts: float rounding at most).
  std::size_t batch_size = 32;
  std::optional<std::size_t> max_seq_length;   // default: the model's (sentence_bert_config.json)
  std::optional<std::vector<PoolingMode>> pooling;  // default: the model's 1_Pooling/config.json
  std::optional<bool> normalize;               // default: whether modules.json has Normalize
  EncodeReport* report = nullptr;              // optional: truncation and token counts
  // Optional, for progress bars: called after each forward pass with the texts finished so far and the
  // total. Calls come one at a time (never from two threads at once), `done` only grows, and the last
  // call has done == total. An exception it throws ends the encode call.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

// Row-major dense matrix of floats.
struct Matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<float> data;
  const float* row(std::size_t r) const { return data.data() + r * cols; }
  float* row(std::size_t r) { return data.data() + r * cols; }
};

// Token embeddings of one text: the encoding (tokens, ids, offsets) and the vectors [tokens, hidden].
struct TokenEmbeddings {
  Encoding encoding;
  Matrix embeddings;
};

class Model {
 public:
  // `path_or_id`: a local model directory (or, later, a Hub id resolved through the HF cache).
  static std::shared_ptr<const Model> load(const std::string& path_or_id, const LoadOptions& options = {});
  virtual ~Model();

  const Tokenizer& tokenizer() const;
  std::size_t hidden_size() const;      // transformer output width
  std::size_t dimension() const;        // sentence embedding width (after Dense modules)
  std::size_t max_seq_length() const;
  std::string model_type() const;       // config.json model_type
  const std::vector<PoolingMode>& default_pooling() const;
  bool normalizes() const;

  // Sentence embeddings [texts.size(), dimension()], in input order.
  Matrix encode(std::span<const std::string> texts, const EncodeOptions& options = {}) const;
  // Token embeddings (transformer output) per text, in input order.
  std::vector<TokenEmbeddings> encode_tokens(std::span<const std::string> texts,
                                             const EncodeOptions& options = {}) const;
  // Tokenizes as encode does (strip, truncation to max_seq_length).
  Encoding tokenize(const std::string& text, const EncodeOptions& options = {}) const;

  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// The max length encode uses for a model directory without loading it: sentence_bert_config.json's
// max_seq_length, else tokenizer_config.json's model_max_length; none when neither gives one.
std::optional<std::size_t> configured_max_length(const std::filesystem::path& dir);
// The directory of the Transformer module (the modules.json entry's path; the directory itself otherwise).
std::filesystem::path transformer_directory(const std::filesystem::path& dir);

std::string to_string(PoolingMode mode);
std::optional<PoolingMode> pooling_mode_from_string(const std::string& name);

}  // namespace embed
