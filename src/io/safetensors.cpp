// safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw bytes. Memory-mapped; every offset is checked before any tensor is handed out.
#include <algorithm>
#include <cstring>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/mapped_file.hpp"
#include "io/tensor_data.hpp"

namespace embed::io {

namespace {

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "F64") return DType::F64;
  if (s == "I64") return DType::I64;
  if (s == "I32") return DType::I32;
  if (s == "I16") return DType::I16;
  if (s == "I8") return DType::I8;
  if (s == "U8") return DType::U8;
  if (s == "BOOL") return DType::BOOL;
  throw Error(where + ": unknown dtype \"" + s + "\" (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)");
}

// The bytes a tensor of `shape` and `dtype` takes; a product past 64 bits is an error, not a wrapped size that
// could match a short span.
std::size_t byte_size(const std::vector<int64_t>& shape, DType dtype, const std::string& where) {
  uint64_t bytes = dtype_size(dtype);
  for (const int64_t d : shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
      std::string dims;
      for (const int64_t e : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(e);
      throw Error(where + ": shape [" + dims + "] of " + dtype_name(dtype) + " is too large (its size in bytes "
                  "overflows 64 bits)");
    }
  }
  return bytes;
}

class SafetensorsFile : public TensorSource {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path) : file_(path) {
    const std::string name = path.string();
    if (file_.size() < 8)
      throw Error(name + ": not a safetensors file: " + std::to_string(file_.size()) +
                  " bytes, shorter than the 8-byte header length");
    uint64_t header_len = 0;
    std::memcpy(&header_len, file_.data(), 8);  // little-endian on every platform we build for
    if (header_len > file_.size() - 8)
      throw Error(name + ": corrupt safetensors: header length " + std::to_string(header_len) +
                  " runs past the end of the file (" + std::to_string(file_.size()) + " bytes)");
    const char* header_begin = reinterpret_cast<const char*>(file_.data()) + 8;
    nlohmann::json header = parse_json(std::string(header_begin, header_len), name + " (safetensors header)");
    if (!header.is_object()) throw Error(name + ": corrupt safetensors: the header is not a JSON object");

    const std::byte* body = file_.data() + 8 + header_len;
    const std::size_t body_size = file_.size() - 8 - header_len;
    std::vector<std::pair<std::size_t, std::string>> spans;  // begin -> name, to find overlaps
    std::map<std::string, std::size_t> ends;
    for (auto& [tensor_name, info] : header.items()) {
      if (tensor_name == "__metadata__") continue;
      const std::string where = name + ": tensor '" + tensor_name + "'";
      if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
        throw Error(where + ": expected an object with dtype, shape and data_offsets");
      if (!info["dtype"].is_string()) throw Error(where + ": dtype is not a string");
      RawTensor t{};
      t.dtype = parse_dtype(info["dtype"].get<std::string>(), where);
      if (!info["shape"].is_array()) throw Error(where + ": shape is not an array");
      for (const auto& d : info["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) throw Error(where + ": shape has a non-integer or negative dimension");
        t.shape.push_back(d.get<int64_t>());
      }
      const auto& off = info["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        throw Error(where + ": data_offsets must be two non-negative integers");
      uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
      if (begin > end || end > body_size)
        throw Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    "] out of range (data section is " + std::to_string(body_size) + " bytes)");
      const std::size_t expected = byte_size(t.shape, t.dtype, where);
      if (end - begin != expected)
        throw Error(where + ": data_offsets span " + std::to_string(end - begin) + " bytes but dtype " +
                    dtype_name(t.dtype) + " and its shape need " + std::to_string(expected));
      t.data = body + begin;
      t.nbytes = end - begin;
      spans.emplace_back(begin, tensor_name);
      ends[tensor_name] = end;
      tensors_.emplace(tensor_name, std::move(t));
    }
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      const auto& prev = spans[i - 1];
      if (ends[prev.second] > spans[i].first && tensors_[prev.second].nbytes > 0 && tensors_[spans[i].second].nbytes > 0)
        throw Error(name + ": corrupt safetensors: tensors '" + prev.second + "' and '" + spans[i].second +
                    "' overlap");
    }
  }

  const std::map<std::string, RawTensor>& tensors() const override { return tensors_; }
  std::string description() const override { return file_.path().string(); }
  void release_pages() const override { file_.release_pages(); }

 private:
  MappedFile file_;
  std::map<std::string, RawTensor> tensors_;
};

}  // namespace

std::shared_ptr<TensorSource> open_safetensors(const std::filesystem::path& file) {
  return std::make_shared<SafetensorsFile>(file);
}

}  // namespace embed::io
