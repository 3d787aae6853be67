#pragma once
// Relative position biases added to attention scores: T5 / MPNet log buckets, the expansion of a
// per-distance table into the [heads, len, len] bias that compute::attention takes, and packed-batch
// attention with such a bias.
#include <cstddef>
#include <cstdint>

#include "compute/ops.hpp"

namespace embed::compute {

// The bucket of relative_position = key - query, as transformers' T5 / MPNet relative_position_bucket:
// exact buckets for small distances, logarithmic ones up to max_distance, the last bucket beyond.
// bidirectional: half of the buckets for keys before the query, half for keys after it.
// The logarithm is taken in float32, as the reference does (n.float()), so bucket edges match exactly.
int relative_position_bucket(int64_t relative_position, int num_buckets, int max_distance, bool bidirectional);

// table: per head h, the bias of every distance d = key - query in [-(max_len-1), max_len-1] at
// table[h * (2*max_len - 1) + d + max_len - 1]. Writes out[h][i][j] = table(h, j - i) for a sequence of
// len <= max_len tokens: out is [heads, len, len].
void expand_relative_bias(const float* table, std::size_t heads, std::size_t max_len, std::size_t len, float* out);

// attention_packed with, for every sequence, the bias expand_relative_bias(table, heads, max_len, len)
// added to the scaled scores. (sequence, head) pairs run in parallel; each expands only its own head.
// Every sequence must have at most max_len tokens.
void attention_packed_relative(const PackedAttentionArgs& a, const float* table, std::size_t max_len);

}  // namespace embed::compute
