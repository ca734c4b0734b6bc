// Checked POSIX file I/O. Every call either does all it was asked or throws Error{io} naming the
// file; short reads at end of file are Error{corrupt} ("truncated"), since a file we read is
// shorter than its own headers say.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace keras64::detail {

class File {
 public:
  File() = default;
  ~File();
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  /// Opens an existing file read-only.
  static File open_read(const std::filesystem::path& p);
  /// Creates a new file for writing; fails if it exists (O_EXCL), mode 0644 less umask.
  static File create(const std::filesystem::path& p);
  /// Opens for writing, creating or truncating it (for files keras64 itself made, e.g. TempFile).
  static File create_truncate(const std::filesystem::path& p);
  /// Opens an existing file for writing in place, without truncating it (a file keras64 made
  /// through another library, e.g. HDF5, whose data it then writes itself).
  static File open_write(const std::filesystem::path& p);
  /// Takes ownership of an open descriptor `fd` for the file at `path`.
  static File adopt(int fd, std::string path);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::uint64_t size() const;

  /// Reads exactly n bytes at offset; a short read is Error{corrupt} "truncated".
  void pread_all(void* dst, std::size_t n, std::uint64_t offset) const;
  /// Reads up to n bytes at offset; returns the count (less only at end of file).
  std::size_t pread_some(void* dst, std::size_t n, std::uint64_t offset) const;
  /// Writes all n bytes at the current position / at offset.
  void write_all(const void* src, std::size_t n);
  void pwrite_all(const void* src, std::size_t n, std::uint64_t offset);
  /// fsync; data reaches the disk before the rename that publishes it.
  void sync();
  void close();

 private:
  int fd_ = -1;
  std::string path_;
};

/// fsyncs every file of `paths` (each opened read-only), several at once on up to `threads`
/// threads: the file system then commits and flushes for several files at a time (204 files
/// after an npy conversion: 26-37 ms one after another, 14-18 ms four at a time). Throws the
/// error of the first file in `paths` that failed.
void sync_files(const std::vector<std::filesystem::path>& paths, unsigned threads = 4);

/// Reads a whole small file (manifests, JSON indexes). Refuses files over `limit` bytes.
std::string read_text_file(const std::filesystem::path& p, std::uint64_t limit = 64u << 20);

}  // namespace keras64::detail
