#pragma once
// A read-only memory-mapped file: weights are used in place, never copied.
#include <cstddef>
#include <filesystem>

namespace embed::io {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Drops this process's mappings of the file's pages (MADV_DONTNEED): they stay in the page cache, and
  // the next read maps them again. For a model once its layers are packed: pages only load read would
  // otherwise stay counted in the process's memory.
  void release_pages() const;

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace embed::io
