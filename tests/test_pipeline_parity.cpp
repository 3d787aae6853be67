// The whole sentence-transformers pipeline through embed::Model against the fixtures: token ids from
// the model's own tokenizer, token embeddings, the configured sentence embedding (pooling, Normalize),
// and batch invariance. To add a fixture, add its directory name to kFixtures.
#include <gtest/gtest.h>

#include "compute/small_gemm.hpp"
#include "embed/model.hpp"
#include "support/expect_error.hpp"
#include "support/fixture.hpp"

using embed::testing::ModelFixture;

namespace {

// How far the same text's outputs may move with the texts it is batched with: not at all where embed's
// own fp32 kernels run every GEMM (AVX-512: small_gemm and dot_gemm sum each row in the same order at any
// row count); within float rounding where oneDNN does (its kernels for other row counts sum in another
// order: CPUs without AVX-512, the avx2.* runs of these tests).
double grouping_tolerance(double rounding) { return embed::compute::small_gemm_available() ? 0.0 : rounding; }

const std::vector<std::string> kFixtures = {"bert-tiny", "mpnet-tiny", "deberta-v3-tiny", "multilingual-tiny"};

class PipelineParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    fixture_ = std::make_unique<ModelFixture>(GetParam());
    model_ = embed::Model::load(fixture_->dir());
    for (std::size_t i = 0; i < fixture_->num_texts(); ++i) texts_.push_back(fixture_->text(i)["text"]);
  }
  // Where expected.json records that sentencepiece and the Rust library split a text differently, the
  // fixture's embeddings are for the sentencepiece ids; either id sequence is a correct tokenization.
  bool ids_match(std::size_t i, const std::vector<int32_t>& ids) const {
    const auto& t = fixture_->text(i);
    if (ids == t["input_ids"].get<std::vector<int32_t>>()) return true;
    return t.contains("fast_input_ids") && ids == t["fast_input_ids"].get<std::vector<int32_t>>();
  }
  bool embeddings_comparable(std::size_t i, const std::vector<int32_t>& ids) const {
    return ids == fixture_->text(i)["input_ids"].get<std::vector<int32_t>>();
  }
  std::unique_ptr<ModelFixture> fixture_;
  std::shared_ptr<const embed::Model> model_;
  std::vector<std::string> texts_;
};

TEST_P(PipelineParity, TokenIdsAndTokenEmbeddings) {
  auto out = model_->encode_tokens(texts_);
  ASSERT_EQ(out.size(), texts_.size());
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    const auto& enc = out[i].encoding;
    EXPECT_TRUE(ids_match(i, enc.ids)) << "text " << i << ": token ids differ from the reference";
    EXPECT_EQ(enc.attention_mask, fixture_->text(i)["attention_mask"].get<std::vector<int32_t>>()) << "text " << i;
    EXPECT_EQ(enc.truncated, fixture_->text(i)["truncated"].get<bool>()) << "text " << i;
    if (!embeddings_comparable(i, enc.ids)) continue;
    auto expected = fixture_->tensor("text." + std::to_string(i) + ".last_hidden_state.f64");
    EXPECT_LE(embed::testing::max_abs_diff(out[i].embeddings.data, expected), 1e-4) << "text " << i;
  }
}

TEST_P(PipelineParity, SentenceEmbeddings) {
  auto e = model_->encode(texts_);
  ASSERT_EQ(e.rows, texts_.size());
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    if (!embeddings_comparable(i, model_->tokenize(texts_[i]).ids)) continue;
    std::vector<float> row(e.row(i), e.row(i) + e.cols);
    auto expected = fixture_->tensor("text." + std::to_string(i) + ".sentence_embedding.f64");
    EXPECT_LE(embed::testing::max_abs_diff(row, expected), 1e-5) << "text " << i;
    EXPECT_GE(embed::testing::cosine(row, expected), 0.99999) << "text " << i;
  }
}

TEST_P(PipelineParity, EveryPoolingModeThroughTheModel) {
  for (const auto& [name, mode] : embed::testing::kFixturePoolingModes) {
    embed::EncodeOptions options;
    options.pooling = std::vector<embed::PoolingMode>{mode};
    options.normalize = false;
    auto e = model_->encode(texts_, options);
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      if (!embeddings_comparable(i, model_->tokenize(texts_[i]).ids)) continue;
      std::vector<float> row(e.row(i), e.row(i) + e.cols);
      auto expected = fixture_->tensor("text." + std::to_string(i) + ".pooled." + name + ".f64");
      EXPECT_LE(embed::testing::max_abs_diff(row, expected), 1e-5) << "text " << i << " " << name;
    }
  }
}

TEST_P(PipelineParity, EmbeddingAloneEqualsEmbeddingInMixedBatch) {
  auto batch = model_->encode(texts_, {.batch_size = 5});
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    auto alone = model_->encode(std::span<const std::string>(&texts_[i], 1));
    for (std::size_t j = 0; j < batch.cols; ++j)
      ASSERT_NEAR(alone.data[j], batch.row(i)[j], grouping_tolerance(1e-5)) << "text " << i << " dim " << j;
  }
}

// A call whose texts hold far more tokens than one forward pass takes (512) is cut into several passes:
// every text still gets what it gets alone.
TEST_P(PipelineParity, ForwardPassesCutByTokensEqualTextsAlone) {
  std::vector<std::string> many;
  std::size_t tokens = 0;
  while (tokens < 4 * 512)
    for (const auto& t : texts_) {
      many.push_back(t);
      tokens += model_->tokenize(t).ids.size();
    }
  auto together = model_->encode(many, {.batch_size = many.size()});
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    auto alone = model_->encode(std::span<const std::string>(&texts_[i], 1));
    for (std::size_t copy = i; copy < many.size(); copy += texts_.size())
      for (std::size_t j = 0; j < together.cols; ++j)
        ASSERT_NEAR(together.row(copy)[j], alone.data[j], grouping_tolerance(1e-5))
            << "text " << i << " copy " << copy << " dim " << j;
  }
}

// Two threads each running whole batches (and a lone large batch split between threads) must give what one
// thread gives on one batch: batching never changes the numbers.
TEST_P(PipelineParity, BatchesOnSeveralThreadsEqualOneThread) {
  auto one_thread = embed::Model::load(fixture_->dir(), {.threads = 1});
  auto two_threads = embed::Model::load(fixture_->dir(), {.threads = 2});
  const auto reference = one_thread->encode(texts_, {.batch_size = texts_.size()});
  for (std::size_t batch_size : {std::size_t{1}, std::size_t{3}, texts_.size()}) {
    const auto tokens = two_threads->encode_tokens(texts_, {.batch_size = batch_size});
    const auto pooled = two_threads->encode(texts_, {.batch_size = batch_size});
    ASSERT_EQ(tokens.size(), texts_.size());
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      EXPECT_EQ(tokens[i].embeddings.rows, tokens[i].encoding.length()) << "text " << i;
      for (std::size_t j = 0; j < pooled.cols; ++j)
        ASSERT_NEAR(pooled.row(i)[j], reference.row(i)[j], grouping_tolerance(1e-6))
            << "batch size " << batch_size << " text " << i;
    }
  }
}

TEST_P(PipelineParity, TruncatedTextsAreReported) {
  embed::EncodeReport report;
  model_->encode(texts_, {.report = &report});
  std::size_t expected = 0;
  for (std::size_t i = 0; i < texts_.size(); ++i) expected += fixture_->text(i)["truncated"].get<bool>() ? 1 : 0;
  EXPECT_EQ(report.truncated_texts, expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PipelineParity, ::testing::ValuesIn(kFixtures), [](const auto& info) {
  std::string n = info.param;
  for (auto& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

}  // namespace

// Encode options a model cannot honour are refused by name, not clamped or ignored.
TEST(EncodeOptionErrors, AreNamed) {
  const auto model = embed::Model::load(ModelFixture("bert-tiny").dir());
  const std::vector<std::string> texts = {"hello world"};
  auto message = [&](const embed::EncodeOptions& o) -> std::string {
    try {
      model->encode(texts, o);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(no error)";
  };
  embed::EncodeOptions o;
  o.batch_size = 0;
  EXPECT_EQ(message(o), "batch_size must be at least 1");
  o = {};
  o.max_seq_length = 0;
  EXPECT_EQ(message(o), "max_seq_length must be at least 1");
  o = {};
  o.max_seq_length = model->max_seq_length() + 100000;
  EXPECT_EQ(message(o), "(no error)") << "the texts fit the position table";
  {
    std::string long_text;
    for (int i = 0; i < 600; ++i) long_text += "word ";
    const std::vector<std::string> long_texts = {long_text};
    const auto m = embed::testing::error_message([&] { model->encode(long_texts, o); });
    EXPECT_CONTAINS(m, "texts[0] has ");
    EXPECT_CONTAINS(m, "more than the model's 512 positions: max_seq_length " +
                           std::to_string(model->max_seq_length() + 100000) + " exceeds them; set max_seq_length to 512");
  }
  o = {};
  o.pooling = std::vector<embed::PoolingMode>{};
  EXPECT_EQ(message(o), "no pooling mode given");
}
