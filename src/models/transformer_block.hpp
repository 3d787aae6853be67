#pragma once
// What every BERT-shaped (post-LayerNorm) encoder layer here does around its own self-attention: the
// activation buffers of a layer, and after attention the output projection + residual LayerNorm, then
// the feed-forward network (intermediate dense + activation, output dense) + residual LayerNorm.
// Each architecture keeps only its embeddings and its attention.
#include <cstddef>
#include <string>

#include "compute/activation.hpp"
#include "compute/linear.hpp"
#include "compute/ops.hpp"
#include "io/json.hpp"
#include "io/tensor_data.hpp"
#include "models/encoder.hpp"
#include "models/layer_norm_weights.hpp"

namespace embed::models {

// One layer's activations over a packed batch of `tokens` rows, in the calling thread's workspace
// (sized by the largest batch seen, then reused: no allocation in the steady state).
struct LayerBuffers {
  float* qkv;      // [T, 3H]: query, key, value side by side (the fused projection's output)
  float* context;  // [T, H]: attention's output, before its output projection
  float* attn;     // [T, H]: after the attention output's add & LayerNorm (the FFN's input and residual)
  float* inter;    // [min(T, kFeedForwardRows), intermediate]: the FFN's activated intermediate, one row chunk
};

// The feed-forward network runs over at most this many rows at a time: its [rows, intermediate]
// activation (the largest of a layer) then stays small and in cache between its two GEMMs, however
// many tokens a batch has.
constexpr std::size_t kFeedForwardRows = 256;
LayerBuffers layer_buffers(std::size_t tokens, std::size_t hidden, std::size_t intermediate);

// Runs a layer's fused query / key / value projection over `hidden` ([tokens, H]) into buffers.qkv and
// returns attention's arguments over it (output: buffers.context). When attention multiplies in bf16 (a
// bf16 / int8 model on a CPU with AVX512-BF16), the projection writes Q, K, V directly in bf16: no fp32
// matrix written, read back and converted per head.
compute::PackedAttentionArgs project_qkv(const compute::Linear& qkv, const float* hidden, const PackedBatch& batch,
                                         const LayerBuffers& buffers, std::size_t heads, std::size_t head_dim);

// The sizes and settings the part after attention runs with (the same for every layer of a model).
struct BlockShape {
  std::size_t hidden = 0, intermediate = 0;
  float eps = 1e-12f;  // config.layer_norm_eps
  compute::Activation act = compute::Activation::Gelu;  // config.hidden_act
};

// A model's BlockShape: `hidden` and `intermediate` as read_encoder_sizes gave them, then config.json's
// layer_norm_eps (default: the architecture's, as its transformers config class has it) and hidden_act.
BlockShape read_block_shape(const io::JsonObject& config, std::size_t hidden, std::size_t intermediate,
                            double default_eps);

// A layer's weights after its self-attention.
struct PostAttentionBlock {
  BlockShape shape;
  compute::Linear attention_output;  // [H, H]
  LayerNormWeights attention_norm;
  compute::Linear intermediate;  // [I, H], bias + activation fused into its GEMM
  compute::Linear output;        // [H, I]
  LayerNormWeights output_norm;

  // Reads <layer_prefix><attention_output>, <layer_prefix><attention_norm>, and the FFN's
  // <layer_prefix>intermediate.dense, output.dense, output.LayerNorm (the same names in every architecture).
  static PostAttentionBlock load(const io::WeightStore& w, const std::string& layer_prefix,
                                 const std::string& attention_output, const std::string& attention_norm,
                                 const BlockShape& shape);

  // The rest of the layer once attention has written buffers.context: `hidden` ([tokens, H]) holds the
  // layer's input (the residual) and is overwritten with the layer's output. Uses buffers.attn / .inter.
  void forward(const LayerBuffers& buffers, std::size_t tokens, float* hidden) const;
};

// One layer's weights: the fused query / key / value projection, then the block after attention.
struct TransformerLayer {
  compute::Linear qkv;  // [3H, H]: one GEMM, outputs side by side in [T, 3H]
  PostAttentionBlock rest;
};

// The names of a layer's attention weights below "encoder.layer.<i>.", which differ by architecture
// (the feed-forward network's do not).
struct AttentionWeightNames {
  std::string query, key, value;    // fused into TransformerLayer::qkv, in this order
  std::string output, output_norm;  // PostAttentionBlock's attention_output and attention_norm
};

// Reads layer `layer` ("encoder.layer.<layer>.").
TransformerLayer load_transformer_layer(const io::WeightStore& w, std::size_t layer, const AttentionWeightNames& names,
                                        const BlockShape& shape);

}  // namespace embed::models
