#include "detail/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "keras64/error.hpp"

namespace keras64::detail {

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

File File::open_read(const std::filesystem::path& p) {
  File f;
  f.path_ = p.string();
  f.fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd_ < 0) throw io_error({f.path_}, "cannot open", errno);
  struct stat st {};
  if (::fstat(f.fd_, &st) == 0 && S_ISDIR(st.st_mode))
    throw io_error({f.path_}, "cannot read", EISDIR);
  return f;
}

File File::create(const std::filesystem::path& p) {
  File f;
  f.path_ = p.string();
  f.fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f.fd_ < 0) throw io_error({f.path_}, "cannot create", errno);
  return f;
}

File File::create_truncate(const std::filesystem::path& p) {
  File f;
  f.path_ = p.string();
  f.fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (f.fd_ < 0) throw io_error({f.path_}, "cannot create", errno);
  return f;
}

File File::open_write(const std::filesystem::path& p) {
  File f;
  f.path_ = p.string();
  f.fd_ = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (f.fd_ < 0) throw io_error({f.path_}, "cannot open for writing", errno);
  return f;
}

File File::adopt(int fd, std::string path) {
  File f;
  f.fd_ = fd;
  f.path_ = std::move(path);
  return f;
}

std::uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw io_error({path_}, "cannot stat", errno);
  return static_cast<std::uint64_t>(st.st_size);
}

std::size_t File::pread_some(void* dst, std::size_t n, std::uint64_t offset) const {
  auto* p = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw io_error({path_}, "read failed", errno);
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

void File::pread_all(void* dst, std::size_t n, std::uint64_t offset) const {
  if (pread_some(dst, n, offset) != n)
    throw Error(
        Errc::corrupt, {path_},
        "truncated: expected " + std::to_string(n) + " bytes at offset " + std::to_string(offset));
}

void File::write_all(const void* src, std::size_t n) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    ssize_t r = ::write(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw io_error({path_}, "write failed", errno);
    }
    if (r == 0) throw io_error({path_}, "write failed", ENOSPC);  // no progress: full device
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

void File::pwrite_all(const void* src, std::size_t n, std::uint64_t offset) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    ssize_t r = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw io_error({path_}, "write failed", errno);
    }
    if (r == 0) throw io_error({path_}, "write failed", ENOSPC);
    p += r;
    offset += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
  }
}

void File::sync() {
  if (::fsync(fd_) != 0) throw io_error({path_}, "fsync failed", errno);
}

void sync_files(const std::vector<std::filesystem::path>& paths, unsigned threads) {
  std::vector<std::exception_ptr> errors(paths.size());
  std::atomic<std::size_t> next = 0;
  const auto work = [&] {
    for (std::size_t i; (i = next++) < paths.size();) {
      try {
        File::open_read(paths[i]).sync();
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  try {
    while (helpers.size() + 1 < std::min<std::size_t>(threads, paths.size()))
      helpers.emplace_back(work);
  } catch (const std::system_error&) {  // out of threads: fewer at once
  }
  work();
  for (auto& t : helpers) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void File::close() {
  if (fd_ < 0) return;
  int fd = fd_;
  fd_ = -1;
  // close() can report a delayed write error (NFS, disk full): it must not be ignored.
  if (::close(fd) != 0) throw io_error({path_}, "close failed", errno);
}

std::string read_text_file(const std::filesystem::path& p, std::uint64_t limit) {
  File f = File::open_read(p);
  const std::uint64_t n = f.size();
  if (n > limit)
    throw Error(
        Errc::corrupt, {p.string()},
        "file is too large (" + std::to_string(n) + " bytes, limit " + std::to_string(limit) + ")");
  std::string s(static_cast<std::size_t>(n), '\0');
  f.pread_all(s.data(), s.size(), 0);
  return s;
}

}  // namespace keras64::detail
