#pragma once
// DeBERTa's disentangled attention bias (content->position and position->content terms) of one sequence
// and head, as the [len, len] additive bias that compute::attention takes.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace embed::compute {

// For a sequence of `len` tokens and head h:
//   bias[i][j] = (q_i,h . pos_key[c2p_index(i - j)],h) / scale + (k_j,h . pos_query[p2c_index(i - j)],h) / scale
// q, k: the sequence's query / key rows, `ld` floats apart, head h at columns [h*head_dim, (h+1)*head_dim).
// pos_key, pos_query: projected relative embeddings, one row per relative-position index, `ld_pos` floats
// apart, the same head layout. c2p_index / p2c_index: 2*len-1 row indices into pos_key / pos_query for
// the query-key distance d = i - j at [d + len - 1]; a null index table leaves its term out (the matching
// pos_* matrix may then be null too).
struct DisentangledBiasArgs {
  const float* q;
  const float* k;
  std::size_t ld;
  std::size_t len;
  std::size_t head_dim;
  const float* pos_key = nullptr;
  const float* pos_query = nullptr;
  std::size_t ld_pos;
  const int32_t* c2p_index = nullptr;
  const int32_t* p2c_index = nullptr;
  float scale = 1.0f;  // divisor of both terms
};
// Writes head h's bias, [len, len], to `bias`. Single-threaded: callers run heads / sequences in parallel.
void disentangled_attention_bias(const DisentangledBiasArgs& a, std::size_t h, float* bias,
                                 std::vector<float>& scratch);

}  // namespace embed::compute
