#pragma once
// A restricted unpickler for the data.pkl of a torch.save archive. It understands the pickle opcodes
// (protocols 2-5) that torch.save emits and builds plain values only: None, bools, ints, floats,
// strings, bytes, tuples, lists, dicts, and the two torch objects a state dict is made of -- storage
// references (persistent ids) and tensors rebuilt from them. The only globals it accepts are the
// tensor-rebuilding ones (torch._utils._rebuild_tensor_v2 & co, torch.*Storage, collections.OrderedDict,
// torch.Size); any other global is refused with an error naming it. Nothing is ever called or
// constructed beyond those values: a model file cannot run code.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "io/tensor_data.hpp"

namespace embed::io {

// ('storage', torch.FloatStorage, '0', 'cpu', 1234): where a tensor's bytes live in the archive.
struct PickledStorage {
  DType dtype;
  std::string type_name;  // e.g. "torch.FloatStorage"
  std::string key;        // the entry is <archive>/data/<key>
  std::string location;   // e.g. "cpu", "cuda:0"
  int64_t numel = 0;      // elements of dtype
};

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...).
struct PickledTensor {
  std::size_t storage = 0;  // index into PickledStateDict::storages
  int64_t storage_offset = 0;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

struct PickledStateDict {
  std::vector<PickledStorage> storages;             // one per distinct key
  std::vector<PickledTensor> tensors;
  std::vector<std::pair<std::string, std::size_t>> entries;  // name -> index into tensors, in file order
};

// Unpickles `pkl` and returns its tensors by name. The pickle must describe a dict of tensors (an
// OrderedDict state dict); a dict that holds such a dict under "state_dict" or "model" is also read.
// Non-tensor values of the dict (e.g. an "epoch" number) are skipped. `where` prefixes every error
// message (e.g. "pytorch_model.bin (data.pkl)").
PickledStateDict unpickle_state_dict(std::span<const std::byte> pkl, const std::string& where);

}  // namespace embed::io
