#pragma once
// A read-only zip archive over a memory-mapped file: the central directory is read here (zip64
// included), so stored (uncompressed) entries can be handed out in place as views into the mapping.
// Compressed entries are inflated into an owned copy through libzip.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace embed::io {

class MappedFile;

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;            // 0 stored, 8 deflated, ...
    uint16_t flags = 0;
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t uncompressed_size = 0;
    uint64_t local_header_offset = 0;
    uint64_t index = 0;             // position in the central directory
  };

  // Throws embed::Error (naming the file) when `path` cannot be read or is not a well-formed zip archive.
  explicit ZipArchive(const std::filesystem::path& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  // True when the file starts like a zip archive (a local file header or an empty archive's end record).
  static bool looks_like_zip(std::span<const std::byte> head);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;

  // The bytes of a stored entry, in place (bounds checked). Throws for a compressed entry.
  std::span<const std::byte> stored_data(const Entry& e) const;
  // The bytes of any entry as a copy (inflated when compressed; CRC checked).
  std::vector<std::byte> read_copy(const Entry& e) const;

  const std::byte* file_data() const;
  // MappedFile::release_pages of the archive's mapping.
  void release_pages() const;
  std::size_t file_size() const;
  std::string description() const { return what_; }

 private:
  void read_central_directory();
  std::span<const std::byte> raw_data(const Entry& e) const;  // the entry's bytes as stored (bounds checked)
  std::unique_ptr<MappedFile> file_;
  std::string what_;
  std::vector<Entry> entries_;
  std::map<std::string, std::size_t> by_name_;
};

// CRC-32 (the zip polynomial), for checking small entries.
uint32_t zip_crc32(std::span<const std::byte> data, uint32_t crc = 0);

}  // namespace embed::io
