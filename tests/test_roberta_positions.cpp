// RoBERTa / XLM-RoBERTa positions: BertModel's layers with position ids counted from padding_idx + 1
// (padding_idx = config.pad_token_id), as transformers' create_position_ids_from_input_ids gives, also
// for a sequence with pad tokens inside it. Tiny random models are written to a temp dir (config.json + safetensors).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "embed/error.hpp"
#include "models/encoder.hpp"
#include "support/tiny_model.hpp"

namespace {

constexpr int64_t kHidden = 8, kVocab = 20, kPositions = 12, kInter = 12;

using Tensors = embed::testing::TinyTensors;

Tensors random_weights(int layers, const std::string& prefix, unsigned seed) {
  Tensors t;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float base = 0.0f) {
    embed::testing::add_random_tensor(t, prefix + name, std::move(shape), seed, base);
  };
  add("embeddings.word_embeddings.weight", {kVocab, kHidden});
  add("embeddings.position_embeddings.weight", {kPositions, kHidden});
  add("embeddings.token_type_embeddings.weight", {1, kHidden});
  add("embeddings.LayerNorm.weight", {kHidden}, 1.0f);
  add("embeddings.LayerNorm.bias", {kHidden});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + n + ".weight", {kHidden, kHidden});
      add(p + n + ".bias", {kHidden});
    }
    add(p + "intermediate.dense.weight", {kInter, kHidden});
    add(p + "intermediate.dense.bias", {kInter});
    add(p + "output.dense.weight", {kHidden, kInter});
    add(p + "output.dense.bias", {kHidden});
    for (const char* n : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      add(p + n + ".weight", {kHidden}, 1.0f);
      add(p + n + ".bias", {kHidden});
    }
  }
  return t;
}

// Writes config.json + model.safetensors into a fresh temp dir.
std::filesystem::path write_model(const std::string& tag, const std::string& model_type, int pad_token_id,
                                  int layers, const Tensors& tensors) {
  const nlohmann::json config = {{"model_type", model_type}, {"hidden_size", kHidden},
                                 {"num_attention_heads", 2},  {"num_hidden_layers", layers},
                                 {"intermediate_size", kInter}, {"vocab_size", kVocab},
                                 {"max_position_embeddings", kPositions}, {"type_vocab_size", 1},
                                 {"pad_token_id", pad_token_id}, {"hidden_act", "gelu"},
                                 {"layer_norm_eps", 1e-5}};
  return embed::testing::write_tiny_model(tag, config, tensors);
}

std::vector<float> run(const std::filesystem::path& dir, const std::vector<int32_t>& ids) {
  auto loaded = embed::models::load_encoder(dir, {});
  embed::models::PackedBatch batch;
  batch.add(ids, {});
  std::vector<float> out(batch.tokens() * loaded.encoder->hidden_size());
  loaded.encoder->forward(batch, out.data());
  return out;
}

// LayerNorm(word[ids[i]] + position[positions[i]] + token_type[0]) per token, in double.
std::vector<double> direct_embeddings_at(const Tensors& t, const std::vector<int32_t>& ids,
                                         const std::vector<std::size_t>& positions) {
  const auto& word = t.at("embeddings.word_embeddings.weight").second;
  const auto& pos = t.at("embeddings.position_embeddings.weight").second;
  const auto& type = t.at("embeddings.token_type_embeddings.weight").second;
  const auto& gamma = t.at("embeddings.LayerNorm.weight").second;
  const auto& beta = t.at("embeddings.LayerNorm.bias").second;
  std::vector<double> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::vector<double> x(kHidden);
    double mean = 0, var = 0;
    for (int64_t j = 0; j < kHidden; ++j) {
      x[j] = double(word[ids[i] * kHidden + j]) + pos[positions[i] * kHidden + j] + type[j];
      mean += x[j] / kHidden;
    }
    for (auto v : x) var += (v - mean) * (v - mean) / kHidden;
    for (int64_t j = 0; j < kHidden; ++j) out.push_back((x[j] - mean) / std::sqrt(var + 1e-5) * gamma[j] + beta[j]);
  }
  return out;
}

// The same with positions t + offset.
std::vector<double> direct_embeddings(const Tensors& t, const std::vector<int32_t>& ids, std::size_t offset) {
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < ids.size(); ++i) positions.push_back(i + offset);
  return direct_embeddings_at(t, ids, positions);
}

// transformers' create_position_ids_from_input_ids for one sequence, written as its formula:
// mask = (ids != padding_idx); positions = cumsum(mask) * mask + padding_idx.
std::vector<std::size_t> reference_position_ids(const std::vector<int32_t>& ids, int padding_idx) {
  std::vector<int> mask, cumsum;
  for (auto id : ids) mask.push_back(id != padding_idx ? 1 : 0);
  int running = 0;
  for (auto m : mask) cumsum.push_back(running += m);
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < ids.size(); ++i)
    positions.push_back(static_cast<std::size_t>(cumsum[i] * mask[i] + padding_idx));
  return positions;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

const std::vector<int32_t> kIds = {0, 5, 9, 13, 2};  // <s> ... </s>, no pad token

TEST(RobertaPositions, EmbeddingsUsePaddingIdxPlusOneOffset) {
  // model_type, pad_token_id: positions start at pad_token_id + 1.
  for (const auto& [type, pad] : std::vector<std::pair<std::string, int>>{{"roberta", 1}, {"xlm-roberta", 1}, {"roberta", 3}}) {
    const auto weights = random_weights(0, "", 7);
    const auto dir = write_model("roberta-pos", type, pad, 0, weights);
    const auto out = run(dir, kIds);
    const auto offset = static_cast<std::size_t>(pad + 1);
    EXPECT_LE(max_abs_diff(out, direct_embeddings(weights, kIds, offset)), 1e-5) << type << " pad " << pad;
    // The check can tell offsets apart: the unshifted positions give a clearly different result.
    EXPECT_GT(max_abs_diff(out, direct_embeddings(weights, kIds, 0)), 1e-2) << type << " pad " << pad;
  }
}

TEST(RobertaPositions, PadTokensInsideTheTextTakePaddingIdxAndAreNotCounted) {
  // A literal <pad> inside the text (e.g. "a <pad> b"): transformers gives it position padding_idx and
  // counts only the other tokens, so the tokens after it do not shift.
  for (const auto& [pad, ids] : std::vector<std::pair<int, std::vector<int32_t>>>{
           {1, {0, 5, 1, 9, 1, 1, 13, 2}}, {3, {0, 3, 5, 3, 9, 2}}, {1, {1, 0, 5, 2}}}) {
    const auto weights = random_weights(0, "", 5);
    const auto dir = write_model("roberta-pad-inside", "roberta", pad, 0, weights);
    const auto out = run(dir, ids);
    EXPECT_LE(max_abs_diff(out, direct_embeddings_at(weights, ids, reference_position_ids(ids, pad))), 1e-5)
        << "pad " << pad;
    // The check can tell the positions apart: counting every token gives a clearly different result.
    EXPECT_GT(max_abs_diff(out, direct_embeddings(weights, ids, static_cast<std::size_t>(pad + 1))), 1e-2)
        << "pad " << pad;
  }
}

TEST(RobertaPositions, FullModelEqualsBertWithShiftedPositionTable) {
  // A 2-layer RoBERTa (names with the "roberta." prefix) == BERT on the same weights whose position
  // table starts at row padding_idx + 1.
  const auto roberta = random_weights(2, "roberta.", 11);
  Tensors bert;
  for (const auto& [name, t] : roberta) bert[name.substr(std::strlen("roberta."))] = t;
  auto& pos = bert["embeddings.position_embeddings.weight"].second;
  pos.erase(pos.begin(), pos.begin() + 2 * kHidden);
  pos.resize(static_cast<std::size_t>(kPositions * kHidden), 0.0f);
  const auto a = run(write_model("roberta-full", "roberta", 1, 2, roberta), kIds);
  const auto b = run(write_model("bert-shifted", "bert", 1, 2, bert), kIds);
  std::vector<double> b_d(b.begin(), b.end());
  EXPECT_LE(max_abs_diff(a, b_d), 1e-6);
}

TEST(RobertaPositions, LengthLimitLeavesRoomForTheOffset) {
  const auto dir = write_model("roberta-len", "roberta", 1, 0, random_weights(0, "", 3));
  auto loaded = embed::models::load_encoder(dir, {});
  EXPECT_EQ(loaded.encoder->max_positions(), static_cast<std::size_t>(kPositions - 2));
  embed::models::PackedBatch too_long;
  too_long.add(std::vector<int32_t>(kPositions - 1, 5), {});
  std::vector<float> out(too_long.tokens() * kHidden);
  EXPECT_THROW(loaded.encoder->forward(too_long, out.data()), embed::Error);
}

}  // namespace
