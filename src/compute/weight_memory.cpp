#include "compute/weight_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <new>
#include <string>

namespace embed::compute {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kBlockBytes = 16 * kHugePage;  // 32 MB
constexpr std::size_t kAlignment = 64;

// One anonymous mapping, its start aligned to a huge page.
class Block {
 public:
  explicit Block(std::size_t bytes) : bytes_((bytes + kHugePage - 1) / kHugePage * kHugePage) {
    // Map a huge page more than needed, then unmap the unaligned ends.
    const std::size_t mapped = bytes_ + kHugePage;
    void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const auto aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > start) munmap(raw, aligned - start);
    if (const std::size_t tail = start + mapped - (aligned + bytes_); tail > 0)
      munmap(reinterpret_cast<void*>(aligned + bytes_), tail);
    data_ = reinterpret_cast<std::byte*>(aligned);
    madvise(data_, bytes_, MADV_HUGEPAGE);  // advice only: without THP the pages stay 4 KB
  }
  ~Block() { munmap(data_, bytes_); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  std::byte* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  std::size_t bytes_;
  std::byte* data_ = nullptr;
};

// True when [begin, end) lies in one read-only mapping of a file (e.g. the mmapped safetensors).
bool is_readonly_file_mapping(std::uintptr_t begin, std::uintptr_t end) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0, offset = 0, inode = 0;
    char perms[8] = {}, dev[16] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &offset, dev, &inode) != 6) continue;
    if (begin >= lo && end <= hi) return inode != 0 && perms[1] == '-';
  }
  return false;
}

std::mutex block_mutex;
std::weak_ptr<Block> current_block;  // the block new buffers are cut from (expired: none in use)
std::size_t current_used = 0;

}  // namespace

std::shared_ptr<std::byte> allocate_weight_memory(std::size_t bytes) {
  bytes = (std::max<std::size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  std::lock_guard<std::mutex> lock(block_mutex);
  std::shared_ptr<Block> block = current_block.lock();
  if (!block || block->size() - current_used < bytes) {
    block = std::make_shared<Block>(std::max(bytes, kBlockBytes));
    current_block = block;
    current_used = 0;
  }
  std::byte* data = block->data() + current_used;
  current_used += bytes;
  // Fresh anonymous pages read as zero, and no buffer is cut from the same bytes twice.
  return std::shared_ptr<std::byte>(block, data);
}

// Only whole pages inside the range are dropped; pages in large folios shared with a neighbouring tensor
// can stay mapped (models::load_encoder releases the whole file once every layer is packed).
void release_source_pages(const void* data, std::size_t bytes) {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) / page * page;
  if (end <= begin || !is_readonly_file_mapping(begin, end)) return;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace embed::compute
