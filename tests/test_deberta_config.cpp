// DeBERTa-v2 config handling the deberta-v3-tiny parity fixture does not reach: unsupported options are
// refused naming the option, equivalent spellings of supported ones load, the "deberta." weight prefix,
// and inputs longer than max_position_embeddings when the model has no absolute positions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "embed/error.hpp"
#include "io/tensor_data.hpp"
#include "models/encoder.hpp"
#include "support/fixture.hpp"
#include "support/test_support.hpp"
#include "support/tiny_model.hpp"

namespace fs = std::filesystem;

namespace {

fs::path fixture_dir() { return embed::testing::data_path("models/deberta-v3-tiny"); }

nlohmann::json fixture_config() { return embed::testing::read_json_file(fixture_dir() / "config.json"); }

// A model directory with `config` and the fixture's weights (a symlink, or a copy where links fail).
fs::path with_config(const std::string& tag, const nlohmann::json& config) {
  const fs::path dir = embed::testing::make_temp_dir("deberta-" + tag);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::error_code ec;
  fs::create_symlink(fixture_dir() / "model.safetensors", dir / "model.safetensors", ec);
  if (ec) fs::copy_file(fixture_dir() / "model.safetensors", dir / "model.safetensors");
  return dir;
}

// The message of the embed::Error that loading `config` throws ("" when it loads).
std::string load_error(const std::string& tag, const nlohmann::json& config) {
  try {
    embed::models::load_encoder(with_config(tag, config), {});
  } catch (const embed::Error& e) {
    return e.what();
  }
  return "";
}

std::vector<float> run(const embed::models::LoadedEncoder& loaded, const std::vector<int32_t>& ids) {
  embed::models::PackedBatch batch;
  batch.add(ids, {});
  std::vector<float> out(ids.size() * loaded.encoder->hidden_size());
  loaded.encoder->forward(batch, out.data());
  return out;
}

// The same model computed twice: only the GEMM backend's run-to-run rounding may differ (its kernel
// choice can depend on buffer alignment and thread count).
constexpr double kSameModel = 1e-5;

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  return embed::testing::max_abs_diff(a, std::vector<double>(b.begin(), b.end()));
}

std::vector<int32_t> fixture_ids(std::size_t text) {
  embed::testing::ModelFixture fixture("deberta-v3-tiny");
  return fixture.text(text)["input_ids"].get<std::vector<int32_t>>();
}

struct Refusal {
  const char* tag;
  const char* option;  // must appear in the message
  const char* detail;  // must appear too (the offending value)
  nlohmann::json patch;
};

TEST(DebertaConfig, UnsupportedOptionsAreRefusedByName) {
  const Refusal cases[] = {
      {"p2p", "pos_att_type", "p2p", {{"pos_att_type", {"p2c", "c2p", "p2p"}}}},
      {"p2p-string", "pos_att_type", "p2p", {{"pos_att_type", "c2p|p2p"}}},
      {"norm", "norm_rel_ebd", "batch_norm", {{"norm_rel_ebd", "batch_norm"}}},
      {"no-positions", "relative_attention", "position_biased_input",
       {{"relative_attention", false}, {"position_biased_input", false}}},
      {"conv-even", "conv_kernel_size", "4", {{"conv_kernel_size", 4}}},
      {"conv-groups", "conv_groups", "32", {{"conv_kernel_size", 3}, {"conv_groups", 5}}},
      {"conv-act", "conv_act", "swishy", {{"conv_kernel_size", 3}, {"conv_act", "swishy"}}},
      {"head-size", "attention_head_size", "16", {{"attention_head_size", 16}}},
      {"act", "hidden_act", "mish_x", {{"hidden_act", "mish_x"}}},
      {"heads", "num_attention_heads", "5", {{"num_attention_heads", 5}}},
      {"max-rel", "max_relative_positions", "100", {{"max_relative_positions", 100}}},
  };
  for (const auto& c : cases) {
    auto config = fixture_config();
    config.merge_patch(c.patch);
    const std::string message = load_error(c.tag, config);
    EXPECT_NE(message.find(c.option), std::string::npos) << c.tag << ": " << message;
    EXPECT_NE(message.find(c.detail), std::string::npos) << c.tag << ": " << message;
    EXPECT_NE(message.find("config.json"), std::string::npos) << c.tag << ": " << message;
  }
}

TEST(DebertaConfig, MissingConvWeightsAreNamed) {
  // A config asking for the convolution after the first layer needs encoder.conv.* weights.
  auto config = fixture_config();
  config["conv_kernel_size"] = 3;
  const std::string message = load_error("conv-missing", config);
  EXPECT_NE(message.find("encoder.conv.conv.weight"), std::string::npos) << message;
}

TEST(DebertaConfig, EquivalentSpellingsGiveTheSameOutput) {
  const auto ids = fixture_ids(15);  // 255 tokens: log buckets on both sides
  const auto reference = run(embed::models::load_encoder(fixture_dir(), {}), ids);
  // transformers' config accepts pos_att_type as "a|b" (lower-cased) and norm_rel_ebd as "a|b" too;
  // max_relative_positions -1 means max_position_embeddings.
  const std::pair<const char*, nlohmann::json> variants[] = {
      {"string-types", {{"pos_att_type", "C2P | p2c"}}},
      {"norm-list", {{"norm_rel_ebd", "layer_norm|none"}}},
      {"max-rel", {{"max_relative_positions", 512}}},
  };
  for (const auto& [tag, patch] : variants) {
    auto config = fixture_config();
    config.merge_patch(patch);
    const auto out = run(embed::models::load_encoder(with_config(tag, config), {}), ids);
    EXPECT_LE(max_diff(out, reference), kSameModel) << tag;
  }
}

TEST(DebertaConfig, FewerPositionTermsChangeTheScale) {
  // Leaving out p2c removes its term and changes the score scale (1/sqrt(head_dim * 2) instead of * 3):
  // the output must differ, and still be finite.
  const auto ids = fixture_ids(4);
  const auto reference = run(embed::models::load_encoder(fixture_dir(), {}), ids);
  auto config = fixture_config();
  config["pos_att_type"] = {"c2p"};
  const auto out = run(embed::models::load_encoder(with_config("c2p-only", config), {}), ids);
  double diff = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i]));
    diff = std::max(diff, static_cast<double>(std::abs(out[i] - reference[i])));
  }
  EXPECT_GT(diff, 1e-3);
}

TEST(DebertaWeights, DebertaPrefixIsAccepted) {
  // Checkpoints saved from DebertaV2For* heads name the base model's weights "deberta.*".
  auto source = embed::io::open_safetensors(fixture_dir() / "model.safetensors");
  embed::testing::TinyTensors tensors;
  for (const auto& [name, raw] : source->tensors()) {
    if (raw.dtype != embed::io::DType::F32) continue;
    const auto* data = reinterpret_cast<const float*>(raw.data);
    tensors["deberta." + name] = {raw.shape, std::vector<float>(data, data + raw.numel())};
  }
  const auto dir = embed::testing::write_tiny_model("deberta-prefix", fixture_config(), tensors);
  const auto ids = fixture_ids(2);
  const auto reference = run(embed::models::load_encoder(fixture_dir(), {}), ids);
  const auto out = run(embed::models::load_encoder(dir, {}), ids);
  EXPECT_LE(max_diff(out, reference), kSameModel);
}

TEST(DebertaLength, RelativeOnlyModelsAcceptLongerInputs) {
  // No absolute positions: transformers runs sequences past max_position_embeddings (the log buckets
  // clamp); the default length limit stays max_position_embeddings, as sentence-transformers sets it.
  auto loaded = embed::models::load_encoder(fixture_dir(), {});
  EXPECT_EQ(loaded.encoder->max_positions(), 512u);
  std::vector<int32_t> ids(600, 5);
  ids.front() = 1;
  ids.back() = 2;
  const auto out = run(loaded, ids);
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
}

TEST(DebertaLength, AbsolutePositionsNeedTheirTable) {
  // position_biased_input true needs embeddings.position_embeddings, which the fixture lacks.
  auto config = fixture_config();
  config["position_biased_input"] = true;
  const std::string message = load_error("abs-positions", config);
  EXPECT_NE(message.find("embeddings.position_embeddings.weight"), std::string::npos) << message;
}

TEST(DebertaLength, AbsolutePositionsLimitTheLength) {
  // deberta-variants/conv has absolute positions (max_position_embeddings 24): 25 tokens are refused.
  auto loaded = embed::models::load_encoder(embed::testing::data_path("models/deberta-variants/conv"), {});
  EXPECT_EQ(loaded.encoder->max_positions(), 24u);
  EXPECT_NO_THROW(run(loaded, std::vector<int32_t>(24, 3)));
  try {
    run(loaded, std::vector<int32_t>(25, 3));
    ADD_FAILURE() << "25 tokens accepted";
  } catch (const embed::Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// tests/data/models/deberta-variants/*: options deberta-v3-tiny does not use (the ConvLayer, embed_proj,
// absolute positions, token types, unshared position projections, clamped unbucketed and small log-bucketed
// relative positions, p2c only), against tests/tools/make_deberta_variants.py's float64 reference (a
// transcription of transformers 4.19 that reproduces the deberta-v3-tiny fixture to 5e-15).
class DebertaVariant : public ::testing::TestWithParam<std::string> {};

TEST_P(DebertaVariant, MatchesReferenceAloneAndPacked) {
  embed::testing::ModelFixture fixture("deberta-variants/" + GetParam());
  auto loaded = embed::models::load_encoder(fixture.dir(), {});
  const std::size_t H = loaded.encoder->hidden_size();
  embed::models::PackedBatch all;
  for (std::size_t i = 0; i < fixture.num_texts(); ++i)
    all.add(fixture.text(i)["input_ids"].get<std::vector<int32_t>>(),
            fixture.text(i)["token_type_ids"].get<std::vector<int32_t>>());
  std::vector<float> packed(all.tokens() * H);
  loaded.encoder->forward(all, packed.data());
  for (std::size_t i = 0; i < fixture.num_texts(); ++i) {
    embed::models::PackedBatch one;
    one.add(fixture.text(i)["input_ids"].get<std::vector<int32_t>>(),
            fixture.text(i)["token_type_ids"].get<std::vector<int32_t>>());
    std::vector<float> alone(one.tokens() * H);
    loaded.encoder->forward(one, alone.data());
    const auto expected = fixture.tensor("text." + std::to_string(i) + ".last_hidden_state.f64");
    EXPECT_LE(embed::testing::max_abs_diff(alone, expected), 1e-4) << "text " << i;
    std::vector<float> slice(packed.begin() + all.offsets[i] * H, packed.begin() + all.offsets[i + 1] * H);
    EXPECT_LE(embed::testing::max_abs_diff(slice, std::vector<double>(alone.begin(), alone.end())), 1e-5)
        << "text " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, DebertaVariant, ::testing::Values("conv", "buckets"));

}  // namespace
