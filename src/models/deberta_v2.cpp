// DeBERTa-v2 / v3 (DebertaV2Model): BERT-shaped layers with disentangled attention. Every layer's
// attention scores get content->position (c2p) and position->content (p2c) terms computed from shared
// relative-position embeddings, log-bucketed beyond position_buckets / 2; optional absolute positions,
// token types, an embedding projection, and the convolution after the first layer.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>

#include "compute/activation.hpp"
#include "compute/disentangled_attention.hpp"
#include "compute/linear.hpp"
#include "compute/ops.hpp"
#include "compute/threads.hpp"
#include "compute/workspace.hpp"
#include "models/encoder.hpp"
#include "models/embedding_rows.hpp"
#include "models/encoder_sizes.hpp"
#include "models/layer_norm_weights.hpp"
#include "models/transformer_block.hpp"

namespace embed::models {

namespace {

std::string trim_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::vector<std::string> split_options(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto bar = s.find('|', start);
    parts.push_back(trim_lower(s.substr(start, bar == std::string::npos ? std::string::npos : bar - start)));
    if (bar == std::string::npos) return parts;
    start = bar + 1;
  }
}

// transformers' make_log_bucket_position for one relative position (query - key): exact within
// (-bucket_size/2, bucket_size/2), logarithmic beyond, reaching bucket_size/2 - 1 + bucket_size/2 at
// max_position - 1. Computed in double precision, as the reference (numpy float64) does.
int64_t log_bucket_position(int64_t relative, int64_t bucket_size, int64_t max_position) {
  const int64_t mid = bucket_size / 2;
  const int64_t abs_pos = relative < 0 ? -relative : relative;
  if (abs_pos <= mid) return relative;
  const double log_pos =
      std::ceil(std::log(static_cast<double>(abs_pos) / static_cast<double>(mid)) /
                std::log(static_cast<double>(max_position - 1) / static_cast<double>(mid)) * static_cast<double>(mid - 1)) +
      static_cast<double>(mid);
  return static_cast<int64_t>(relative < 0 ? -log_pos : log_pos);
}

struct DebertaLayer {
  TransformerLayer layer;  // query_proj, key_proj, value_proj fused; then the block after attention
  // The relative embeddings projected for c2p (keys) and p2c (queries): [2 * span, hidden] each, or empty.
  std::vector<float> pos_key, pos_query;
};

class DebertaV2Encoder : public Encoder {
 public:
  DebertaV2Encoder(EncoderContext& ctx, io::WeightStore& w) {
    const auto& c = ctx.config;
    std::tie(hidden_, heads_, layers_n_, intermediate_, vocab_) = read_encoder_sizes(c);
    positions_ = static_cast<std::size_t>(c.get_int("max_position_embeddings", 512));
    type_vocab_ = read_type_vocab_size(c, w, 0);
    embedding_size_ = static_cast<std::size_t>(c.get_int("embedding_size", static_cast<int64_t>(hidden_)));
    position_biased_input_ = c.get_bool("position_biased_input", true);
    relative_attention_ = c.get_bool("relative_attention", false);
    share_att_key_ = c.get_bool("share_att_key", false);
    block_ = read_block_shape(c, hidden_, intermediate_, 1e-7);
    threads_ = compute::resolve_threads(ctx.options.threads);

    require_heads_divide_hidden(c, hidden_, heads_);
    head_dim_ = hidden_ / heads_;
    if (c.has("attention_head_size") && c.get_int("attention_head_size") != static_cast<int64_t>(head_dim_))
      c.fail("attention_head_size", "unsupported value " + std::to_string(c.get_int("attention_head_size")) +
                                        " (supported: hidden_size / num_attention_heads = " +
                                        std::to_string(head_dim_) + ")");
    if (embedding_size_ == 0) c.fail("embedding_size", "must be positive");
    if (position_biased_input_ && positions_ == 0) c.fail("max_position_embeddings", "must be positive");
    if (!relative_attention_ && !position_biased_input_)
      c.fail("relative_attention",
             "unsupported combination relative_attention false with position_biased_input false (the model would "
             "see no positions)");
    parse_pos_att_type(c);
    parse_norm_rel_ebd(c);
    if (relative_attention_) {
      max_relative_ = c.get_int("max_relative_positions", -1);
      if (max_relative_ < 1) max_relative_ = static_cast<int64_t>(positions_);
      if (max_relative_ < 1) c.fail("max_relative_positions", "must be positive (or max_position_embeddings set)");
      buckets_ = c.get_int("position_buckets", -1);
      span_ = buckets_ > 0 ? buckets_ : max_relative_;
      if (buckets_ > 0 && max_relative_ - 1 <= buckets_ / 2)
        c.fail("max_relative_positions", "unsupported value " + std::to_string(max_relative_) +
                                             " with position_buckets " + std::to_string(buckets_) +
                                             " (log buckets need max_relative_positions - 1 > position_buckets / 2)");
      if (buckets_ > 0 && buckets_ < 2) c.fail("position_buckets", "must be at least 2");
    }

    const auto H = static_cast<int64_t>(hidden_), E = static_cast<int64_t>(embedding_size_);
    word_ = w.get("embeddings.word_embeddings.weight", {static_cast<int64_t>(vocab_), E});
    if (position_biased_input_)
      position_ = w.get_owned("embeddings.position_embeddings.weight", {static_cast<int64_t>(positions_), E});
    if (type_vocab_ > 0)
      token_type_ = w.get_owned("embeddings.token_type_embeddings.weight", {static_cast<int64_t>(type_vocab_), E});
    if (embedding_size_ != hidden_)
      embed_proj_ = compute::load_linear(w, "embeddings.embed_proj", embedding_size_, hidden_, false);
    embedding_norm_ = load_layer_norm(w, "embeddings.LayerNorm", H);

    std::vector<float> rel;  // encoder.rel_embeddings, layer-normed when norm_rel_ebd asks
    if (relative_attention_) {
      const auto rows = static_cast<std::size_t>(2 * span_);
      auto table = w.get("encoder.rel_embeddings.weight", {static_cast<int64_t>(rows), H});
      rel.assign(table.data, table.data + rows * hidden_);
      if (rel_layer_norm_) {
        auto norm = load_layer_norm(w, "encoder.LayerNorm", H);
        compute::add_layer_norm(rel.data(), nullptr, rows, hidden_, norm.gamma.data, norm.beta.data, block_.eps);
      }
    }

    const AttentionWeightNames names{"attention.self.query_proj", "attention.self.key_proj",
                                     "attention.self.value_proj", "attention.output.dense",
                                     "attention.output.LayerNorm"};
    for (std::size_t i = 0; i < layers_n_; ++i) {
      const std::string p = "encoder.layer." + std::to_string(i) + ".";
      DebertaLayer L;
      L.layer = load_transformer_layer(w, i, names, block_);
      if (relative_attention_) {
        // The projections of the relative embeddings depend on the weights only: computed once here.
        const std::size_t rows = static_cast<std::size_t>(2 * span_);
        auto project = [&](const compute::Linear& proj) {
          std::vector<float> out(rows * hidden_);
          proj.forward(rel.data(), rows, out.data());
          return out;
        };
        if (share_att_key_ && (c2p_ || p2c_)) {
          // query_proj / key_proj of the relative embeddings: columns [0, H) / [H, 2H) of the fused layer.
          std::vector<float> qkv(rows * 3 * hidden_);
          L.layer.qkv.forward(rel.data(), rows, qkv.data());
          auto columns = [&](std::size_t first) {
            std::vector<float> out(rows * hidden_);
            for (std::size_t r = 0; r < rows; ++r)
              std::copy_n(qkv.data() + r * 3 * hidden_ + first, hidden_, out.data() + r * hidden_);
            return out;
          };
          if (c2p_) L.pos_key = columns(hidden_);
          if (p2c_) L.pos_query = columns(0);
        } else {
          if (c2p_)
            L.pos_key = project(compute::load_linear(w, p + "attention.self.pos_key_proj", hidden_, hidden_));
          if (p2c_)
            L.pos_query = project(compute::load_linear(w, p + "attention.self.pos_query_proj", hidden_, hidden_));
        }
      }
      layers_.push_back(std::move(L));
    }
    load_conv(c, w);
  }

  std::size_t hidden_size() const override { return hidden_; }
  // sentence-transformers' default length limit is max_position_embeddings even when the model only
  // uses relative positions (which accept longer inputs: forward() does).
  std::size_t max_positions() const override { return positions_; }

  void forward(const PackedBatch& batch, float* out) const override {
    compute::ThreadScope threads(threads_);
    const std::size_t T = batch.tokens(), H = hidden_;
    if (T == 0) return;
    embed_tokens(batch, out);
    const LayerBuffers buf = layer_buffers(T, H, intermediate_);
    float* embedded = nullptr;  // the encoder's input, for the convolution after the first layer
    if (conv_) {
      // Beside layer_buffers' slots kModel0..3 in this thread's workspace.
      embedded = compute::thread_workspace().floats(compute::Workspace::kModel4, T * H);
      std::copy(out, out + T * H, embedded);
    }

    // Per sequence: the relative-position row c2p / p2c use for every distance i - j.
    const bool rel_bias = relative_attention_ && (c2p_ || p2c_);
    std::vector<std::vector<int32_t>> c2p_index(batch.sequences()), p2c_index(batch.sequences());
    if (rel_bias)
      for (std::size_t s = 0; s < batch.sequences(); ++s) relative_indices(batch.length(s), c2p_index[s], p2c_index[s]);

    // As transformers: scores / sqrt(head_dim * scale_factor), and each position term divided by the same.
    const auto head_scale = static_cast<double>(head_dim_) * static_cast<double>(scale_factor_);
    const float scale = static_cast<float>(1.0 / std::sqrt(head_scale));
    const float rel_divisor = static_cast<float>(std::sqrt(head_scale));
    const std::size_t ld = 3 * H, items = batch.sequences() * heads_;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto& L = layers_[l];
      L.layer.qkv.forward(out, T, buf.qkv);
      // (sequence, head) pairs in parallel: each builds its head's [len, len] position bias, then attends.
      compute::parallel_for(items, 1, [&](std::size_t begin, std::size_t end, int) {
        thread_local std::vector<float> bias, bias_scratch, attention_scratch;
        for (std::size_t item = begin; item < end; ++item) {
          const std::size_t s = item / heads_, h = item % heads_;
          const std::size_t off = batch.offsets[s], n = batch.length(s);
          if (n == 0) continue;
          const float* q = buf.qkv + off * ld;
          const float* k = q + H;
          const float* v = q + 2 * H;
          const float* head_bias = nullptr;
          if (rel_bias) {
            compute::DisentangledBiasArgs b;
            b.q = q;
            b.k = k;
            b.ld = ld;
            b.len = n;
            b.head_dim = head_dim_;
            b.pos_key = c2p_ ? L.pos_key.data() : nullptr;
            b.pos_query = p2c_ ? L.pos_query.data() : nullptr;
            b.ld_pos = H;
            b.c2p_index = c2p_ ? c2p_index[s].data() : nullptr;
            b.p2c_index = p2c_ ? p2c_index[s].data() : nullptr;
            b.scale = rel_divisor;
            bias.resize(n * n);
            compute::disentangled_attention_bias(b, h, bias.data(), bias_scratch);
            head_bias = bias.data();
          }
          const std::size_t col = h * head_dim_;
          compute::attention({q + col, k + col, v + col, ld, n, 1, head_dim_, scale, head_bias,
                              buf.context + off * H + col, H, L.layer.qkv.precision() != Precision::FP32},
                             attention_scratch);
        }
      });
      L.layer.rest.forward(buf, T, out);
      if (l == 0 && conv_) apply_conv(batch, embedded, out);
    }
  }

 private:
  void parse_pos_att_type(const io::JsonObject& c) {
    std::vector<std::string> types;
    if (c.has("pos_att_type")) {
      const auto& value = c.get("pos_att_type");
      if (value.is_string()) {
        types = split_options(value.get<std::string>());
      } else if (value.is_array()) {
        for (const auto& t : value) {
          if (!t.is_string()) c.fail("pos_att_type", "expected a list of strings");
          types.push_back(t.get<std::string>());
        }
      } else {
        c.fail("pos_att_type", "expected a list of strings or a \"|\"-separated string");
      }
    }
    for (const auto& t : types) {
      if (t == "c2p")
        c2p_ = true;
      else if (t == "p2c")
        p2c_ = true;
      else if (t != "none" && !t.empty())
        c.fail("pos_att_type", "unsupported entry \"" + t + "\" (supported: c2p, p2c)");
    }
    // As transformers: the scores are scaled by 1 / sqrt(head_dim * (1 + number of position terms)),
    // whether or not relative_attention is on.
    scale_factor_ = 1 + (c2p_ ? 1 : 0) + (p2c_ ? 1 : 0);
  }

  void parse_norm_rel_ebd(const io::JsonObject& c) {
    for (const auto& t : split_options(c.get_string("norm_rel_ebd", "none"))) {
      if (t == "layer_norm")
        rel_layer_norm_ = true;
      else if (t != "none")
        c.fail("norm_rel_ebd", "unsupported value \"" + t + "\" (supported: layer_norm, none)");
    }
  }

  void load_conv(const io::JsonObject& c, const io::WeightStore& w) {
    const int64_t kernel = c.get_int("conv_kernel_size", 0);
    if (kernel <= 0) return;
    const int64_t groups = c.get_int("conv_groups", 1);
    if (kernel % 2 == 0)
      c.fail("conv_kernel_size", "unsupported even kernel size " + std::to_string(kernel) +
                                     " (the convolution would not keep the sequence length)");
    if (groups < 1 || hidden_ % static_cast<std::size_t>(groups) != 0)
      c.fail("conv_groups", "must divide hidden_size " + std::to_string(hidden_));
    conv_act_ = compute::parse_activation(c.get_string("conv_act", "tanh"), c.file() + ": field 'conv_act'");
    const std::size_t H = hidden_, per_group = H / static_cast<std::size_t>(groups), K = static_cast<std::size_t>(kernel);
    auto weight = w.get("encoder.conv.conv.weight",
                        {static_cast<int64_t>(H), static_cast<int64_t>(per_group), static_cast<int64_t>(K)});
    conv_bias_ = w.get_owned("encoder.conv.conv.bias", {static_cast<int64_t>(H)});
    conv_norm_ = load_layer_norm(w, "encoder.conv.LayerNorm", static_cast<int64_t>(H));
    // One dense [H, H] matrix per kernel tap (block-diagonal when grouped): y[t] += W_tap x[t + tap - pad].
    for (std::size_t tap = 0; tap < K; ++tap) {
      auto dense = std::make_shared<std::vector<float>>(H * H, 0.0f);
      for (std::size_t o = 0; o < H; ++o) {
        const std::size_t group = o / per_group;
        for (std::size_t ci = 0; ci < per_group; ++ci)
          (*dense)[o * H + group * per_group + ci] = weight.data[(o * per_group + ci) * K + tap];
      }
      io::FloatTensor t;
      t.shape = {static_cast<int64_t>(H), static_cast<int64_t>(H)};
      t.data = dense->data();
      t.owner = dense;
      conv_taps_.emplace_back(std::move(t), std::nullopt);
    }
    conv_ = true;
  }

  // encoder.conv (ConvLayer): out = LayerNorm(out + act(conv1d(embedded))), zero-padded per sequence.
  void apply_conv(const PackedBatch& batch, const float* embedded, float* out) const {
    const std::size_t T = batch.tokens(), H = hidden_, K = conv_taps_.size(), pad = (K - 1) / 2;
    std::vector<float> conv(T * H), tap_out;
    for (std::size_t t = 0; t < T; ++t) std::copy(conv_bias_.data, conv_bias_.data + H, conv.data() + t * H);
    for (std::size_t s = 0; s < batch.sequences(); ++s) {
      const auto n = static_cast<std::ptrdiff_t>(batch.length(s));
      const std::size_t base = batch.offsets[s];
      for (std::size_t tap = 0; tap < K; ++tap) {
        const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(tap) - static_cast<std::ptrdiff_t>(pad);
        const std::ptrdiff_t first = std::max<std::ptrdiff_t>(0, -shift), last = std::min(n, n - shift);
        if (first >= last) continue;
        const auto rows = static_cast<std::size_t>(last - first);
        tap_out.resize(rows * H);
        conv_taps_[tap].forward(embedded + (base + static_cast<std::size_t>(first + shift)) * H, rows, tap_out.data());
        float* dst = conv.data() + (base + static_cast<std::size_t>(first)) * H;
        for (std::size_t j = 0; j < rows * H; ++j) dst[j] += tap_out[j];
      }
    }
    compute::apply_activation(conv_act_, conv.data(), conv.size());
    compute::add_layer_norm(conv.data(), out, T, H, conv_norm_.gamma.data, conv_norm_.beta.data, block_.eps);
    std::copy(conv.begin(), conv.end(), out);
  }

  // transformers' build_relative_position (query - key, log-bucketed when position_buckets > 0), shifted
  // by the span and clamped into the relative embedding table, for every distance d = i - j of a sequence
  // of n tokens at [d + n - 1]. p2c looks the table up with the key-to-query position, negated.
  void relative_indices(std::size_t n, std::vector<int32_t>& c2p, std::vector<int32_t>& p2c) const {
    const auto N = static_cast<int64_t>(n);
    const std::size_t D = n == 0 ? 0 : 2 * n - 1;
    c2p.resize(D);
    p2c.resize(D);
    auto bucket = [&](int64_t d) { return buckets_ > 0 ? log_bucket_position(d, buckets_, max_relative_) : d; };
    auto clamp = [&](int64_t r) { return static_cast<int32_t>(std::clamp<int64_t>(r + span_, 0, 2 * span_ - 1)); };
    for (int64_t d = -(N - 1); d <= N - 1; ++d) {
      c2p[static_cast<std::size_t>(d + N - 1)] = clamp(bucket(d));
      p2c[static_cast<std::size_t>(d + N - 1)] = clamp(-bucket(-d));
    }
  }

  void embed_tokens(const PackedBatch& batch, float* out) const {
    const std::size_t H = hidden_, E = embedding_size_;
    std::vector<float> staged;
    float* dst = out;
    if (E != H) {
      staged.resize(batch.tokens() * E);
      dst = staged.data();
    }
    for (std::size_t s = 0; s < batch.sequences(); ++s) {
      // Only absolute positions bound the length: relative ones accept longer inputs.
      if (position_biased_input_) check_sequence_length(batch.length(s), positions_);
      for (std::size_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
        const float* we = word_embedding_row(word_, vocab_, E, batch.ids[t]);
        float* o = dst + t * E;
        std::copy(we, we + E, o);
        if (position_biased_input_) add_row(o, position_.data + (t - batch.offsets[s]) * E, E);
        if (type_vocab_ > 0) add_row(o, type_embedding_row(token_type_, type_vocab_, E, batch.type_ids[t]), E);
      }
    }
    if (E != H) embed_proj_.forward(staged.data(), batch.tokens(), out);
    compute::add_layer_norm(out, nullptr, batch.tokens(), H, embedding_norm_.gamma.data, embedding_norm_.beta.data,
                            block_.eps);
  }

  std::size_t hidden_ = 0, heads_ = 0, head_dim_ = 0, layers_n_ = 0, intermediate_ = 0, vocab_ = 0, positions_ = 0;
  std::size_t type_vocab_ = 0, embedding_size_ = 0;
  bool position_biased_input_ = true, relative_attention_ = false, share_att_key_ = false, rel_layer_norm_ = false;
  bool c2p_ = false, p2c_ = false, conv_ = false;
  int scale_factor_ = 1, threads_ = 1;
  int64_t max_relative_ = 0, buckets_ = -1, span_ = 0;
  BlockShape block_;  // layer_norm_eps (also every other LayerNorm here) and hidden_act
  compute::Activation conv_act_ = compute::Activation::Tanh;
  io::FloatTensor word_, position_, token_type_, conv_bias_;
  compute::Linear embed_proj_;
  LayerNormWeights embedding_norm_, conv_norm_;
  std::vector<compute::Linear> conv_taps_;
  std::vector<DebertaLayer> layers_;
};

}  // namespace

std::unique_ptr<Encoder> create_deberta_v2(EncoderContext& ctx, io::WeightStore& weights) {
  if (weights.has("deberta.embeddings.word_embeddings.weight")) weights.set_prefix("deberta.");
  return std::make_unique<DebertaV2Encoder>(ctx, weights);
}

}  // namespace embed::models
