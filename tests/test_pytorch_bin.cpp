// pytorch_model.bin (torch.save zip archives) read without Python: every tensor equals the same tensor
// from model.safetensors, bit for bit; malicious pickles are refused naming the global; broken files
// give errors, never crashes. Fixtures: tests/data/bin (made by tests/tools/make_bin_fixtures.py).
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/model.hpp"
#include "io/pickle.hpp"
#include "io/tensor_data.hpp"
#include "io/zip_archive.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::Error;
using embed::io::open_pytorch_bin;
using embed::io::open_safetensors;
using embed::io::TensorSource;
using embed::testing::data_path;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_same_tensors(const TensorSource& bin, const TensorSource& ref) {
  const auto& a = bin.tensors();
  const auto& b = ref.tensors();
  std::vector<std::string> an, bn;
  for (const auto& [k, v] : a) an.push_back(k);
  for (const auto& [k, v] : b) bn.push_back(k);
  ASSERT_EQ(an, bn) << bin.description();
  for (const auto& [name, t] : a) {
    SCOPED_TRACE(bin.description() + ": " + name);
    const auto& r = b.at(name);
    EXPECT_EQ(t.dtype, r.dtype);
    EXPECT_EQ(t.shape, r.shape);
    ASSERT_EQ(t.nbytes, r.nbytes);
    EXPECT_EQ(t.numel() * static_cast<int64_t>(embed::io::dtype_size(t.dtype)), static_cast<int64_t>(t.nbytes));
    if (t.nbytes) {
      ASSERT_NE(t.data, nullptr);
      EXPECT_EQ(std::memcmp(t.data, r.data, t.nbytes), 0);
    }
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data) % embed::io::dtype_size(t.dtype), 0u) << "misaligned";
  }
}

// The message of the embed::Error that opening `file` throws ("" when it opens).
std::string open_error(const fs::path& file) {
  try {
    open_pytorch_bin(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

fs::path case_path(const std::string& name) { return data_path("bin/cases/" + name); }

}  // namespace

TEST(PytorchBin, ModelFixturesEqualSafetensorsBitForBit) {
  for (const std::string model : {"bert-tiny", "mpnet-tiny", "deberta-v3-tiny", "multilingual-tiny"}) {
    auto bin = open_pytorch_bin(data_path("bin/" + model + "/pytorch_model.bin"));
    auto st = open_safetensors(data_path("models/" + model + "/model.safetensors"));
    EXPECT_GT(bin->tensors().size(), 10u) << model;
    expect_same_tensors(*bin, *st);
    EXPECT_TRUE(contains(bin->description(), "pytorch_model.bin"));
  }
}

TEST(PytorchBin, ContiguousTensorsAreViewsIntoTheFile) {
  auto bin = open_pytorch_bin(data_path("bin/bert-tiny/pytorch_model.bin"));
  // torch.save aligns every storage entry to 64 bytes; the views keep that alignment.
  for (const auto& [name, t] : bin->tensors())
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data) % 64, 0u) << name;
}

TEST(PytorchBin, EveryDtypeViewsSharedStoragesParameterScalarEmpty) {
  auto bin = open_pytorch_bin(case_path("mixed.bin"));
  auto ref = open_safetensors(case_path("mixed.safetensors"));
  expect_same_tensors(*bin, *ref);
  const auto& t = bin->tensors();
  using embed::io::DType;
  EXPECT_EQ(t.at("f16").dtype, DType::F16);
  EXPECT_EQ(t.at("bf16").dtype, DType::BF16);
  EXPECT_EQ(t.at("f64").dtype, DType::F64);
  EXPECT_EQ(t.at("bool").dtype, DType::BOOL);
  EXPECT_EQ(t.at("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(t.at("scalar").numel(), 1);
  EXPECT_EQ(t.at("empty").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(t.at("transposed").shape, (std::vector<int64_t>{5, 6}));
  // Tied weights share one storage: both names view the same bytes, no copy.
  EXPECT_EQ(t.at("tied.a").data, t.at("tied.b").data);
  // A contiguous view at an offset points into the same storage.
  EXPECT_EQ(t.at("rows").data, t.at("tied.a").data + 5 * sizeof(float));
  EXPECT_EQ(t.at("f64.offset").data, t.at("f64").data + 10 * sizeof(double));
}

TEST(PytorchBin, DeflatedEntriesAreInflated) {
  expect_same_tensors(*open_pytorch_bin(case_path("mixed-deflated.bin")), *open_safetensors(case_path("mixed.safetensors")));
}

TEST(PytorchBin, Zip64ArchivesAreRead) {
  auto bin = open_pytorch_bin(case_path("mixed-zip64.bin"));
  expect_same_tensors(*bin, *open_safetensors(case_path("mixed.safetensors")));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bin->tensors().at("f32").data) % 64, 0u);
}

TEST(PytorchBin, BigEndianFilesAreByteSwapped) {
  expect_same_tensors(*open_pytorch_bin(case_path("mixed-bigendian.bin")), *open_safetensors(case_path("mixed.safetensors")));
}

TEST(PytorchBin, RefusesOsSystem) {
  std::string msg = open_error(case_path("evil-os-system.bin"));
  EXPECT_TRUE(contains(msg, "refusing to load")) << msg;
  EXPECT_TRUE(contains(msg, "'posix.system'")) << msg;  // os.system pickles as posix.system on Linux
  EXPECT_TRUE(contains(msg, "evil-os-system.bin")) << msg;
  EXPECT_FALSE(fs::exists("/tmp/embed-pwned"));
}

TEST(PytorchBin, RefusesBuiltinsEval) {
  std::string msg = open_error(case_path("evil-builtins-eval.bin"));
  EXPECT_TRUE(contains(msg, "refusing to load")) << msg;
  EXPECT_TRUE(contains(msg, "'builtins.eval'")) << msg;
}

TEST(PytorchBin, RefusesOtherGlobalsInAnyPosition) {
  // GLOBAL, STACK_GLOBAL and INST each name a global; a torch-looking one outside the list is refused too.
  const std::pair<std::string, std::string> cases[] = {
      {bytes("\x80\x02}q\x00(X\x01\x00\x00\x00" "a" "cos\nsystem\nX\x02\x00\x00\x00ls\x85Ru."), "'os.system'"},
      {bytes("\x80\x04\x8c\x08" "builtins" "\x8c\x04" "exec" "\x93."), "'builtins.exec'"},
      {bytes("\x80\x02(X\x02\x00\x00\x00ls" "isubprocess\nPopen\n."), "'subprocess.Popen'"},
      {bytes("\x80\x02" "ctorch\nload\n."), "'torch.load'"},
      {bytes("\x80\x02" "ctorch._utils\n_rebuild_device_tensor_from_numpy\n."),
       "'torch._utils._rebuild_device_tensor_from_numpy'"},
      {bytes("\x80\x02" "ctorch\nEvilStorage\n."), "'torch.EvilStorage'"},
  };
  for (const auto& [pkl, name] : cases) {
    try {
      embed::io::unpickle_state_dict(std::as_bytes(std::span(pkl.data(), pkl.size())), "x.bin");
      ADD_FAILURE() << "accepted " << name;
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), name)) << e.what();
      EXPECT_TRUE(contains(e.what(), "refusing to load")) << e.what();
    }
  }
}

TEST(PytorchBin, LegacyFormatSaysToResave) {
  std::string msg = open_error(case_path("legacy.bin"));
  EXPECT_TRUE(contains(msg, "legacy")) << msg;
  EXPECT_TRUE(contains(msg, "re-save")) << msg;
}

TEST(PytorchBin, UnsupportedDtypeIsNamed) {
  std::string msg = open_error(case_path("complex.bin"));
  EXPECT_TRUE(contains(msg, "unsupported dtype")) << msg;
  EXPECT_TRUE(contains(msg, "complex64")) << msg;
}

TEST(PytorchBin, MissingStorageEntryIsNamed) {
  std::string msg = open_error(case_path("missing-storage.bin"));
  EXPECT_TRUE(contains(msg, "'archive/data/7'")) << msg;
  EXPECT_TRUE(contains(msg, "'lost'")) << msg;
}

TEST(PytorchBin, StorageTooSmallNamesTheTensor) {
  std::string msg = open_error(case_path("storage-too-small.bin"));
  EXPECT_TRUE(contains(msg, "'too_big'")) << msg;
  EXPECT_TRUE(contains(msg, "too few")) << msg;
}

TEST(PytorchBin, HugeExpandedViewIsRefusedNotAllocated) {
  std::string msg = open_error(case_path("expanded-huge.bin"));
  EXPECT_TRUE(contains(msg, "'huge'")) << msg;
  EXPECT_TRUE(contains(msg, "refusing to materialize")) << msg;
}

TEST(PytorchBin, UnknownOpcodeIsNamedWithItsOffset) {
  std::string msg = open_error(case_path("unknown-opcode.bin"));
  EXPECT_TRUE(contains(msg, "unknown pickle opcode 0xff at byte 3")) << msg;
}

TEST(PytorchBin, NotAZipOrEmpty) {
  auto dir = embed::testing::make_temp_dir("pytorch_bin_notzip");
  write_file(dir / "empty.bin", "");
  write_file(dir / "text.bin", "hello, this is not a checkpoint\n");
  EXPECT_TRUE(contains(open_error(dir / "empty.bin"), "empty"));
  EXPECT_TRUE(contains(open_error(dir / "text.bin"), "not a PyTorch checkpoint"));
  EXPECT_TRUE(contains(open_error(dir / "missing.bin"), "cannot open"));
}

TEST(PytorchBin, TruncatedFileGivesAClearError) {
  auto dir = embed::testing::make_temp_dir("pytorch_bin_truncated");
  const std::string full = read_file(data_path("bin/bert-tiny/pytorch_model.bin"));
  for (std::size_t len : {std::size_t{4}, std::size_t{100}, full.size() / 2, full.size() - 100, full.size() - 1}) {
    fs::path f = dir / ("cut" + std::to_string(len) + ".bin");
    write_file(f, full.substr(0, len));
    std::string msg = open_error(f);
    EXPECT_TRUE(contains(msg, f.string())) << len << ": " << msg;
    EXPECT_TRUE(contains(msg, "truncated")) << len << ": " << msg;
  }
}

TEST(PytorchBin, EveryTruncationAndByteFlipIsAnErrorOrALoad) {
  // Never a crash: every prefix of a small file, and random byte changes anywhere in it.
  auto dir = embed::testing::make_temp_dir("pytorch_bin_fuzz");
  const std::string full = read_file(case_path("mixed.bin"));
  const fs::path f = dir / "f.bin";
  for (std::size_t len = 0; len < full.size(); len += 13) {
    write_file(f, full.substr(0, len));
    EXPECT_FALSE(open_error(f).empty()) << len;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 600; ++i) {
    std::string bytes = full;
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    write_file(f, bytes);
    try {
      open_pytorch_bin(f);
    } catch (const Error&) {
    }
  }
}

TEST(PytorchBin, UnpicklerSurvivesCorruptPickles) {
  // data.pkl is CRC-checked in the archive, so corrupt its bytes directly to reach the unpickler.
  embed::io::ZipArchive zip(case_path("mixed.bin"));
  const auto* e = zip.find("mixed/data.pkl");
  ASSERT_NE(e, nullptr);
  const std::vector<std::byte> pkl = zip.read_copy(*e);
  EXPECT_NO_THROW(embed::io::unpickle_state_dict(pkl, "mixed.bin"));
  std::mt19937 rng(11);
  int loaded = 0, refused = 0;
  for (std::size_t pos = 0; pos < pkl.size(); ++pos) {
    for (int k = 0; k < 4; ++k) {
      std::vector<std::byte> bad = pkl;
      bad[pos] = static_cast<std::byte>(rng());
      try {
        embed::io::unpickle_state_dict(bad, "mixed.bin");
        ++loaded;
      } catch (const Error&) {
        ++refused;
      }
    }
    std::vector<std::byte> cut(pkl.begin(), pkl.begin() + static_cast<std::ptrdiff_t>(pos));
    EXPECT_THROW(embed::io::unpickle_state_dict(cut, "mixed.bin"), Error) << pos;
  }
  EXPECT_GT(refused, 0);
}

// A corrupt pickle's message names the opcode it was reading and where.
TEST(PytorchBin, CorruptPickleMessageNamesTheOpcode) {
  auto message = [](const std::string& pickle) {
    try {
      embed::io::unpickle_state_dict(std::as_bytes(std::span(pickle.data(), pickle.size())), "x.bin");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string msg = message(bytes("\x80\x02J\x01"));  // BININT needs 4 bytes, 1 left
  EXPECT_TRUE(contains(msg, "x.bin: corrupt data.pkl: ")) << msg;
  EXPECT_TRUE(contains(msg, "(opcode BININT (0x4a) at byte 2)")) << msg;
  msg = message(bytes("\x80\x02}"));  // an empty dict, then no STOP
  EXPECT_TRUE(contains(msg, "the pickle ends without a STOP opcode (truncated file?) (opcode end of data at byte 3)"))
      << msg;
}

TEST(PytorchBin, HostilePicklesAreBounded) {
  // Deep nesting (would overflow a recursive destructor) and memo cycles load or fail cleanly.
  std::string deep = "\x80\x02";
  for (int i = 0; i < 200000; ++i) deep += "]";
  for (int i = 0; i < 199999; ++i) deep += "a";
  deep += ".";
  EXPECT_THROW(embed::io::unpickle_state_dict(std::as_bytes(std::span(deep.data(), deep.size())), "deep.bin"), Error);
  const std::string cycle = bytes("\x80\x02]q\x00h\x00" "a.");  // l = []; l.append(l)
  EXPECT_THROW(embed::io::unpickle_state_dict(std::as_bytes(std::span(cycle.data(), cycle.size())), "cycle.bin"), Error);
}

namespace {

// A copy of tests/data/models/<model> whose weights are pytorch_model.bin instead of model.safetensors.
fs::path bin_model_dir(const std::string& model) {
  const fs::path src = data_path("models/" + model);
  const fs::path dir = embed::testing::make_temp_dir("pytorch_bin_" + model);
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    const fs::path rel = fs::relative(entry.path(), src);
    if (entry.is_directory()) {
      fs::create_directories(dir / rel);
    } else if (rel != "model.safetensors" && rel.filename() != "expected.safetensors" &&
               rel.filename() != "expected.json") {
      fs::copy_file(entry.path(), dir / rel);
    }
  }
  fs::copy_file(data_path("bin/" + model + "/pytorch_model.bin"), dir / "pytorch_model.bin");
  return dir;
}

}  // namespace

TEST(PytorchBin, ModelDirectoryWithOnlyPytorchModelBinGivesTheSameEmbeddings) {
  const fs::path dir = bin_model_dir("bert-tiny");
  ASSERT_FALSE(fs::exists(dir / "model.safetensors"));
  auto from_bin = embed::Model::load(dir.string());
  auto from_st = embed::Model::load(data_path("models/bert-tiny").string());
  const std::vector<std::string> texts = {"Hello world!", "A pytorch_model.bin checkpoint, read without Python.", ""};
  embed::Matrix a = from_bin->encode(texts);
  embed::Matrix b = from_st->encode(texts);
  ASSERT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.data, b.data);  // identical weights, identical arithmetic: identical bits
  auto ta = from_bin->encode_tokens(texts);
  auto tb = from_st->encode_tokens(texts);
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) EXPECT_EQ(ta[i].embeddings.data, tb[i].embeddings.data) << i;
}

TEST(PytorchBin, CliEncodesAPytorchModelBinDirectory) {
  // The CLI links open_pytorch_bin only through open_model_weights: this catches a build where the
  // reader is not linked in.
  const fs::path dir = bin_model_dir("bert-tiny");
  auto bin = embed::testing::run_cli({"encode", "-m", dir.string(), "--format", "jsonl", "Hello world!", "Ünïcödé"});
  auto st = embed::testing::run_cli(
      {"encode", "-m", data_path("models/bert-tiny").string(), "--format", "jsonl", "Hello world!", "Ünïcödé"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(bin.exit_code, 0) << bin.err;
  EXPECT_EQ(bin.out, st.out);
}
