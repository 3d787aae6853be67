// Encoder parity against the Hugging Face transformers fixtures: token embeddings of every text, alone
// and packed in one batch, and every pooling mode, compared to the float64 reference.
// To add an architecture's fixture, add its directory name to kFixtures.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "embed/error.hpp"
#include "embed/model.hpp"
#include "models/encoder.hpp"
#include "models/transformer_block.hpp"
#include "pipeline/pooling.hpp"
#include "support/fixture.hpp"

using embed::testing::ModelFixture;

namespace {

const std::vector<std::string> kFixtures = {"bert-tiny", "mpnet-tiny", "deberta-v3-tiny"};

constexpr double kTokenTolerance = 1e-4;
constexpr double kPooledTolerance = 1e-5;

std::vector<int32_t> as_ids(const nlohmann::json& a) { return a.get<std::vector<int32_t>>(); }

class EncoderParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fixture_ = std::make_unique<ModelFixture>(GetParam());
    loaded_ = embed::models::load_encoder(fixture_->dir(), {});
  }
  embed::models::PackedBatch single(std::size_t i) const {
    embed::models::PackedBatch b;
    const auto& t = fixture_->text(i);
    std::vector<int32_t> types =
        t.value("token_type_ids", nlohmann::json()).is_array() ? as_ids(t["token_type_ids"]) : std::vector<int32_t>{};
    b.add(as_ids(t["input_ids"]), types);
    return b;
  }
  std::unique_ptr<ModelFixture> fixture_;
  embed::models::LoadedEncoder loaded_;
};

TEST_P(EncoderParity, TokenEmbeddingsOfEachText) {
  const std::size_t H = loaded_.encoder->hidden_size();
  for (std::size_t i = 0; i < fixture_->num_texts(); ++i) {
    auto batch = single(i);
    std::vector<float> out(batch.tokens() * H);
    loaded_.encoder->forward(batch, out.data());
    auto expected = fixture_->tensor("text." + std::to_string(i) + ".last_hidden_state.f64");
    EXPECT_LE(embed::testing::max_abs_diff(out, expected), kTokenTolerance) << "text " << i;
  }
}

TEST_P(EncoderParity, EveryPoolingModeOfEachText) {
  const std::size_t H = loaded_.encoder->hidden_size();
  for (std::size_t i = 0; i < fixture_->num_texts(); ++i) {
    auto batch = single(i);
    std::vector<float> out(batch.tokens() * H);
    loaded_.encoder->forward(batch, out.data());
    for (const auto& [name, mode] : embed::testing::kFixturePoolingModes) {
      std::vector<float> pooled(H);
      embed::pipeline::pool(out.data(), batch.tokens(), H, {mode}, pooled.data());
      auto expected = fixture_->tensor("text." + std::to_string(i) + ".pooled." + name + ".f64");
      EXPECT_LE(embed::testing::max_abs_diff(pooled, expected), kPooledTolerance) << "text " << i << " " << name;
      EXPECT_GE(embed::testing::cosine(pooled, expected), 0.99999) << "text " << i << " " << name;
    }
  }
}

// The fixture's texts packed into one batch, repeated until the batch spans more than two of the
// feed-forward network's row chunks (models::kFeedForwardRows) and ends in a partial one.
TEST_P(EncoderParity, PackedBatchEqualsSingleTexts) {
  const std::size_t H = loaded_.encoder->hidden_size();
  const std::size_t n = fixture_->num_texts();
  embed::models::PackedBatch all;
  while (all.tokens() <= 2 * embed::models::kFeedForwardRows || all.tokens() % embed::models::kFeedForwardRows == 0)
    for (std::size_t i = 0; i < n; ++i) {
      auto b = single(i);
      all.add(b.ids, b.type_ids);
    }
  std::vector<float> packed(all.tokens() * H);
  loaded_.encoder->forward(all, packed.data());
  for (std::size_t s = 0; s + 1 < all.offsets.size(); ++s) {
    const std::size_t i = s % n;
    auto b = single(i);
    std::vector<float> alone(b.tokens() * H);
    loaded_.encoder->forward(b, alone.data());
    std::vector<double> alone_d(alone.begin(), alone.end());
    std::vector<float> slice(packed.begin() + all.offsets[s] * H, packed.begin() + all.offsets[s + 1] * H);
    EXPECT_LE(embed::testing::max_abs_diff(slice, alone_d), 1e-5) << "text " << i << " at position " << s;
    auto expected = fixture_->tensor("text." + std::to_string(i) + ".last_hidden_state.f64");
    EXPECT_LE(embed::testing::max_abs_diff(slice, expected), kTokenTolerance) << "text " << i << " at position " << s;
  }
}

// What forward() throws for this batch ("(no error)" when it runs).
std::string forward_error(const embed::models::Encoder& encoder, const embed::models::PackedBatch& batch) {
  std::vector<float> out(batch.tokens() * encoder.hidden_size());
  try {
    encoder.forward(batch, out.data());
  } catch (const embed::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Inputs the embedding tables cannot take (a tokenizer that does not belong to the model, a hand-built
// batch) fail with the bad value and the config field it is measured against, in every architecture.
TEST_P(EncoderParity, OutOfRangeInputsNameTheValueAndTheConfigField) {
  std::ifstream config_file(fixture_->dir() + "/config.json");
  const auto config = nlohmann::json::parse(config_file);
  const auto vocab = config.at("vocab_size").get<int32_t>();
  const auto types = config.value("type_vocab_size", 0);
  const auto& encoder = *loaded_.encoder;
  const auto base = single(0);
  auto with_id = [&](int32_t id) {
    embed::models::PackedBatch b;
    auto ids = base.ids;
    ids[1] = id;
    b.add(ids, base.type_ids);
    return b;
  };
  const std::string v = std::to_string(vocab);
  EXPECT_EQ(forward_error(encoder, with_id(vocab)), "token id " + v + " is outside the vocabulary (vocab_size " + v + ")");
  EXPECT_EQ(forward_error(encoder, with_id(-1)), "token id -1 is outside the vocabulary (vocab_size " + v + ")");
  EXPECT_EQ(forward_error(encoder, with_id(vocab - 1)), "(no error)");

  auto with_type = [&](int32_t type) {
    embed::models::PackedBatch b;
    b.add(base.ids, std::vector<int32_t>(base.ids.size(), 0));
    b.type_ids[1] = type;
    return b;
  };
  const std::string t = std::to_string(types);
  if (types > 0) {
    EXPECT_EQ(forward_error(encoder, with_type(types)), "token type id " + t + " is outside type_vocab_size " + t);
    EXPECT_EQ(forward_error(encoder, with_type(-1)), "token type id -1 is outside type_vocab_size " + t);
    EXPECT_EQ(forward_error(encoder, with_type(types - 1)), "(no error)");
  } else {
    EXPECT_EQ(forward_error(encoder, with_type(5)), "(no error)");  // no token type embeddings: ids unused
  }

  // One token more than the positions the model advertises (a sequence of a repeated ordinary token).
  const std::size_t limit = encoder.max_positions();
  embed::models::PackedBatch too_long;
  too_long.add(std::vector<int32_t>(limit + 1, base.ids[1]), {});
  const std::string expected = "sequence of " + std::to_string(limit + 1) + " tokens is longer than the model's " +
                               std::to_string(limit) + " positions (max_position_embeddings)";
  if (config.value("position_biased_input", true))
    EXPECT_EQ(forward_error(encoder, too_long), expected);
  else  // relative positions only (DeBERTa-v3): longer inputs run, as in transformers
    EXPECT_EQ(forward_error(encoder, too_long), "(no error)");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EncoderParity, ::testing::ValuesIn(kFixtures),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
