#pragma once
// Every model file is read through these checks: it must be a regular file once symlinks are followed.
// A FIFO or device would hang the read or fill memory, a directory would read as an empty file, and a
// dangling symlink (a Hugging Face cache whose blob never arrived) must not pass for an absent optional file.
// Each refusal is an embed::Error naming the path and what is there instead.
#include <filesystem>
#include <fstream>
#include <string>

namespace embed::io {

// Throws unless `path` is a regular file after following symlinks: names a missing file, a broken symlink
// and its target, a symlink loop, a directory, a FIFO, a device or a socket.
void require_model_file(const std::filesystem::path& path);

// For optional files ("use X if it is there"): false only when nothing at all is at `path`; true for a
// regular file; throws as require_model_file for anything else, a dangling symlink included.
bool model_file_present(const std::filesystem::path& path);

// True when `path` is a directory (after symlinks), false when nothing or a non-directory is there; throws
// for a broken symlink or a symlink loop, where std::filesystem would say "absent" or throw its own error.
bool model_directory_present(const std::filesystem::path& path);

// A read-only descriptor of the checked regular file (the caller closes it). Opened non-blocking and checked
// again with fstat, so a file swapped for a FIFO after the check cannot block the open.
int open_model_file(const std::filesystem::path& path);

// The whole checked file.
std::string read_file_bytes(const std::filesystem::path& path);

// A stream over the checked file, for readers that go line by line.
std::ifstream open_model_stream(const std::filesystem::path& path);

}  // namespace embed::io
