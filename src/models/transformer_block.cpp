#include "models/transformer_block.hpp"

#include <algorithm>

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
