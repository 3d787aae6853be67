#include "io/model_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/error.hpp"

namespace embed::io {

namespace fs = std::filesystem;

namespace {

std::string kind_of(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory: return "is a directory, expected a file";
    case fs::file_type::fifo: return "is not a regular file (a FIFO)";
    case fs::file_type::character: return "is not a regular file (a character device)";
    case fs::file_type::block: return "is not a regular file (a block device)";
    case fs::file_type::socket: return "is not a regular file (a socket)";
    default: return "is not a regular file";
  }
}

// Why `path`, whose status (after symlinks) is `st` / `ec`, is not a readable regular file.
std::string why_not_readable(const fs::path& path, const fs::file_status& st, const std::error_code& ec) {
  if (st.type() == fs::file_type::not_found) {
    std::error_code link_ec;
    if (fs::is_symlink(fs::symlink_status(path, link_ec)))
      return "is a broken symlink to " + fs::read_symlink(path, link_ec).string() + "; the download looks incomplete";
    return "cannot open: " + ec.message();
  }
  if (ec == std::errc::too_many_symbolic_link_levels) return "is a symlink loop (too many levels of symbolic links)";
  if (ec) return "cannot open: " + ec.message();
  return kind_of(st.type());
}

[[noreturn]] void throw_errno(const fs::path& path, const char* what, int err) {
  throw Error(path.string() + ": " + what + ": " + std::strerror(err));
}

}  // namespace

void require_model_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() != fs::file_type::regular) throw Error(path.string() + ": " + why_not_readable(path, st, ec));
}

bool model_file_present(const fs::path& path) {
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() == fs::file_type::not_found) return false;
  require_model_file(path);
  return true;
}

bool model_directory_present(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::directory) return true;
  const bool dangling = st.type() == fs::file_type::not_found && fs::is_symlink(fs::symlink_status(path, ec));
  if (dangling || (ec && st.type() != fs::file_type::not_found))
    throw Error(path.string() + ": " + why_not_readable(path, st, ec));
  return false;
}

int open_model_file(const fs::path& path) {
  require_model_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_errno(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno(path, "cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path.string() + ": is not a regular file (it changed while being opened)");
  }
  return fd;
}

std::string read_file_bytes(const fs::path& path) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } file{open_model_file(path)};
  struct stat st {};
  std::string out;
  if (::fstat(file.fd, &st) == 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(file.fd, buffer, sizeof buffer);
    if (got == 0) return out;
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno(path, "read error", errno);
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

std::ifstream open_model_stream(const fs::path& path) {
  require_model_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno(path, "cannot open", errno);
  return in;
}

}  // namespace embed::io
