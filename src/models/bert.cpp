// BERT (BertModel) and RoBERTa / XLM-RoBERTa (the same layers, positions counted from padding_idx + 1
// over the non-pad tokens).
#include <optional>

#include "compute/linear.hpp"
#include "compute/ops.hpp"
#include "compute/threads.hpp"
#include "models/encoder.hpp"
#include "models/embedding_rows.hpp"
#include "models/encoder_sizes.hpp"
#include "models/layer_norm_weights.hpp"
#include "models/padding_positions.hpp"
#include "models/transformer_block.hpp"

namespace embed::models {

namespace {

class BertEncoder : public Encoder {
 public:
  // padding_idx: none for BERT (positions 0, 1, ...); RoBERTa's pad id (positions from padding_idx + 1).
  BertEncoder(EncoderContext& ctx, io::WeightStore& w, std::optional<int32_t> padding_idx)
      : padding_idx_(padding_idx),
        position_offset_(padding_idx ? static_cast<std::size_t>(*padding_idx + 1) : 0) {
    const auto& c = ctx.config;
    std::tie(hidden_, heads_, layers_n_, intermediate_, vocab_) = read_encoder_sizes(c);
    positions_ = static_cast<std::size_t>(c.get_int("max_position_embeddings"));
    type_vocab_ = read_type_vocab_size(c, w, 2);
    block_ = read_block_shape(c, hidden_, intermediate_, 1e-12);
    threads_ = compute::resolve_threads(ctx.options.threads);
    const std::string pos_type = c.get_string("position_embedding_type", "absolute");
    if (pos_type != "absolute")
      c.fail("position_embedding_type", "unsupported value \"" + pos_type + "\" (supported: absolute)");
    require_heads_divide_hidden(c, hidden_, heads_);
    if (positions_ <= position_offset_)
      c.fail("max_position_embeddings", "too small for the position offset " + std::to_string(position_offset_));

    const auto H = static_cast<int64_t>(hidden_);
    word_ = w.get("embeddings.word_embeddings.weight", {static_cast<int64_t>(vocab_), H});
    position_ = w.get_owned("embeddings.position_embeddings.weight", {static_cast<int64_t>(positions_), H});
    if (type_vocab_ > 0) token_type_ = w.get_owned("embeddings.token_type_embeddings.weight", {static_cast<int64_t>(type_vocab_), H});
    embedding_norm_ = load_layer_norm(w, "embeddings.LayerNorm", H);
    const AttentionWeightNames names{"attention.self.query", "attention.self.key", "attention.self.value",
                                     "attention.output.dense", "attention.output.LayerNorm"};
    for (std::size_t i = 0; i < layers_n_; ++i) layers_.push_back(load_transformer_layer(w, i, names, block_));
  }

  std::size_t hidden_size() const override { return hidden_; }
  std::size_t max_positions() const override { return positions_ - position_offset_; }

  void forward(const PackedBatch& batch, float* out) const override {
    compute::ThreadScope threads(threads_);
    const std::size_t T = batch.tokens(), H = hidden_;
    if (T == 0) return;
    embed_tokens(batch, out);
    const LayerBuffers buf = layer_buffers(T, H, intermediate_);
    for (const auto& L : layers_) {
      compute::attention_packed(project_qkv(L.qkv, out, batch, buf, heads_, H / heads_));
      L.rest.forward(buf, T, out);
    }
  }

 private:
  void embed_tokens(const PackedBatch& batch, float* out) const {
    const std::size_t H = hidden_;
    for (std::size_t s = 0; s < batch.sequences(); ++s) {
      check_sequence_length(batch.length(s), max_positions());
      PaddingAwarePositions roberta_positions(padding_idx_.value_or(0));
      for (std::size_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
        const float* we = word_embedding_row(word_, vocab_, H, batch.ids[t]);
        const std::size_t pos = padding_idx_ ? roberta_positions.next(batch.ids[t]) : t - batch.offsets[s];
        const float* pe = position_.data + pos * H;
        float* o = out + t * H;
        for (std::size_t j = 0; j < H; ++j) o[j] = we[j] + pe[j];
        if (type_vocab_ > 0) add_row(o, type_embedding_row(token_type_, type_vocab_, H, batch.type_ids[t]), H);
      }
    }
    compute::add_layer_norm(out, nullptr, batch.tokens(), H, embedding_norm_.gamma.data, embedding_norm_.beta.data,
                            block_.eps);
  }

  std::size_t hidden_ = 0, heads_ = 0, layers_n_ = 0, intermediate_ = 0, vocab_ = 0, positions_ = 0, type_vocab_ = 0;
  std::optional<int32_t> padding_idx_;
  // The first counted position (padding_idx + 1 for RoBERTa, 0 for BERT): the rows below it shorten max_positions().
  std::size_t position_offset_ = 0;
  int threads_ = 1;
  BlockShape block_;  // layer_norm_eps (also the embeddings' LayerNorm) and hidden_act
  io::FloatTensor word_, position_, token_type_;
  LayerNormWeights embedding_norm_;
  std::vector<TransformerLayer> layers_;
};

}  // namespace

std::unique_ptr<Encoder> create_bert(EncoderContext& ctx, io::WeightStore& weights) {
  if (weights.has("bert.embeddings.word_embeddings.weight")) weights.set_prefix("bert.");
  return std::make_unique<BertEncoder>(ctx, weights, std::nullopt);
}

// RoBERTa counts positions from padding_idx + 1 over the non-pad tokens (see padding_positions.hpp).
std::unique_ptr<Encoder> create_roberta(EncoderContext& ctx, io::WeightStore& weights) {
  if (weights.has("roberta.embeddings.word_embeddings.weight")) weights.set_prefix("roberta.");
  const auto pad = ctx.config.get_int("pad_token_id", 1);
  return std::make_unique<BertEncoder>(ctx, weights, static_cast<int32_t>(pad));
}

}  // namespace embed::models
