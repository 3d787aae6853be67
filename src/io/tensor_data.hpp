#pragma once
// Raw tensors as stored in a weights file, and the store that models read their weights from.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace embed::io {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };
std::size_t dtype_size(DType t);
const char* dtype_name(DType t);

// A tensor's bytes inside a loaded file (memory-mapped or owned by the source).
struct RawTensor {
  DType dtype;
  std::vector<int64_t> shape;
  const std::byte* data;   // row-major, contiguous
  std::size_t nbytes;
  int64_t numel() const;
};

// A weights file (or set of files): name -> raw tensor. Keeps the bytes alive as long as it lives.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const std::map<std::string, RawTensor>& tensors() const = 0;
  virtual std::string description() const = 0;  // e.g. the file path, for error messages
  // Once the model is built: drops the process's mappings of the file's pages (MappedFile::release_pages);
  // tensors read later map theirs again. No-op for sources without a mapping.
  virtual void release_pages() const {}
};

// Float32 tensor handed to a model: a view into the file when it is already F32, else a converted copy.
struct FloatTensor {
  std::vector<int64_t> shape;
  const float* data = nullptr;
  std::shared_ptr<const void> owner;  // keeps converted data alive
  int64_t numel() const;
};

// What a model reads its weights from. Names are looked up with and without the base-model prefix
// (e.g. "bert.embeddings..." and "embeddings...").
class WeightStore {
 public:
  explicit WeightStore(std::vector<std::shared_ptr<TensorSource>> sources, std::string prefix = "");

  bool has(const std::string& name) const;
  // Throws embed::Error naming the tensor when missing, and both shapes when they differ.
  FloatTensor get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::optional<FloatTensor> get_optional(const std::string& name,
                                          const std::vector<int64_t>& expected_shape) const;
  // get() with the values in memory of their own, for small tensors read on every forward pass (layer
  // norms, position embeddings). Read through the file mapping, each would map the file's pages around it
  // (with large page-cache folios, up to 2 MB) back into the process after load released them
  // (TensorSource::release_pages).
  FloatTensor get_owned(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> names() const;
  // The prefix a model uses (e.g. "bert."); set by the model before reading.
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }

 private:
  const RawTensor* find(const std::string& name, std::string* where) const;
  std::vector<std::shared_ptr<TensorSource>> sources_;
  std::string prefix_;
};

// Opens the weights of a model directory: model.safetensors, a sharded model.safetensors.index.json,
// or pytorch_model.bin (safetensors preferred when both exist).
std::vector<std::shared_ptr<TensorSource>> open_model_weights(const std::filesystem::path& dir);

// Individual formats.
std::shared_ptr<TensorSource> open_safetensors(const std::filesystem::path& file);
std::shared_ptr<TensorSource> open_pytorch_bin(const std::filesystem::path& file);

}  // namespace embed::io
