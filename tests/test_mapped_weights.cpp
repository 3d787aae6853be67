// Weights read through file mappings (io/mapped_file, io/tensor_data): a mapping's pages can be released
// and read again unchanged, small tensors read on every forward pass come as copies of their own, and a
// loaded model keeps none of its weights file mapped (only the packed layers count in its memory).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/mapped_file.hpp"
#include "io/tensor_data.hpp"
#include "models/encoder.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using embed::testing::data_path;

namespace {

// Resident kB (smaps "Rss:") of the mapping holding `address`; -1 when none holds it.
long resident_kb_at(const void* address) {
  for (const auto& m : embed::testing::read_smaps())
    if (m.contains(address)) return m.kb("Rss:");
  return -1;
}

// Resident kB of every mapping of `file`; -1 when it is not mapped at all.
long resident_kb_of_file(const fs::path& file) {
  const std::string name = " " + fs::canonical(file).string();
  long total = -1;
  for (const auto& m : embed::testing::read_smaps())
    if (m.header.size() >= name.size() && m.header.compare(m.header.size() - name.size(), name.size(), name) == 0)
      total = std::max(total, 0L) + m.kb("Rss:");
  return total;
}

TEST(MappedWeights, ReleasedPagesReadTheSameAgain) {
  const fs::path path = fs::temp_directory_path() / ("embed_mapped_" + std::to_string(::getpid()) + ".bin");
  std::vector<unsigned char> bytes(1 << 20);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + i / 4096);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  {
    embed::io::MappedFile file(path);
    ASSERT_EQ(file.size(), bytes.size());
    const auto* data = reinterpret_cast<const volatile unsigned char*>(file.data());
    for (std::size_t i = 0; i < bytes.size(); i += 4096) ASSERT_EQ(data[i], bytes[i]);
    EXPECT_GT(resident_kb_at(file.data()), 0);
    file.release_pages();
    EXPECT_EQ(resident_kb_at(file.data()), 0);
    for (std::size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(data[i], bytes[i]) << i;
  }
  fs::remove(path);
}

TEST(MappedWeights, OwnedTensorsAreCopiesOutsideTheFile) {
  const auto source = embed::io::open_safetensors(data_path("models/bert-tiny/model.safetensors"));
  embed::io::WeightStore weights({source});
  for (const auto& [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"embeddings.LayerNorm.weight", {32}}, {"embeddings.position_embeddings.weight", {512, 32}}}) {
    const auto view = weights.get(name, shape);
    const auto owned = weights.get_owned(name, shape);
    const auto& raw = source->tensors().at(name);
    EXPECT_EQ(reinterpret_cast<const std::byte*>(view.data), raw.data) << name << ": get() reads the file in place";
    EXPECT_TRUE(owned.owner) << name;
    EXPECT_EQ(owned.shape, shape) << name;
    ASSERT_NE(owned.data, view.data) << name;
    for (int64_t i = 0; i < view.numel(); ++i) ASSERT_EQ(owned.data[i], view.data[i]) << name << " [" << i << "]";
  }
}

// Packing reads every layer through the mapping; afterwards none of it stays mapped (safetensors and
// pytorch_model.bin alike), so the packed copy is all the weights cost.
TEST(MappedWeights, LoadedModelKeepsNoWeightsFileMapped) {
  const fs::path bin_dir = embed::testing::make_temp_dir("mapped_weights_bin");  // config.json + the .bin
  fs::copy_file(data_path("models/bert-tiny/config.json"), bin_dir / "config.json");
  fs::copy_file(data_path("bin/bert-tiny/pytorch_model.bin"), bin_dir / "pytorch_model.bin");
  for (const fs::path& weights_file : {data_path("models/bert-tiny/model.safetensors"), bin_dir / "pytorch_model.bin"}) {
    const auto loaded = embed::models::load_encoder(weights_file.parent_path(), embed::LoadOptions{});
    EXPECT_EQ(resident_kb_of_file(weights_file), 0) << weights_file << " (-1: not mapped at all)";
  }
  fs::remove_all(bin_dir);
}

}  // namespace
