// pytorch_model.bin: the zip archive torch.save writes (PyTorch >= 1.6):
//   <archive>/data.pkl       the state dict, pickled; tensors refer to storages by persistent id
//   <archive>/data/<key>     one entry per storage, raw little-endian elements
//   <archive>/version, <archive>/byteorder (newer torch), .data/serialization_id (newer torch)
// data.pkl is read by a restricted unpickler (io/pickle.cpp) that accepts only tensor-rebuilding
// globals. The file is memory-mapped: a contiguous tensor in a stored (uncompressed) entry is handed
// out in place; a compressed entry, a non-contiguous or misaligned tensor, or a big-endian file gets an
// owned copy.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include "embed/error.hpp"
#include "io/model_file.hpp"
#include "io/pickle.hpp"
#include "io/tensor_data.hpp"
#include "io/zip_archive.hpp"

namespace embed::io {

namespace {

std::string shape_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// What the first bytes say the file is, before trusting it to be a zip archive.
void check_format(const std::filesystem::path& path) {
  std::ifstream in = open_model_stream(path);
  char head[512] = {};
  in.read(head, sizeof head);
  const std::size_t got = static_cast<std::size_t>(in.gcount());
  std::span<const std::byte> h(reinterpret_cast<const std::byte*>(head), got);
  if (ZipArchive::looks_like_zip(h)) return;
  const bool pickle = got >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && static_cast<unsigned char>(head[1]) <= 5;
  const bool tar = got >= 262 && std::memcmp(head + 257, "ustar", 5) == 0;
  if (pickle || tar)
    throw Error(path.string() + ": this is the legacy PyTorch serialization format (torch < 1.6, " +
                (tar ? "a tar archive" : "a sequence of pickles") +
                "), which is not supported; re-save it with a current torch.save (or convert it to "
                "model.safetensors)");
  if (got == 0) throw Error(path.string() + ": the file is empty, not a PyTorch checkpoint");
  throw Error(path.string() + ": not a PyTorch checkpoint: a torch.save file is a zip archive, and this file does "
              "not start like one");
}

class PytorchBinFile : public TensorSource {
 public:
  explicit PytorchBinFile(const std::filesystem::path& path) : path_(path.string()) {
    check_format(path);
    zip_ = std::make_unique<ZipArchive>(path);

    // <archive>/data.pkl: the archive name is whatever torch.save chose (file stem, "archive", ...).
    const ZipArchive::Entry* pkl = nullptr;
    for (const auto& e : zip_->entries()) {
      const std::size_t slash = e.name.find('/');
      if (slash != std::string::npos && slash > 0 && e.name.substr(slash) == "/data.pkl") {
        if (pkl)
          throw Error(path_ + ": the archive holds two pickles ('" + pkl->name + "' and '" + e.name +
                      "'); expected one <archive>/data.pkl");
        pkl = &e;
      }
    }
    if (!pkl)
      throw Error(path_ + ": the zip archive has no <archive>/data.pkl entry; it was not written by torch.save");
    prefix_ = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());

    if (const auto* bo = zip_->find(prefix_ + "byteorder")) {
      auto v = zip_->read_copy(*bo);
      std::string order(reinterpret_cast<const char*>(v.data()), v.size());
      if (order == "big") big_endian_ = true;
      else if (order != "little")
        throw Error(path_ + ": unknown byte order '" + order + "' in '" + bo->name + "' (expected little or big)");
    }

    const std::vector<std::byte> pickle_bytes = zip_->read_copy(*pkl);
    const PickledStateDict sd = unpickle_state_dict(pickle_bytes, path_);

    std::vector<const std::byte*> storage_data(sd.storages.size(), nullptr);
    std::vector<bool> resolved(sd.storages.size(), false);
    for (const auto& [name, tensor_index] : sd.entries) {
      const PickledTensor& pt = sd.tensors[tensor_index];
      const PickledStorage& st = sd.storages[pt.storage];
      if (!resolved[pt.storage]) {
        storage_data[pt.storage] = resolve_storage(st, name);
        resolved[pt.storage] = true;
      }
      tensors_.emplace(name, make_tensor(name, pt, st, storage_data[pt.storage]));
    }
  }

  const std::map<std::string, RawTensor>& tensors() const override { return tensors_; }
  std::string description() const override { return path_; }
  void release_pages() const override { zip_->release_pages(); }

 private:
  // The bytes of one storage: in place when stored little-endian, else an owned copy.
  const std::byte* resolve_storage(const PickledStorage& st, const std::string& first_user) {
    const std::string entry_name = prefix_ + "data/" + st.key;
    const ZipArchive::Entry* e = zip_->find(entry_name);
    if (!e)
      throw Error(path_ + ": the storage entry '" + entry_name + "' (used by tensor '" + first_user +
                  "') is missing from the archive");
    const std::size_t es = dtype_size(st.dtype);
    const uint64_t need_elems = static_cast<uint64_t>(st.numel);
    if (need_elems > std::numeric_limits<uint64_t>::max() / es || e->uncompressed_size < need_elems * es)
      throw Error(path_ + ": the storage entry '" + entry_name + "' holds " + std::to_string(e->uncompressed_size) +
                  " bytes, fewer than the " + std::to_string(st.numel) + " elements of " + st.type_name +
                  " the pickle says (" + std::to_string(need_elems * es) + " bytes)");
    if (st.numel == 0) return nullptr;
    if (e->method == 0 && !big_endian_) return zip_->stored_data(*e).data();
    std::vector<std::byte> copy = zip_->read_copy(*e);
    if (big_endian_ && es > 1) {
      for (std::size_t off = 0; off + es <= copy.size(); off += es) std::reverse(copy.begin() + off, copy.begin() + off + es);
    }
    return own(copy.data(), copy.size());
  }

  const std::byte* own(const std::byte* src, std::size_t n) {
    auto buf = std::make_unique<std::byte[]>(std::max<std::size_t>(n, 1));
    if (n) std::memcpy(buf.get(), src, n);
    owned_.push_back(std::move(buf));
    return owned_.back().get();
  }

  RawTensor make_tensor(const std::string& name, const PickledTensor& pt, const PickledStorage& st,
                        const std::byte* base) {
    const std::string where = path_ + ": tensor '" + name + "'";
    RawTensor t{};
    t.dtype = st.dtype;
    t.shape = pt.size;
    const std::size_t es = dtype_size(st.dtype);

    // Element count and the furthest element the view touches, with overflow checks.
    constexpr uint64_t kLimit = uint64_t{1} << 60;  // elements; times 8 bytes still fits in 64 bits
    uint64_t numel = 1, last = static_cast<uint64_t>(pt.storage_offset);
    for (std::size_t d = 0; d < pt.size.size(); ++d) {
      if (pt.size[d] < 0) throw Error(where + ": negative size " + shape_string(pt.size));
      if (pt.stride[d] < 0) throw Error(where + ": negative stride " + shape_string(pt.stride));
      const uint64_t sz = static_cast<uint64_t>(pt.size[d]);
      if (sz != 0 && numel > kLimit / sz) throw Error(where + ": size " + shape_string(pt.size) + " is too large");
      numel *= sz;
    }
    if (numel > 0) {
      for (std::size_t d = 0; d < pt.size.size(); ++d) {
        const uint64_t span = static_cast<uint64_t>(pt.size[d] - 1);
        const uint64_t stride = static_cast<uint64_t>(pt.stride[d]);
        if (stride != 0 && span > (kLimit - last) / stride)
          throw Error(where + ": size " + shape_string(pt.size) + " and stride " + shape_string(pt.stride) +
                      " reach past any storage");
        last += span * stride;
      }
      if (last >= static_cast<uint64_t>(st.numel))
        throw Error(where + ": its storage '" + st.key + "' holds " + std::to_string(st.numel) + " elements, too few for "
                    "size " + shape_string(pt.size) + ", stride " + shape_string(pt.stride) + " and offset " +
                    std::to_string(pt.storage_offset) + " (element " + std::to_string(last) + " is needed)");
    }
    t.nbytes = static_cast<std::size_t>(numel) * es;
    if (numel == 0) {
      alignas(64) static const std::byte empty[64] = {};
      t.data = empty;
      return t;
    }

    bool contiguous = true;
    int64_t expect = 1;
    for (std::size_t d = pt.size.size(); d-- > 0;) {
      if (pt.size[d] != 1 && pt.stride[d] != expect) contiguous = false;
      expect *= pt.size[d];
    }
    const std::byte* first = base + static_cast<std::size_t>(pt.storage_offset) * es;
    if (contiguous) {
      const bool aligned = reinterpret_cast<std::uintptr_t>(first) % es == 0;
      t.data = aligned ? first : own(first, t.nbytes);
      return t;
    }
    // Gather a strided view into row-major order. Stride-0 (expanded) views can describe far more
    // elements than the file holds; a copy larger than the file (plus slack) is refused, not allocated.
    const uint64_t copy_limit = 2 * static_cast<uint64_t>(zip_->file_size()) + (uint64_t{64} << 20);
    if (t.nbytes > copy_limit)
      throw Error(where + ": size " + shape_string(pt.size) + " and stride " + shape_string(pt.stride) +
                  " expand " + std::to_string(st.numel) + " stored elements to " + std::to_string(t.nbytes) +
                  " bytes; refusing to materialize a view that much larger than the file");
    auto buf = std::make_unique<std::byte[]>(t.nbytes);
    std::vector<int64_t> idx(pt.size.size(), 0);
    const std::size_t nd = pt.size.size();
    for (uint64_t i = 0; i < numel; ++i) {
      int64_t off = 0;
      for (std::size_t d = 0; d < nd; ++d) off += idx[d] * pt.stride[d];
      std::memcpy(buf.get() + i * es, first + static_cast<std::size_t>(off) * es, es);
      for (std::size_t d = nd; d-- > 0;) {
        if (++idx[d] < pt.size[d]) break;
        idx[d] = 0;
      }
    }
    owned_.push_back(std::move(buf));
    t.data = owned_.back().get();
    return t;
  }

  std::string path_;
  std::unique_ptr<ZipArchive> zip_;
  std::string prefix_;
  bool big_endian_ = false;
  std::vector<std::unique_ptr<std::byte[]>> owned_;
  std::map<std::string, RawTensor> tensors_;
};

}  // namespace

std::shared_ptr<TensorSource> open_pytorch_bin(const std::filesystem::path& file) {
  return std::make_shared<PytorchBinFile>(file);
}

}  // namespace embed::io
