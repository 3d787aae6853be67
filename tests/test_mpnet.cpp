// MPNet details the mpnet-tiny fixture does not reach: the relative position buckets at their edges,
// positions around a pad token inside a sequence, the "mpnet." weight prefix, and config errors.
#include <gtest/gtest.h>

#include <cmath>

#include "compute/relative_position.hpp"
#include "embed/error.hpp"
#include "models/encoder.hpp"
#include "support/tiny_model.hpp"

namespace {

constexpr int64_t kHidden = 8, kVocab = 20, kPositions = 16, kHeads = 2;

TEST(MPNetRelativePosition, BucketsMatchTransformers) {
  // (key - query, bucket) from transformers' MPNetEncoder.relative_position_bucket (32 buckets, max
  // distance 128): exact up to 7, log-spaced to 128, keys after the query in the upper half.
  const std::pair<int, int> expected[] = {
      {0, 0},    {-1, 1},   {1, 17},   {-7, 7},    {-8, 8},    {-11, 8},   {-12, 9},   {-15, 9},
      {-16, 10}, {-22, 10}, {-23, 11}, {-31, 11},  {-32, 12},  {-45, 12},  {-46, 13},  {-63, 13},
      {-64, 14}, {-90, 14}, {-91, 15}, {-128, 15}, {-500, 15}, {7, 23},    {8, 24},    {16, 26},
      {32, 28},  {64, 30},  {128, 31}, {500, 31}};
  for (const auto& [rel, bucket] : expected)
    EXPECT_EQ(embed::compute::relative_position_bucket(rel, 32, 128, true), bucket) << "relative position " << rel;
}

TEST(MPNetRelativePosition, ExpandsPerDistanceTable) {
  // One head, max_len 3: distances -2..2 -> 10..14.
  const float table[] = {10, 11, 12, 13, 14};
  float out[4];
  embed::compute::expand_relative_bias(table, 1, 3, 2, out);
  EXPECT_EQ(out[0], 12);  // (0,0): d 0
  EXPECT_EQ(out[1], 13);  // (0,1): d 1
  EXPECT_EQ(out[2], 11);  // (1,0): d -1
  EXPECT_EQ(out[3], 12);  // (1,1): d 0
}

embed::testing::TinyTensors embeddings_only(const std::string& prefix, int64_t buckets = 32) {
  embed::testing::TinyTensors t;
  embed::testing::add_random_tensor(t, prefix + "embeddings.word_embeddings.weight", {kVocab, kHidden}, 5);
  embed::testing::add_random_tensor(t, prefix + "embeddings.position_embeddings.weight", {kPositions, kHidden}, 5);
  embed::testing::add_random_tensor(t, prefix + "embeddings.LayerNorm.weight", {kHidden}, 5, 1.0f);
  embed::testing::add_random_tensor(t, prefix + "embeddings.LayerNorm.bias", {kHidden}, 5);
  embed::testing::add_random_tensor(t, prefix + "encoder.relative_attention_bias.weight", {buckets, kHeads}, 5);
  return t;
}

nlohmann::json config(int64_t buckets = 32) {
  return {{"model_type", "mpnet"},      {"hidden_size", kHidden},        {"num_attention_heads", kHeads},
          {"num_hidden_layers", 0},     {"intermediate_size", 12},       {"vocab_size", kVocab},
          {"max_position_embeddings", kPositions}, {"relative_attention_num_buckets", buckets},
          {"pad_token_id", 1},          {"layer_norm_eps", 1e-5},        {"hidden_act", "gelu"}};
}

TEST(MPNetEmbeddings, PadTokensTakePaddingIdxAndAreNotCounted) {
  // transformers: position = padding_idx + cumulative count of non-pad tokens; a pad token gets padding_idx.
  const std::vector<int32_t> ids = {0, 5, 1, 6, 2};
  const std::vector<std::size_t> positions = {2, 3, 1, 4, 5};
  for (const std::string prefix : {"", "mpnet."}) {
    const auto t = embeddings_only(prefix);
    auto loaded = embed::models::load_encoder(embed::testing::write_tiny_model("mpnet-emb", config(), t), {});
    EXPECT_EQ(loaded.encoder->max_positions(), static_cast<std::size_t>(kPositions - 2));
    embed::models::PackedBatch batch;
    batch.add(ids, {});
    std::vector<float> out(ids.size() * kHidden);
    loaded.encoder->forward(batch, out.data());
    const auto& word = t.at(prefix + "embeddings.word_embeddings.weight").second;
    const auto& pos = t.at(prefix + "embeddings.position_embeddings.weight").second;
    const auto& gamma = t.at(prefix + "embeddings.LayerNorm.weight").second;
    const auto& beta = t.at(prefix + "embeddings.LayerNorm.bias").second;
    double max_err = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::vector<double> x(kHidden);
      double mean = 0, var = 0;
      for (int64_t j = 0; j < kHidden; ++j) {
        x[j] = double(word[ids[i] * kHidden + j]) + pos[positions[i] * kHidden + j];
        mean += x[j] / kHidden;
      }
      for (auto v : x) var += (v - mean) * (v - mean) / kHidden;
      for (int64_t j = 0; j < kHidden; ++j) {
        const double ref = (x[j] - mean) / std::sqrt(var + 1e-5) * gamma[j] + beta[j];
        max_err = std::max(max_err, std::abs(ref - out[i * kHidden + j]));
      }
    }
    EXPECT_LE(max_err, 1e-5) << "prefix '" << prefix << "'";
  }
}

TEST(MPNetConfig, TooFewRelativeBucketsNamesTheOption) {
  const auto dir = embed::testing::write_tiny_model("mpnet-buckets", config(16), embeddings_only("", 16));
  try {
    embed::models::load_encoder(dir, {});
    FAIL() << "expected embed::Error";
  } catch (const embed::Error& e) {
    EXPECT_NE(std::string(e.what()).find("relative_attention_num_buckets"), std::string::npos) << e.what();
  }
}

TEST(MPNetEmbeddings, TooLongSequenceIsAnError) {
  auto loaded = embed::models::load_encoder(embed::testing::write_tiny_model("mpnet-len", config(), embeddings_only("")), {});
  embed::models::PackedBatch batch;
  batch.add(std::vector<int32_t>(kPositions - 1, 5), {});
  std::vector<float> out(batch.tokens() * kHidden);
  EXPECT_THROW(loaded.encoder->forward(batch, out.data()), embed::Error);
}

}  // namespace
