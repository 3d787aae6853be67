// Encoder parity against the Hugging Face transformers fixtures: token embeddings of every text, alone
// and packed in one batch, and every pooling mode, compared to the float64 reference.
// To add an architecture's fixture, add its directory name to kFixtures.
#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(Fixtures, EncoderParity, ::testing::ValuesIn(kFixtures),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
