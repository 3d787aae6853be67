#pragma once
// Row-wise kernels on packed [rows, dim] float32 matrices; rows run in parallel on the engine's threads.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace embed::compute {

// x[r] = LayerNorm(x[r] + residual[r]) * gamma + beta (residual may be null), as torch.nn.LayerNorm.
void add_layer_norm(float* x, const float* residual, std::size_t rows, std::size_t dim, const float* gamma,
                    const float* beta, float eps);

// In-place numerically stable softmax of one row.
void softmax(float* row, std::size_t n);

// Scaled dot-product attention of one sequence of `len` tokens, all heads.
// q, k, v: rows of the sequence, `ld` floats apart, head h at columns [h*head_dim, (h+1)*head_dim).
// bias: null, or [heads, len, len] added to the scaled scores before softmax.
// out: [len, heads*head_dim] rows `ld_out` floats apart.
struct AttentionArgs {
  const float* q;
  const float* k;
  const float* v;
  std::size_t ld;
  std::size_t len;
  std::size_t heads;
  std::size_t head_dim;
  float scale;
  const float* bias = nullptr;
  float* out;
  std::size_t ld_out;
  // Both products may run with bf16 inputs (fp32 accumulation) where the CPU has AVX512-BF16: for models
  // running in bf16 or int8. Softmax stays fp32; false keeps everything fp32 (the exact default).
  bool reduced_precision = false;
  // Q, K, V already in bf16, laid out as q / k / v (which are then unused): set only when
  // attention_takes_bf16(head_dim) and reduced_precision.
  const uint16_t* q16 = nullptr;
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
};
// Whether attention with reduced_precision runs its products in bf16 on this CPU for heads of head_dim
// (AVX512-BF16, head_dim a multiple of 32): then it can take Q, K, V in bf16 (AttentionArgs::q16...).
bool attention_takes_bf16(std::size_t head_dim);
// Throws when bf16 Q, K, V are `given` where the bf16 kernels do not run (reduced_precision off, or
// !attention_takes_bf16). The attention entry points call it before their parallel regions, which an
// exception must not leave.
void check_bf16_inputs(bool given, bool reduced_precision, std::size_t head_dim);

// Heads run in parallel on the engine's threads (compute::current_threads()).
void attention(const AttentionArgs& a, std::vector<float>& scratch);

// Attention of every sequence of a packed batch: sequence s owns rows [offsets[s], offsets[s+1]) of q, k,
// v (rows `ld` floats apart) and out (`ld_out` apart); (sequence, head) pairs run in parallel.
struct PackedAttentionArgs {
  const float* q;
  const float* k;
  const float* v;
  std::size_t ld;
  const std::size_t* offsets;  // sequences + 1 entries
  std::size_t sequences;
  std::size_t heads;
  std::size_t head_dim;
  float scale;
  float* out;
  std::size_t ld_out;
  bool reduced_precision = false;  // as in AttentionArgs
  const uint16_t* q16 = nullptr;   // as in AttentionArgs
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
};
void attention_packed(const PackedAttentionArgs& a);

// p + offset, or null for a null p (the matrices of PackedAttentionArgs not given).
template <typename T>
T* offset_or_null(T* p, std::size_t offset) {
  return p ? p + offset : nullptr;
}

}  // namespace embed::compute
