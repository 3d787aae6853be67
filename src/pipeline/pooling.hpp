#pragma once
// sentence-transformers Pooling: token embeddings of one text -> one vector.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "embed/model.hpp"

namespace embed::pipeline {

struct PoolingConfig {
  std::vector<PoolingMode> modes;  // concatenated in sentence-transformers' order
  bool include_prompt = true;
  std::optional<int64_t> word_embedding_dimension;  // as the file gives it (checked against the model)
};

// Reads 1_Pooling/config.json: the pooling_mode string, else every pooling_mode_* flag.
PoolingConfig read_pooling_config(const std::string& file);

// Pools `tokens` [len, hidden] (first `skip` tokens excluded from mean-like modes when a prompt is not
// included); writes modes.size() * hidden floats to `out`, concatenated in sentence-transformers'
// order: cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken.
void pool(const float* tokens, std::size_t len, std::size_t hidden, const std::vector<PoolingMode>& modes,
          float* out);

// Modes sorted into sentence-transformers' concatenation order, duplicates removed.
std::vector<PoolingMode> canonical_order(std::vector<PoolingMode> modes);

}  // namespace embed::pipeline
