#include "models/transformer_block.hpp"

#include <algorithm>
#include <cmath>

#include "compute/ops.hpp"
#include "compute/workspace.hpp"

namespace embed::models {

LayerBuffers layer_buffers(std::size_t tokens, std::size_t hidden, std::size_t intermediate) {
  auto& ws = compute::thread_workspace();
  return {ws.floats(compute::Workspace::kModel0, tokens * 3 * hidden),
          ws.floats(compute::Workspace::kModel1, tokens * hidden),
          ws.floats(compute::Workspace::kModel2, tokens * hidden),
          ws.floats(compute::Workspace::kModel3, std::min(tokens, kFeedForwardRows) * intermediate)};
}

compute::PackedAttentionArgs project_qkv(const compute::Linear& qkv, const float* hidden, const PackedBatch& batch,
                                         const LayerBuffers& buffers, std::size_t heads, std::size_t head_dim) {
  const std::size_t T = batch.tokens(), H = heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const bool reduced = qkv.precision() != Precision::FP32;
  compute::PackedAttentionArgs a{nullptr, nullptr, nullptr, 3 * H, batch.offsets.data(), batch.sequences(),
                                 heads, head_dim, scale, buffers.context, H, reduced};
  if (reduced && compute::attention_takes_bf16(head_dim)) {
    auto* qkv16 = reinterpret_cast<uint16_t*>(buffers.qkv);  // half the buffer's bytes
    qkv.forward_bf16(hidden, T, qkv16);
    a.q16 = qkv16;
    a.k16 = qkv16 + H;
    a.v16 = qkv16 + 2 * H;
  } else {
    qkv.forward(hidden, T, buffers.qkv);
    a.q = buffers.qkv;
    a.k = buffers.qkv + H;
    a.v = buffers.qkv + 2 * H;
  }
  return a;
}

BlockShape read_block_shape(const io::JsonObject& config, std::size_t hidden, std::size_t intermediate,
                            double default_eps) {
  BlockShape shape{hidden, intermediate};
  const double eps = config.get_double("layer_norm_eps", default_eps);
  if (!(eps >= 0)) config.fail("layer_norm_eps", "expected a non-negative number, found " + std::to_string(eps));
  shape.eps = static_cast<float>(eps);
  shape.act =
      compute::parse_activation(config.get_string("hidden_act", "gelu"), config.file() + ": field 'hidden_act'");
  return shape;
}

TransformerLayer load_transformer_layer(const io::WeightStore& w, std::size_t layer, const AttentionWeightNames& names,
                                        const BlockShape& shape) {
  const std::string p = "encoder.layer." + std::to_string(layer) + ".";
  TransformerLayer L;
  L.qkv = compute::load_linear_stacked(w, {p + names.query, p + names.key, p + names.value}, shape.hidden,
                                       {shape.hidden, shape.hidden, shape.hidden});
  L.rest = PostAttentionBlock::load(w, p, names.output, names.output_norm, shape);
  return L;
}

PostAttentionBlock PostAttentionBlock::load(const io::WeightStore& w, const std::string& layer_prefix,
                                            const std::string& attention_output, const std::string& attention_norm,
                                            const BlockShape& shape) {
  const auto H = static_cast<int64_t>(shape.hidden);
  PostAttentionBlock b;
  b.shape = shape;
  b.attention_output = compute::load_linear(w, layer_prefix + attention_output, shape.hidden, shape.hidden);
  b.attention_norm = load_layer_norm(w, layer_prefix + attention_norm, H);
  b.intermediate = compute::load_linear(w, layer_prefix + "intermediate.dense", shape.hidden, shape.intermediate);
  b.output = compute::load_linear(w, layer_prefix + "output.dense", shape.intermediate, shape.hidden);
  b.output_norm = load_layer_norm(w, layer_prefix + "output.LayerNorm", H);
  return b;
}

void PostAttentionBlock::forward(const LayerBuffers& buffers, std::size_t tokens, float* hidden) const {
  const std::size_t T = tokens, H = shape.hidden;
  attention_output.forward(buffers.context, T, buffers.attn);
  compute::add_layer_norm(buffers.attn, hidden, T, H, attention_norm.gamma.data, attention_norm.beta.data, shape.eps);
  for (std::size_t r0 = 0; r0 < T; r0 += kFeedForwardRows) {
    const std::size_t rows = std::min(kFeedForwardRows, T - r0);
    compute::Linear::feed_forward(intermediate, output, buffers.attn + r0 * H, rows, buffers.inter, hidden + r0 * H,
                                  shape.act);
  }
  compute::add_layer_norm(hidden, buffers.attn, T, H, output_norm.gamma.data, output_norm.beta.data, shape.eps);
}

}  // namespace embed::models
