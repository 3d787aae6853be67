// Bad model files get an error that names the file, the field or tensor, and what was expected.
#include <cstring>
#include <fstream>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/model.hpp"
#include "embed/tokenizer.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "io/tensor_data.hpp"
#include "models/encoder.hpp"
#include "support/expect_error.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::testing::data_path;
using embed::testing::error_message;
using embed::testing::make_temp_dir;

namespace {


void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string safetensors_bytes(const std::string& header, const std::string& body, uint64_t header_len_override = 0) {
  uint64_t n = header_len_override ? header_len_override : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + body;
}

// A copy of the bert-tiny model directory whose files the test may change.
fs::path copy_of_bert_tiny() {
  fs::path dir = make_temp_dir("model");
  fs::copy(data_path("models/bert-tiny"), dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  for (auto& e : fs::recursive_directory_iterator(dir))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return dir;
}

// `file` in `dir` replaced by a symlink to `target`.
void replace_with_symlink(const fs::path& dir, const std::string& file, const fs::path& target) {
  fs::remove_all(dir / file);
  fs::create_symlink(target, dir / file);
}

// `file` in `dir` replaced by a FIFO: a reader that opens it without checking waits for a writer forever.
void replace_with_fifo(const fs::path& dir, const std::string& file) {
  fs::remove_all(dir / file);
  ASSERT_EQ(::mkfifo((dir / file).c_str(), 0600), 0) << (dir / file);
}

// `file` in `dir` replaced by an empty directory.
void replace_with_directory(const fs::path& dir, const std::string& file) {
  fs::remove_all(dir / file);
  fs::create_directory(dir / file);
}

std::string load_error(const fs::path& dir) { return embed::testing::model_load_error(dir.string()); }

std::string tokenizer_error(const fs::path& dir) {
  return error_message([&] { embed::Tokenizer::from_directory(dir); });
}

}  // namespace

TEST(SafetensorsErrors, HeaderLengthPastEndOfFile) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes("{}", "", 1000));
  auto msg = error_message([&] { embed::io::open_safetensors(f); });
  EXPECT_CONTAINS(msg, "model.safetensors");
  EXPECT_CONTAINS(msg, "header length 1000 runs past the end of the file");
}

TEST(SafetensorsErrors, FileShorterThanHeaderLength) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, "abc");
  EXPECT_CONTAINS(error_message([&] { embed::io::open_safetensors(f); }), "shorter than the 8-byte header length");
}

TEST(SafetensorsErrors, OffsetsOutOfRange) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')));
  auto msg = error_message([&] { embed::io::open_safetensors(f); });
  EXPECT_CONTAINS(msg, "tensor 'w'");
  EXPECT_CONTAINS(msg, "data_offsets [0, 16] out of range (data section is 8 bytes)");
}

TEST(SafetensorsErrors, OverlappingTensors) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  std::string(12, '\0')));
  EXPECT_CONTAINS(error_message([&] { embed::io::open_safetensors(f); }), "tensors 'a' and 'b' overlap");
}

TEST(SafetensorsErrors, UnknownDtype) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes(R"({"w":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\0')));
  auto msg = error_message([&] { embed::io::open_safetensors(f); });
  EXPECT_CONTAINS(msg, "tensor 'w'");
  EXPECT_CONTAINS(msg, "unknown dtype \"F8_E9\"");
}

TEST(SafetensorsErrors, SizeDisagreesWithShape) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  EXPECT_CONTAINS(error_message([&] { embed::io::open_safetensors(f); }), "span 8 bytes but dtype F32 and its shape need 12");
}

TEST(SafetensorsErrors, CorruptHeaderJson) {
  auto f = make_temp_dir("st") / "model.safetensors";
  write_file(f, safetensors_bytes(R"({"w": {)", ""));
  auto msg = error_message([&] { embed::io::open_safetensors(f); });
  EXPECT_CONTAINS(msg, "safetensors header");
  EXPECT_CONTAINS(msg, "invalid JSON at line 1");
}

TEST(SafetensorsLoad, ReadsF16AndBF16AsFloat32) {
  auto f = make_temp_dir("st") / "model.safetensors";
  // 1.5 and -2.0 in IEEE half (0x3E00, 0xC000) and bfloat16 (0x3FC0, 0xC000).
  std::string body = std::string("\x00\x3e\x00\xc0", 4) + std::string("\xc0\x3f\x00\xc0", 4);
  write_file(f, safetensors_bytes(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})",
                                  body));
  embed::io::WeightStore store({embed::io::open_safetensors(f)});
  auto h = store.get("h", {2});
  auto b = store.get("b", {2});
  EXPECT_EQ(h.data[0], 1.5f);
  EXPECT_EQ(h.data[1], -2.0f);
  EXPECT_EQ(b.data[0], 1.5f);
  EXPECT_EQ(b.data[1], -2.0f);
}

TEST(ModelFileErrors, MissingConfigJson) {
  auto dir = copy_of_bert_tiny();
  fs::remove(dir / "config.json");
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, "missing config.json");
}

TEST(ModelFileErrors, InvalidConfigJsonNamesFileAndPosition) {
  auto dir = copy_of_bert_tiny();
  write_file(dir / "config.json", "{\n  \"model_type\": \"bert\",\n  \"hidden_size\": 32,,\n}");
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, "config.json: invalid JSON at line 3, column 21");
}

TEST(ModelFileErrors, UnknownModelType) {
  auto dir = copy_of_bert_tiny();
  auto j = embed::io::read_json(dir / "config.json");
  j["model_type"] = "gpt-j";
  write_file(dir / "config.json", j.dump(2));
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, "field 'model_type': unsupported model_type \"gpt-j\" (supported: ");
  EXPECT_CONTAINS(msg, "bert");
}

TEST(ModelFileErrors, ShapeContradictsConfigNamesBoth) {
  auto dir = copy_of_bert_tiny();
  auto j = embed::io::read_json(dir / "config.json");
  j["intermediate_size"] = 40;
  write_file(dir / "config.json", j.dump(2));
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, "tensor 'encoder.layer.0.intermediate.dense.weight' has shape [37, 32] but config.json implies [40, 32]");
}

TEST(ModelFileErrors, MissingTensorIsNamed) {
  auto dir = copy_of_bert_tiny();
  // Rewrite model.safetensors without one tensor (same bytes, header minus that entry).
  std::string bytes = embed::io::read_file_bytes(dir / "model.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  header.erase("encoder.layer.1.output.dense.bias");
  write_file(dir / "model.safetensors", safetensors_bytes(header.dump(), bytes.substr(8 + n)));
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, "missing tensor 'encoder.layer.1.output.dense.bias'");
  EXPECT_CONTAINS(msg, "model.safetensors");
}

TEST(ModelFileErrors, NoWeightsFile) {
  auto dir = copy_of_bert_tiny();
  fs::remove(dir / "model.safetensors");
  EXPECT_CONTAINS(error_message([&] { embed::models::load_encoder(dir, {}); }), "no weights found");
}

TEST(ModelFileErrors, ConfigFieldOfWrongType) {
  auto dir = copy_of_bert_tiny();
  auto j = embed::io::read_json(dir / "config.json");
  j["num_hidden_layers"] = "two";
  write_file(dir / "config.json", j.dump(2));
  EXPECT_CONTAINS(error_message([&] { embed::models::load_encoder(dir, {}); }),
                  "config.json: field 'num_hidden_layers': expected an integer, found string \"two\"");
}

// A thread count the OpenMP runtime cannot create (libgomp exits or crashes) or a negative one is refused
// before anything runs, by name.
TEST(LoadOptionErrors, ThreadCountOutOfRange) {
  const std::string dir = data_path("models/bert-tiny").string();
  for (int threads : {-1, 1025, 100000}) {
    embed::LoadOptions options;
    options.threads = threads;
    const std::string message = error_message([&] { embed::Model::load(dir, options); });
    EXPECT_CONTAINS(message, "threads: " + std::to_string(threads) + " is not a thread count");
    EXPECT_CONTAINS(message, "1 to 1024, or 0 for the machine's cores");
  }
  embed::LoadOptions most;
  most.threads = 1024;
  EXPECT_NE(embed::Model::load(dir, most), nullptr);
}

// Config values no model can have are refused by field, not wrapped around or run into NaNs.
TEST(ModelFileErrors, ImpossibleConfigValuesNameTheField) {
  const std::vector<std::tuple<std::string, nlohmann::json, std::string>> cases = {
      {"num_attention_heads", -4, "field 'num_attention_heads': expected a positive integer, found -4"},
      {"hidden_size", -32, "field 'hidden_size': expected a positive integer, found -32"},
      {"num_hidden_layers", -1, "field 'num_hidden_layers': expected a non-negative integer, found -1"},
      {"layer_norm_eps", -1.0, "field 'layer_norm_eps': expected a non-negative number"},
      {"type_vocab_size", 0, "field 'type_vocab_size': is 0, but the weights have embeddings.token_type_embeddings"},
  };
  for (const auto& [field, value, message] : cases) {
    auto dir = copy_of_bert_tiny();
    auto j = embed::io::read_json(dir / "config.json");
    j[field] = value;
    write_file(dir / "config.json", j.dump(2));
    EXPECT_CONTAINS(error_message([&] { embed::models::load_encoder(dir, {}); }), message);
  }
}

// A shape whose byte size overflows 64 bits must not wrap around to the span the header gives.
TEST(SafetensorsErrors, ShapeWhoseByteSizeOverflows) {
  auto f = make_temp_dir("st") / "model.safetensors";
  // (2^62 + 256) * 4 elements * 4 bytes = 2^64 + 4096: wraps to the 4096 bytes given.
  write_file(f, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427388160,4],"data_offsets":[0,4096]}})",
                                  std::string(4096, '\0')));
  auto msg = error_message([&] { embed::io::open_safetensors(f); });
  EXPECT_CONTAINS(msg, f.string() + ": tensor 'w': shape [4611686018427388160, 4] of F32 is too large");
  // 2^62 * 4 elements * 4 bytes = 2^66: wraps to 0, the span of an empty tensor.
  write_file(f, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", ""));
  EXPECT_CONTAINS(error_message([&] { embed::io::open_safetensors(f); }),
                  "shape [4611686018427387904, 4] of F32 is too large");
}

TEST(ModelFileErrors, EmptyWeightMapNamesTheIndex) {
  auto dir = copy_of_bert_tiny();
  fs::remove(dir / "model.safetensors");
  write_file(dir / "model.safetensors.index.json", R"({"metadata": {}, "weight_map": {}})");
  auto msg = error_message([&] { embed::models::load_encoder(dir, {}); });
  EXPECT_CONTAINS(msg, (dir / "model.safetensors.index.json").string() + ": field 'weight_map': is empty");
}

// model_file_present: false only when nothing is there; a regular file is there; anything else is an error.
TEST(ModelFileChecks, PresentAbsentAndDangling) {
  auto dir = make_temp_dir("present");
  write_file(dir / "file.json", "{}");
  EXPECT_TRUE(embed::io::model_file_present(dir / "file.json"));
  EXPECT_FALSE(embed::io::model_file_present(dir / "absent.json"));
  EXPECT_FALSE(embed::io::model_file_present(dir / "absent" / "file.json"));
  fs::create_symlink("file.json", dir / "link.json");
  EXPECT_TRUE(embed::io::model_file_present(dir / "link.json"));
  fs::create_symlink("../blobs/missing", dir / "dangling.json");
  EXPECT_CONTAINS(error_message([&] { embed::io::model_file_present(dir / "dangling.json"); }),
                  (dir / "dangling.json").string() + ": is a broken symlink to ../blobs/missing; the download looks "
                  "incomplete");
  EXPECT_TRUE(embed::io::model_directory_present(dir));
  EXPECT_FALSE(embed::io::model_directory_present(dir / "absent"));
  EXPECT_FALSE(embed::io::model_directory_present(dir / "file.json"));
  EXPECT_CONTAINS(error_message([&] { embed::io::model_directory_present(dir / "dangling.json"); }), "is a broken symlink");
}

// A device behind a symlink would be read without end (/dev/zero filled memory until the process was killed,
// /dev/urandom never ended); a FIFO blocked the open forever.
TEST(ModelFileErrors, SpecialFilesAreRefusedByName) {
  auto dir = copy_of_bert_tiny();
  replace_with_symlink(dir, "config.json", "/dev/zero");
  EXPECT_CONTAINS(load_error(dir), (dir / "config.json").string() + ": is not a regular file (a character device)");
  replace_with_fifo(dir, "config.json");
  EXPECT_CONTAINS(load_error(dir), (dir / "config.json").string() + ": is not a regular file (a FIFO)");

  auto tok = copy_of_bert_tiny();
  replace_with_symlink(tok, "tokenizer.json", "/dev/urandom");
  EXPECT_CONTAINS(tokenizer_error(tok),
                  (tok / "tokenizer.json").string() + ": is not a regular file (a character device)");
  fs::remove(tok / "tokenizer.json");
  replace_with_fifo(tok, "vocab.txt");
  EXPECT_CONTAINS(tokenizer_error(tok), (tok / "vocab.txt").string() + ": is not a regular file (a FIFO)");

  auto weights = copy_of_bert_tiny();
  replace_with_fifo(weights, "model.safetensors");
  EXPECT_CONTAINS(load_error(weights), (weights / "model.safetensors").string() + ": is not a regular file (a FIFO)");
}

// A directory where a file belongs read as an empty file ("invalid JSON ... unexpected end of input") or
// failed to map ("No such device").
TEST(ModelFileErrors, DirectoryWhereAFileBelongs) {
  for (const std::string file : {"config.json", "modules.json", "model.safetensors", "sentence_bert_config.json"}) {
    auto dir = copy_of_bert_tiny();
    replace_with_directory(dir, file);
    EXPECT_CONTAINS(load_error(dir), (dir / file).string() + ": is a directory, expected a file");
  }
  auto tok = copy_of_bert_tiny();
  replace_with_directory(tok, "tokenizer.json");
  EXPECT_CONTAINS(tokenizer_error(tok), (tok / "tokenizer.json").string() + ": is a directory, expected a file");
}

// A half-downloaded Hugging Face cache links files to blobs that are not there: that is an error, not an absent
// optional file (modules.json absent meant mean pooling without Normalize; tokenizer.json absent, vocab.txt).
TEST(ModelFileErrors, BrokenSymlinkIsNotAnAbsentFile) {
  for (const std::string file : {"modules.json", "sentence_bert_config.json", "tokenizer.json", "config.json",
                                 "model.safetensors", "config_sentence_transformers.json"}) {
    SCOPED_TRACE(file);
    auto dir = copy_of_bert_tiny();
    replace_with_symlink(dir, file, "../blobs/missing");
    EXPECT_CONTAINS(load_error(dir), (dir / file).string() + ": is a broken symlink to ../blobs/missing; the "
                    "download looks incomplete");
  }
  auto tok = copy_of_bert_tiny();
  replace_with_symlink(tok, "tokenizer.json", "../blobs/missing");
  EXPECT_CONTAINS(tokenizer_error(tok), (tok / "tokenizer.json").string() + ": is a broken symlink");
  fs::remove(tok / "tokenizer.json");  // vocab.txt then reads tokenizer_config.json's special tokens
  replace_with_symlink(tok, "tokenizer_config.json", "../blobs/missing");
  EXPECT_CONTAINS(tokenizer_error(tok), (tok / "tokenizer_config.json").string() + ": is a broken symlink");
}

// A symlink loop was a std::filesystem error ("internal error: filesystem error: status: Too many levels ...").
TEST(ModelFileErrors, SymlinkLoopIsNamed) {
  for (const std::string file : {"config.json", "model.safetensors", "modules.json"}) {
    auto dir = copy_of_bert_tiny();
    replace_with_symlink(dir, file, file);
    EXPECT_CONTAINS(load_error(dir), (dir / file).string() + ": is a symlink loop");
  }
  auto loop = make_temp_dir("loop") / "model";
  fs::create_symlink("model", loop);
  EXPECT_CONTAINS(load_error(loop), loop.string() + ": is a symlink loop");
  for (const std::string command : {"encode", "tokenize"}) {
    auto r = embed::testing::run_cli({command, "-m", loop.string(), "hi"});
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_CONTAINS(r.err, "embed: error: " + loop.string() + ": is a symlink loop");
  }
}

// The CLI end to end: a FIFO config.json made `embed encode` hang.
TEST(ModelFileErrors, CliNamesASpecialFile) {
  auto dir = copy_of_bert_tiny();
  replace_with_fifo(dir, "config.json");
  auto r = embed::testing::run_cli({"encode", "-m", dir.string(), "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_CONTAINS(r.err, "embed: error: " + (dir / "config.json").string() + ": is not a regular file (a FIFO)");
}
