#include "compute/workspace.hpp"

#include <cstdlib>
#include <algorithm>
#include <new>

namespace embed::compute {

void Workspace::Free::operator()(std::byte* p) const { std::free(p); }

std::byte* Workspace::buffer(int slot, std::size_t bytes) {
  if (bytes > size_[slot]) {
    // Grow geometrically so slowly rising batch shapes do not reallocate every call.
    std::size_t size = std::max<std::size_t>(bytes, size_[slot] + size_[slot] / 2);
    size = (size + 63) / 64 * 64;
    data_[slot].reset();
    auto* p = static_cast<std::byte*>(std::aligned_alloc(64, size));
    if (!p) throw std::bad_alloc();
    data_[slot].reset(p);
    size_[slot] = size;
  }
  return data_[slot].get();
}

Workspace& thread_workspace() {
  thread_local Workspace workspace;
  return workspace;
}

}  // namespace embed::compute
