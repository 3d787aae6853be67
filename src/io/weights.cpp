// WeightStore: name lookup across one or more weight files, shape checks, conversion to float32.
#include <cstring>
#include <set>
#include <sstream>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "io/tensor_data.hpp"

namespace embed::io {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

static int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

int64_t RawTensor::numel() const { return product(shape); }
int64_t FloatTensor::numel() const { return product(shape); }

static std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize it
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

WeightStore::WeightStore(std::vector<std::shared_ptr<TensorSource>> sources, std::string prefix)
    : sources_(std::move(sources)), prefix_(std::move(prefix)) {}

const RawTensor* WeightStore::find(const std::string& name, std::string* where) const {
  for (const std::string& candidate : {prefix_ + name, name}) {
    for (const auto& src : sources_) {
      auto it = src->tensors().find(candidate);
      if (it != src->tensors().end()) {
        if (where) *where = src->description() + ": tensor '" + candidate + "'";
        return &it->second;
      }
    }
  }
  return nullptr;
}

bool WeightStore::has(const std::string& name) const { return find(name, nullptr) != nullptr; }

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& src : sources_)
    for (const auto& [name, _] : src->tensors()) out.push_back(name);
  return out;
}

std::optional<FloatTensor> WeightStore::get_optional(const std::string& name,
                                                     const std::vector<int64_t>& expected_shape) const {
  std::string where;
  const RawTensor* raw = find(name, &where);
  if (!raw) return std::nullopt;
  if (raw->shape != expected_shape)
    throw Error(where + " has shape " + shape_string(raw->shape) + " but config.json implies " +
                shape_string(expected_shape));
  FloatTensor t;
  t.shape = raw->shape;
  const std::size_t n = static_cast<std::size_t>(raw->numel());
  if (raw->dtype == DType::F32) {
    if (reinterpret_cast<uintptr_t>(raw->data) % alignof(float) == 0) {
      t.data = reinterpret_cast<const float*>(raw->data);
      return t;
    }
  }
  auto buffer = std::make_shared<std::vector<float>>(n);
  float* out = buffer->data();
  switch (raw->dtype) {
    case DType::F32:
      std::memcpy(out, raw->data, n * 4);
      break;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, raw->data + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, raw->data + 2 * i, 2);
        uint32_t bits = static_cast<uint32_t>(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
      break;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, raw->data + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    default:
      throw Error(where + " has dtype " + dtype_name(raw->dtype) + "; expected a float type (F32, F16, BF16)");
  }
  t.data = out;
  t.owner = buffer;
  return t;
}

FloatTensor WeightStore::get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  auto t = get_optional(name, expected_shape);
  if (!t) {
    std::string files;
    for (const auto& src : sources_) files += (files.empty() ? "" : ", ") + src->description();
    std::string also = prefix_.empty() ? "" : " (also looked for '" + prefix_ + name + "')";
    throw Error(files + ": missing tensor '" + name + "'" + also);
  }
  return *t;
}

FloatTensor WeightStore::get_owned(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  FloatTensor t = get(name, expected_shape);
  if (t.owner) return t;  // already a converted copy
  auto copy = std::make_shared<std::vector<float>>(t.data, t.data + t.numel());
  t.data = copy->data();
  t.owner = std::move(copy);
  return t;
}

std::vector<std::shared_ptr<TensorSource>> open_model_weights(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (model_file_present(dir / "model.safetensors")) return {open_safetensors(dir / "model.safetensors")};
  const fs::path index = dir / "model.safetensors.index.json";
  if (model_file_present(index)) {
    nlohmann::json j = read_json(index);
    JsonObject root(j, index.string());
    const auto& map = root.get("weight_map");
    if (!map.is_object()) root.fail("weight_map", "expected an object {tensor name: shard file}");
    std::set<std::string> shards;
    for (auto& [name, file] : map.items()) {
      if (!file.is_string()) root.fail("weight_map." + name, "expected a shard file name");
      shards.insert(file.get<std::string>());
    }
    // No shard means no tensor at all: say so here, naming the index, not later as a missing tensor of no file.
    if (shards.empty()) root.fail("weight_map", "is empty; expected {tensor name: shard file} for every tensor");
    std::vector<std::shared_ptr<TensorSource>> sources;
    for (const auto& shard : shards) {
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        throw Error(index.string() + ": shard name '" + shard + "' must be a file in the model directory");
      sources.push_back(open_safetensors(dir / shard));
    }
    return sources;
  }
  if (model_file_present(dir / "pytorch_model.bin")) return {open_pytorch_bin(dir / "pytorch_model.bin")};
  throw Error(dir.string() + ": no weights found (expected model.safetensors, model.safetensors.index.json or "
              "pytorch_model.bin)");
}

}  // namespace embed::io

