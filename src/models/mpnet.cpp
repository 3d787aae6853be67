// MPNet (MPNetModel, e.g. all-mpnet-base-v2): BERT-like layers without token types, positions counted
// from padding_idx + 1 over the non-pad tokens, and a T5-style relative position bias (one table shared by
// all layers) added to the attention scores.
#include <algorithm>

#include "compute/linear.hpp"
#include "compute/ops.hpp"
#include "compute/relative_position.hpp"
#include "compute/threads.hpp"
#include "models/encoder.hpp"
#include "models/embedding_rows.hpp"
#include "models/encoder_sizes.hpp"
#include "models/layer_norm_weights.hpp"
#include "models/padding_positions.hpp"
#include "models/transformer_block.hpp"

namespace embed::models {

namespace {

// transformers' MPNetEmbeddings hard-codes padding_idx = 1 (it does not read config.pad_token_id).
constexpr int32_t kPaddingIdx = 1;
// MPNetEncoder.compute_position_bias is called with its default num_buckets = 32 (not the config value)
// and relative_position_bucket with max_distance = 128.
constexpr int kBiasBuckets = 32;
constexpr int kBiasMaxDistance = 128;

class MPNetEncoder : public Encoder {
 public:
  MPNetEncoder(EncoderContext& ctx, io::WeightStore& w) {
    const auto& c = ctx.config;
    std::tie(hidden_, heads_, layers_n_, intermediate_, vocab_) = read_encoder_sizes(c);
    positions_ = static_cast<std::size_t>(c.get_int("max_position_embeddings", 512));
    block_ = read_block_shape(c, hidden_, intermediate_, 1e-12);
    threads_ = compute::resolve_threads(ctx.options.threads);
    const auto buckets = c.get_int("relative_attention_num_buckets", 32);
    if (buckets < kBiasBuckets)
      c.fail("relative_attention_num_buckets",
             "unsupported value " + std::to_string(buckets) +
                 " (MPNet always buckets relative positions into 32 buckets; at least 32 are needed)");
    require_heads_divide_hidden(c, hidden_, heads_);
    if (positions_ <= static_cast<std::size_t>(kPaddingIdx + 1))
      c.fail("max_position_embeddings",
             "too small for the position offset " + std::to_string(kPaddingIdx + 1) + " (padding_idx + 1)");

    const auto H = static_cast<int64_t>(hidden_);
    word_ = w.get("embeddings.word_embeddings.weight", {static_cast<int64_t>(vocab_), H});
    position_ = w.get_owned("embeddings.position_embeddings.weight", {static_cast<int64_t>(positions_), H});
    embedding_norm_ = load_layer_norm(w, "embeddings.LayerNorm", H);
    const auto bias_weight =
        w.get("encoder.relative_attention_bias.weight", {buckets, static_cast<int64_t>(heads_)});
    const AttentionWeightNames names{"attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                                     "attention.LayerNorm"};
    for (std::size_t i = 0; i < layers_n_; ++i) layers_.push_back(load_transformer_layer(w, i, names, block_));

    // The bias of every relative distance key - query a sequence can have, per head (shared by all layers).
    const std::size_t max_len = max_positions(), span = 2 * max_len - 1;
    distance_bias_.resize(heads_ * span);
    for (std::size_t d = 0; d < span; ++d) {
      const auto rel = static_cast<int64_t>(d) - static_cast<int64_t>(max_len - 1);
      const auto bucket = static_cast<std::size_t>(
          compute::relative_position_bucket(rel, kBiasBuckets, kBiasMaxDistance, /*bidirectional=*/true));
      for (std::size_t h = 0; h < heads_; ++h) distance_bias_[h * span + d] = bias_weight.data[bucket * heads_ + h];
    }
  }

  std::size_t hidden_size() const override { return hidden_; }
  std::size_t max_positions() const override { return positions_ - static_cast<std::size_t>(kPaddingIdx + 1); }

  void forward(const PackedBatch& batch, float* out) const override {
    compute::ThreadScope threads(threads_);
    const std::size_t T = batch.tokens(), H = hidden_;
    if (T == 0) return;
    embed_tokens(batch, out);
    const LayerBuffers buf = layer_buffers(T, H, intermediate_);
    for (const auto& L : layers_) {
      // scores = q k^T / sqrt(head_dim) + relative position bias (the same for every layer)
      compute::attention_packed_relative(project_qkv(L.qkv, out, batch, buf, heads_, H / heads_),
                                         distance_bias_.data(), max_positions());
      L.rest.forward(buf, T, out);
    }
  }

 private:
  void embed_tokens(const PackedBatch& batch, float* out) const {
    const std::size_t H = hidden_;
    for (std::size_t s = 0; s < batch.sequences(); ++s) {
      check_sequence_length(batch.length(s), max_positions());
      PaddingAwarePositions positions(kPaddingIdx);
      for (std::size_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
        const float* we = word_embedding_row(word_, vocab_, H, batch.ids[t]);
        const float* pe = position_.data + positions.next(batch.ids[t]) * H;
        float* o = out + t * H;
        for (std::size_t j = 0; j < H; ++j) o[j] = we[j] + pe[j];
      }
    }
    compute::add_layer_norm(out, nullptr, batch.tokens(), H, embedding_norm_.gamma.data, embedding_norm_.beta.data,
                            block_.eps);
  }

  std::size_t hidden_ = 0, heads_ = 0, layers_n_ = 0, intermediate_ = 0, vocab_ = 0, positions_ = 0;
  int threads_ = 1;
  BlockShape block_;  // layer_norm_eps (also the embeddings' LayerNorm) and hidden_act
  io::FloatTensor word_, position_;
  LayerNormWeights embedding_norm_;
  std::vector<TransformerLayer> layers_;
  std::vector<float> distance_bias_;  // [heads, 2 * max_positions() - 1], see expand_relative_bias
};

}  // namespace

std::unique_ptr<Encoder> create_mpnet(EncoderContext& ctx, io::WeightStore& weights) {
  if (weights.has("mpnet.embeddings.word_embeddings.weight")) weights.set_prefix("mpnet.");
  return std::make_unique<MPNetEncoder>(ctx, weights);
}

}  // namespace embed::models
