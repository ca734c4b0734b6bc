// The bytes of one HDF5 file as the reader sees them: a whole file, or the byte range of a
// stored zip member (`model.weights.h5` inside a `.keras`), where HDF5 address A is byte
// `base + A` of the archive. Every read is checked against the end of that range first, and
// every read counts against a work budget, so no file - however crafted - can make the reader
// read without end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detail/file.hpp"

namespace keras64::detail::hdf5 {

class ByteSource {
 public:
  /// Bytes [base, base + size) of `path`. Error{io} if it cannot be opened; Error{corrupt}
  /// "truncated: ..." if the file is shorter than base + size.
  ByteSource(const std::string& path, std::uint64_t base, std::uint64_t size);
  /// The whole file.
  explicit ByteSource(const std::string& path);

  /// HDF5 addresses end here (the file or member size, or the superblock's smaller EOF address).
  std::uint64_t size() const { return size_; }
  void limit(std::uint64_t eof) { size_ = eof < size_ ? eof : size_; }
  /// Where address 0 is in file().
  std::uint64_t base() const { return base_; }
  const File& file() const { return file_; }

  /// Reads n bytes at address `addr` (data: not counted as work); Error{corrupt} "<what> at address
  /// A: beyond the end of the file (S bytes)" if [addr, addr + n) is not inside the range.
  void read(std::uint64_t addr, void* dst, std::size_t n, std::string_view what) const;
  /// Reads n bytes of metadata (counted as work), n capped at `cap` (Error{corrupt} "<what>:
  /// implausible size N" above it).
  std::vector<std::uint8_t> bytes(std::uint64_t addr, std::uint64_t n, std::uint64_t cap,
                                  std::string_view what) const;
  /// Error{corrupt} unless [addr, addr + n) lies inside the range.
  void check_range(std::uint64_t addr, std::uint64_t n, std::string_view what) const;

  /// Counts `units` of metadata work (one per structure parsed, one per 4 KiB read); past the
  /// budget it is Error{corrupt} "too many HDF5 structures": a guard against files that are
  /// valid byte by byte but describe unbounded work (deep or wide B-tree loops, huge headers).
  void spend(std::uint64_t units) const;

 private:
  File file_;
  std::uint64_t base_ = 0;
  std::uint64_t size_ = 0;
  mutable std::uint64_t work_ = 0;
};

}  // namespace keras64::detail::hdf5
