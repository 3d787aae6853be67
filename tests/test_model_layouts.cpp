// The model directory layouts a user downloads: sharded safetensors, prefixed tensor names, a plain
// transformers directory (no modules.json), a 2_Dense module, half-precision weights.
#include <cmath>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/model.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "models/encoder.hpp"
#include "support/expect_error.hpp"
#include "support/fixture.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::testing::data_path;
using embed::testing::make_temp_dir;

namespace {

struct Safetensors {
  nlohmann::json header;
  std::string body;
};

Safetensors read_safetensors(const fs::path& p) {
  std::string bytes = embed::io::read_file_bytes(p);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  return {nlohmann::json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

void write_safetensors(const fs::path& p, const nlohmann::json& header, const std::string& body) {
  std::string h = header.dump();
  uint64_t n = h.size();
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << body;
}

// Writes `tensors` (name -> (shape, floats)) as an F32 safetensors file.
void write_f32_safetensors(const fs::path& p, const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string body;
  for (const auto& [name, t] : tensors) {
    std::size_t begin = body.size();
    body.append(reinterpret_cast<const char*>(t.second.data()), t.second.size() * 4);
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {begin, body.size()}}};
  }
  write_safetensors(p, header, body);
}

fs::path copy_of(const std::string& fixture) {
  fs::path dir = make_temp_dir("layout");
  fs::copy(data_path("models/" + fixture), dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  for (auto& e : fs::recursive_directory_iterator(dir))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return dir;
}

const std::vector<std::string> kTexts = {"Hello Sentence Transformers library!", "Generate sentence embeddings!",
                                         "A third, somewhat longer text to embed with the model."};

embed::Matrix encode(const fs::path& dir, embed::EncodeOptions options = {}) {
  return embed::Model::load(dir.string())->encode(kTexts, options);
}

}  // namespace

TEST(ModelLayouts, ShardedSafetensorsGiveTheSameEmbeddings) {
  auto dir = copy_of("bert-tiny");
  auto st = read_safetensors(dir / "model.safetensors");
  fs::remove(dir / "model.safetensors");
  nlohmann::json shard[2] = {nlohmann::json::object(), nlohmann::json::object()};
  std::string body[2];
  nlohmann::json index = {{"metadata", {{"total_size", st.body.size()}}}, {"weight_map", nlohmann::json::object()}};
  int k = 0;
  for (auto& [name, info] : st.header.items()) {
    if (name == "__metadata__") continue;
    int s = (k++) % 2;
    auto off = info["data_offsets"];
    std::size_t b = off[0], e = off[1], begin = body[s].size();
    body[s] += st.body.substr(b, e - b);
    shard[s][name] = {{"dtype", info["dtype"]}, {"shape", info["shape"]}, {"data_offsets", {begin, body[s].size()}}};
    index["weight_map"][name] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  for (int s = 0; s < 2; ++s)
    write_safetensors(dir / ("model-0000" + std::to_string(s + 1) + "-of-00002.safetensors"), shard[s], body[s]);
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  auto sharded = encode(dir);
  auto single = encode(data_path("models/bert-tiny"));
  EXPECT_EQ(sharded.data, single.data);
}

TEST(ModelLayouts, TensorNamesWithTheBertPrefix) {
  auto dir = copy_of("bert-tiny");
  auto st = read_safetensors(dir / "model.safetensors");
  nlohmann::json renamed = nlohmann::json::object();
  for (auto& [name, info] : st.header.items()) renamed[name == "__metadata__" ? name : "bert." + name] = info;
  write_safetensors(dir / "model.safetensors", renamed, st.body);
  EXPECT_EQ(encode(dir).data, encode(data_path("models/bert-tiny")).data);
}

TEST(ModelLayouts, HalfPrecisionWeightsAreWidened) {
  // bf16 weights: the model runs in fp32 on the widened values; result stays close to the fp32 model.
  auto dir = copy_of("bert-tiny");
  auto st = read_safetensors(dir / "model.safetensors");
  nlohmann::json header = nlohmann::json::object();
  std::string body;
  for (auto& [name, info] : st.header.items()) {
    if (name == "__metadata__") continue;
    std::size_t b = info["data_offsets"][0], e = info["data_offsets"][1], begin = body.size();
    if (info["dtype"] == "F32") {
      for (std::size_t i = b; i < e; i += 4) body.append(st.body.data() + i + 2, 2);  // top half = bf16 (truncated)
      header[name] = {{"dtype", "BF16"}, {"shape", info["shape"]}, {"data_offsets", {begin, body.size()}}};
    } else {
      body += st.body.substr(b, e - b);
      header[name] = {{"dtype", info["dtype"]}, {"shape", info["shape"]}, {"data_offsets", {begin, body.size()}}};
    }
  }
  write_safetensors(dir / "model.safetensors", header, body);
  auto half = encode(dir), full = encode(data_path("models/bert-tiny"));
  for (std::size_t i = 0; i < half.rows; ++i) {
    double dot = 0;
    for (std::size_t j = 0; j < half.cols; ++j) dot += half.row(i)[j] * full.row(i)[j];
    EXPECT_GT(dot, 0.95) << "text " << i;  // both are unit vectors
  }
}

TEST(ModelLayouts, PlainTransformersDirectoryMeansMeanPoolingWithoutNormalize) {
  auto dir = copy_of("bert-tiny");
  fs::remove(dir / "modules.json");
  fs::remove(dir / "sentence_bert_config.json");
  auto model = embed::Model::load(dir.string());
  EXPECT_FALSE(model->normalizes());
  ASSERT_EQ(model->default_pooling(), std::vector<embed::PoolingMode>{embed::PoolingMode::Mean});
  EXPECT_EQ(model->max_seq_length(), 512u);  // max_position_embeddings (no tokenizer limit configured)
  embed::testing::ModelFixture fx("bert-tiny");
  std::vector<std::string> texts = {fx.text(1)["text"]};
  auto e = model->encode(texts);
  std::vector<float> row(e.row(0), e.row(0) + e.cols);
  EXPECT_LE(embed::testing::max_abs_diff(row, fx.tensor("text.1.pooled.mean.f64")), 1e-5);
}

TEST(ModelLayouts, DenseModuleAfterPooling) {
  auto dir = copy_of("bert-tiny");
  // modules: Transformer -> Pooling -> Dense(32 -> 3, tanh) -> Normalize
  auto modules = embed::io::read_json(dir / "modules.json");
  nlohmann::json dense = nlohmann::json::object(
      {{"idx", 2}, {"name", "2"}, {"path", "2_Dense"}, {"type", "sentence_transformers.models.Dense"}});
  modules.insert(modules.begin() + 2, dense);
  modules[3]["path"] = "3_Normalize";
  std::ofstream(dir / "modules.json") << modules.dump(2);
  fs::create_directories(dir / "2_Dense");
  std::ofstream(dir / "2_Dense/config.json")
      << R"({"in_features": 32, "out_features": 3, "bias": true, "activation_function": "torch.nn.modules.activation.Tanh"})";
  std::vector<float> w(3 * 32), b = {0.1f, -0.2f, 0.3f};
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
  write_f32_safetensors(dir / "2_Dense/model.safetensors", {{"linear.weight", {{3, 32}, w}}, {"linear.bias", {{3}, b}}});

  auto model = embed::Model::load(dir.string());
  EXPECT_EQ(model->dimension(), 3u);
  auto e = model->encode(kTexts);
  // The same by hand from the mean-pooled embeddings.
  embed::EncodeOptions mean_only;
  mean_only.normalize = false;
  auto base = embed::Model::load(data_path("models/bert-tiny").string());
  auto pooled = base->encode(kTexts, mean_only);
  for (std::size_t i = 0; i < kTexts.size(); ++i) {
    double y[3], norm = 0;
    for (int o = 0; o < 3; ++o) {
      double acc = b[o];
      for (int k = 0; k < 32; ++k) acc += static_cast<double>(w[o * 32 + k]) * pooled.row(i)[k];
      y[o] = std::tanh(acc);
      norm += y[o] * y[o];
    }
    for (int o = 0; o < 3; ++o) EXPECT_NEAR(e.row(i)[o], y[o] / std::sqrt(norm), 1e-6) << "text " << i;
  }
  // Another pooling width cannot feed the Dense layer: refused, saying why.
  embed::EncodeOptions two_modes;
  two_modes.pooling = std::vector<embed::PoolingMode>{embed::PoolingMode::Mean, embed::PoolingMode::Max};
  try {
    model->encode(kTexts, two_modes);
    ADD_FAILURE() << "expected an error";
  } catch (const embed::Error& err) {
    EXPECT_NE(std::string(err.what()).find("trained on 1 pooling mode(s); the pooling given"), std::string::npos)
        << err.what();
  }
}

namespace {

// modules.json of bert-tiny with these module types, in this order (paths as sentence-transformers names them).
void write_modules(const fs::path& dir, const std::vector<std::string>& kinds) {
  nlohmann::json modules = nlohmann::json::array();
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const std::string& k = kinds[i];
    const std::string path = k == "Transformer" ? "" : k == "Pooling" ? "1_Pooling" : std::to_string(i) + "_" + k;
    modules.push_back({{"idx", i}, {"name", std::to_string(i)}, {"path", path},
                       {"type", "sentence_transformers.models." + k}});
    if (k == "Dense") {
      fs::create_directories(dir / path);
      std::ofstream(dir / path / "config.json")
          << R"({"in_features": 32, "out_features": 3, "bias": false, "activation_function": "torch.nn.modules.linear.Identity"})";
      std::vector<float> w(3 * 32);
      for (std::size_t j = 0; j < w.size(); ++j) w[j] = std::cos(0.29f * static_cast<float>(j));
      write_f32_safetensors(dir / path / "model.safetensors", {{"linear.weight", {{3, 32}, w}}});
    }
  }
  std::ofstream(dir / "modules.json") << modules.dump(2);
}

std::string load_error(const fs::path& dir) { return embed::testing::model_load_error(dir.string()); }

}  // namespace

// The modules after pooling run in modules.json's order: Normalize, then an identity Dense, gives the Dense
// layer's product of the unit vector (not a unit vector itself).
TEST(ModelLayouts, ModulesAfterPoolingRunInTheFilesOrder) {
  auto dir = copy_of("bert-tiny");
  write_modules(dir, {"Transformer", "Pooling", "Normalize", "Dense"});
  auto model = embed::Model::load(dir.string());
  auto e = model->encode(kTexts);
  auto unit = embed::Model::load(data_path("models/bert-tiny").string())->encode(kTexts);  // mean, normalized
  for (std::size_t i = 0; i < kTexts.size(); ++i)
    for (int o = 0; o < 3; ++o) {
      double acc = 0;
      for (int k = 0; k < 32; ++k) acc += std::cos(0.29 * (o * 32 + k)) * unit.row(i)[k];
      EXPECT_NEAR(e.row(i)[o], acc, 1e-5) << "text " << i;
    }
  // Modules in an order embed does not run are refused, not reordered.
  write_modules(dir, {"Pooling", "Transformer", "Normalize"});
  EXPECT_NE(load_error(dir).find("supported orders are Transformer, Pooling, then Dense / Normalize"),
            std::string::npos)
      << load_error(dir);
  write_modules(dir, {"Transformer", "Dense", "Pooling"});
  EXPECT_NE(load_error(dir).find("Dense module at position 2"), std::string::npos) << load_error(dir);
}

// As sentence-transformers' Pooling: a pooling_mode string (any case) replaces the pooling_mode_* flags.
TEST(ModelLayouts, PoolingModeStringReplacesTheFlags) {
  auto dir = copy_of("bert-tiny");
  auto config = embed::io::read_json(dir / "1_Pooling/config.json");
  config["pooling_mode"] = "CLS";  // pooling_mode_mean_tokens stays true
  std::ofstream(dir / "1_Pooling/config.json") << config.dump(2);
  auto model = embed::Model::load(dir.string());
  EXPECT_EQ(model->dimension(), 32u);
  embed::EncodeOptions cls;
  cls.pooling = std::vector<embed::PoolingMode>{embed::PoolingMode::Cls};
  const auto expected = embed::Model::load(data_path("models/bert-tiny").string())->encode(kTexts, cls);
  EXPECT_EQ(model->encode(kTexts).data, expected.data);
  config["pooling_mode"] = "median";
  std::ofstream(dir / "1_Pooling/config.json") << config.dump(2);
  EXPECT_NE(load_error(dir).find("field 'pooling_mode': unknown pooling mode \"median\""), std::string::npos)
      << load_error(dir);
}

TEST(ModelLayouts, PoolingWidthMustMatchTheTransformer) {
  auto dir = copy_of("bert-tiny");
  auto config = embed::io::read_json(dir / "1_Pooling/config.json");
  config["word_embedding_dimension"] = 64;
  std::ofstream(dir / "1_Pooling/config.json") << config.dump(2);
  EXPECT_NE(load_error(dir).find("word_embedding_dimension is 64 but the transformer's hidden size is 32"),
            std::string::npos)
      << load_error(dir);
}

// A sentence_bert_config.json max_seq_length beyond the position table: texts that fit the table encode
// (as in sentence-transformers), one that does not is named with the file the length came from.
TEST(ModelLayouts, ConfiguredLengthBeyondThePositionsNamesItsFile) {
  auto dir = copy_of("bert-tiny");
  auto config = embed::io::read_json(dir / "sentence_bert_config.json");
  config["max_seq_length"] = 1000;
  std::ofstream(dir / "sentence_bert_config.json") << config.dump(2);
  auto model = embed::Model::load(dir.string());
  const std::vector<std::string> short_texts = {"hello", "a second short text"};
  auto fixed = embed::Model::load(copy_of("bert-tiny").string());
  const auto got = model->encode(short_texts), expected = fixed->encode(short_texts);
  EXPECT_EQ(got.data, expected.data) << "texts within the positions encode as with the shipped max_seq_length";
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "word ";
  const std::vector<std::string> texts = {"hello", long_text};
  const auto message = embed::testing::error_message([&] { model->encode(texts); });
  EXPECT_CONTAINS(message, "texts[1] has ");
  EXPECT_CONTAINS(message, "more than the model's 512 positions: max_seq_length 1000 (" +
                               (dir / "sentence_bert_config.json").string() + ") exceeds them");
}
