#include "io/zip_archive.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <zip.h>

#include "embed/error.hpp"
#include "io/mapped_file.hpp"

namespace embed::io {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr std::size_t kEndSize = 22, kZip64LocatorSize = 20, kZip64EndSize = 56;
constexpr std::size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;

uint16_t le16(const std::byte* p) {
  return static_cast<uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}
uint32_t le32(const std::byte* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const std::byte* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

std::string method_name(uint16_t m) {
  switch (m) {
    case 0: return "stored";
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    default: return "method " + std::to_string(m);
  }
}

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

uint32_t zip_crc32(std::span<const std::byte> data, uint32_t crc) {
  const auto& t = crc_table();
  crc = ~crc;
  for (std::byte b : data) crc = t[(crc ^ std::to_integer<uint32_t>(b)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

bool ZipArchive::looks_like_zip(std::span<const std::byte> head) {
  if (head.size() < 4) return false;
  uint32_t sig = le32(head.data());
  return sig == kLocalHeaderSig || sig == kEndSig;
}

ZipArchive::ZipArchive(const std::filesystem::path& path)
    : file_(std::make_unique<MappedFile>(path)), what_(path.string()) {
  read_central_directory();
}

ZipArchive::~ZipArchive() = default;

const std::byte* ZipArchive::file_data() const { return file_->data(); }
std::size_t ZipArchive::file_size() const { return file_->size(); }
void ZipArchive::release_pages() const { file_->release_pages(); }

void ZipArchive::read_central_directory() {
  const std::byte* d = file_->data();
  const std::size_t n = file_->size();
  const std::string corrupt = what_ + ": corrupt or truncated zip archive: ";
  if (n < kEndSize) throw Error(corrupt + "the file is " + std::to_string(n) + " bytes, too short for a zip archive");

  // The end-of-central-directory record sits in the last 22 + (up to 65535 comment) bytes.
  std::size_t end_pos = std::string::npos;
  const std::size_t lowest = n >= kEndSize + 0xffff ? n - kEndSize - 0xffff : 0;
  for (std::size_t pos = n - kEndSize + 1; pos-- > lowest;) {
    if (le32(d + pos) == kEndSig && pos + kEndSize + le16(d + pos + 20) == n) {
      end_pos = pos;
      break;
    }
  }
  if (end_pos == std::string::npos)
    throw Error(corrupt + "no end-of-central-directory record (the file may be cut short)");

  uint64_t count = le16(d + end_pos + 10);
  uint64_t cd_size = le32(d + end_pos + 12);
  uint64_t cd_offset = le32(d + end_pos + 16);
  if (le16(d + end_pos + 4) != 0 || le16(d + end_pos + 6) != 0)
    throw Error(corrupt + "multi-disk (split) archives are not supported");

  // zip64: a locator right before the end record points at the zip64 end record.
  if (end_pos >= kZip64LocatorSize && le32(d + end_pos - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::byte* loc = d + end_pos - kZip64LocatorSize;
    uint64_t z64_pos = le64(loc + 8);
    if (z64_pos > n || n - z64_pos < kZip64EndSize || le32(d + z64_pos) != kZip64EndSig)
      throw Error(corrupt + "the zip64 end-of-central-directory record is missing or out of range");
    const std::byte* z = d + z64_pos;
    count = le64(z + 32);
    cd_size = le64(z + 40);
    cd_offset = le64(z + 48);
  }
  if (cd_offset > n || cd_size > n - cd_offset)
    throw Error(corrupt + "the central directory (offset " + std::to_string(cd_offset) + ", " +
                std::to_string(cd_size) + " bytes) runs past the end of the file (" + std::to_string(n) + " bytes)");
  if (count > cd_size / kCentralHeaderSize)
    throw Error(corrupt + "the central directory claims " + std::to_string(count) + " entries in " +
                std::to_string(cd_size) + " bytes");

  entries_.reserve(static_cast<std::size_t>(count));
  std::size_t pos = static_cast<std::size_t>(cd_offset);
  const std::size_t cd_end = static_cast<std::size_t>(cd_offset + cd_size);
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_end - pos < kCentralHeaderSize || le32(d + pos) != kCentralHeaderSig)
      throw Error(corrupt + "bad central directory header for entry " + std::to_string(i));
    const std::byte* h = d + pos;
    Entry e;
    e.index = i;
    e.flags = le16(h + 8);
    e.method = le16(h + 10);
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.uncompressed_size = le32(h + 24);
    const std::size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    e.local_header_offset = le32(h + 42);
    if (cd_end - pos - kCentralHeaderSize < name_len + extra_len + comment_len)
      throw Error(corrupt + "central directory entry " + std::to_string(i) + " runs past the directory");
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    // zip64 extended information: present fields replace the 0xffffffff placeholders, in this order.
    const std::byte* x = h + kCentralHeaderSize + name_len;
    const std::byte* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = le16(x), len = le16(x + 2);
      if (static_cast<std::size_t>(x_end - x - 4) < len) break;
      if (id == 0x0001) {
        const std::byte* f = x + 4;
        const std::byte* f_end = f + len;
        auto take = [&](uint64_t& field, const char* what) {
          if (f_end - f < 8)
            throw Error(corrupt + "entry '" + e.name + "': the zip64 extra field lacks the " + what);
          field = le64(f);
          f += 8;
        };
        if (e.uncompressed_size == 0xffffffffu) take(e.uncompressed_size, "uncompressed size");
        if (e.compressed_size == 0xffffffffu) take(e.compressed_size, "compressed size");
        if (e.local_header_offset == 0xffffffffu) take(e.local_header_offset, "local header offset");
      }
      x += 4 + len;
    }
    if (e.flags & 0x1) throw Error(what_ + ": zip entry '" + e.name + "' is encrypted; encrypted archives are not supported");
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
    by_name_.emplace(e.name, entries_.size());  // the first of duplicate names wins
    entries_.push_back(std::move(e));
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::raw_data(const Entry& e) const {
  const std::byte* d = file_->data();
  const std::size_t n = file_->size();
  const std::string corrupt = what_ + ": corrupt or truncated zip archive: entry '" + e.name + "': ";
  if (e.local_header_offset > n || n - e.local_header_offset < kLocalHeaderSize ||
      le32(d + e.local_header_offset) != kLocalHeaderSig)
    throw Error(corrupt + "no local file header at offset " + std::to_string(e.local_header_offset));
  const std::byte* h = d + e.local_header_offset;
  const uint64_t data_pos = e.local_header_offset + kLocalHeaderSize + le16(h + 26) + le16(h + 28);
  if (data_pos > n || e.compressed_size > n - data_pos)
    throw Error(corrupt + std::to_string(e.compressed_size) + " bytes at offset " + std::to_string(data_pos) +
                " run past the end of the file (" + std::to_string(n) + " bytes)");
  return {d + data_pos, static_cast<std::size_t>(e.compressed_size)};
}

std::span<const std::byte> ZipArchive::stored_data(const Entry& e) const {
  if (e.method != 0)
    throw Error(what_ + ": zip entry '" + e.name + "' is compressed (" + method_name(e.method) + "), not stored");
  auto s = raw_data(e);
  if (e.compressed_size != e.uncompressed_size)
    throw Error(what_ + ": corrupt zip archive: entry '" + e.name + "': a stored entry with different compressed (" +
                std::to_string(e.compressed_size) + ") and uncompressed (" + std::to_string(e.uncompressed_size) +
                ") sizes");
  return s;
}

std::vector<std::byte> ZipArchive::read_copy(const Entry& e) const {
  if (e.method == 0) {
    auto s = stored_data(e);
    if (zip_crc32(s) != e.crc32)
      throw Error(what_ + ": corrupt zip archive: entry '" + e.name + "' fails its CRC-32 check");
    return {s.begin(), s.end()};
  }
  if (e.method != 8)
    throw Error(what_ + ": zip entry '" + e.name + "' uses an unsupported compression (" + method_name(e.method) +
                "); re-save it with torch.save (which stores entries uncompressed)");
  // Deflate expands at most ~1032:1; a larger claimed size is corruption, not a reason to allocate it.
  raw_data(e);
  if (e.uncompressed_size / 1032 > e.compressed_size + 64)
    throw Error(what_ + ": corrupt zip archive: entry '" + e.name + "' claims to inflate " +
                std::to_string(e.compressed_size) + " bytes to " + std::to_string(e.uncompressed_size));
  // Inflate through libzip, reading from the mapping.
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(file_->data(), file_->size(), 0, &err);
  if (!src) {
    std::string msg = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw Error(what_ + ": cannot read zip archive: " + msg);
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!za) {
    std::string msg = zip_error_strerror(&err);
    zip_source_free(src);
    zip_error_fini(&err);
    throw Error(what_ + ": corrupt zip archive: " + msg);
  }
  zip_error_fini(&err);
  struct Closer {
    zip_t* za;
    ~Closer() { zip_discard(za); }
  } closer{za};
  const char* lname = zip_get_name(za, e.index, ZIP_FL_ENC_RAW);
  if (!lname || e.name != lname)
    throw Error(what_ + ": corrupt zip archive: libzip does not see entry '" + e.name + "' at index " +
                std::to_string(e.index));
  zip_file_t* zf = zip_fopen_index(za, e.index, 0);
  if (!zf) throw Error(what_ + ": cannot open zip entry '" + e.name + "': " + zip_strerror(za));
  std::vector<std::byte> out(static_cast<std::size_t>(e.uncompressed_size));
  zip_int64_t got = zip_fread(zf, out.data(), out.size());
  std::string ferr = got < 0 ? zip_file_strerror(zf) : "";
  // One more read to reach the end of the stream, where libzip checks the CRC.
  std::byte extra[1];
  zip_int64_t more = got == static_cast<zip_int64_t>(out.size()) ? zip_fread(zf, extra, 1) : 0;
  if (more < 0) ferr = zip_file_strerror(zf);
  zip_fclose(zf);
  if (got < 0 || more < 0)
    throw Error(what_ + ": corrupt zip archive: entry '" + e.name + "': " + ferr);
  if (static_cast<uint64_t>(got) != e.uncompressed_size || more != 0)
    throw Error(what_ + ": corrupt zip archive: entry '" + e.name + "' inflates to a different size than the " +
                std::to_string(e.uncompressed_size) + " bytes its header says");
  return out;
}

}  // namespace embed::io
