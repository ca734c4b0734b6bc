// A read-only ZIP archive parser (PKWARE APPNOTE 6.3.x: end of central directory, ZIP64 end
// record and locator, central directory headers, local headers).
//
// It is ours rather than libzip's because keras64 needs the file offset of a stored member's
// data (HDF5 reads `model.weights.h5` in place inside a `.keras`), and because every size in a
// hostile archive must be checked against the real file before anything is allocated or read.
//
// Limits: at most 1,000,000 entries; names up to 65,535 bytes; methods stored (0) and deflate (8);
// no encryption, no multi-disk archives. Member names that are absolute or contain ".." are
// refused, as are data ranges outside the file and members declared larger than `max_inflate`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  ///< 0 stored, 8 deflate
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;  ///< uncompressed
  std::uint64_t local_header_offset = 0;
  std::uint64_t data_offset = 0;  ///< start of the (compressed) data in the archive file
};

/// Error{corrupt} "<where>: CRC-32 mismatch: computed 0x..., the zip directory records 0x...":
/// the one message of every zip CRC check (ZipReader::read, the npz inflater, ZipCrcCheck).
Error zip_crc_mismatch(const ErrorContext& where, std::uint32_t computed, std::uint32_t recorded);

class ZipReader {
 public:
  /// Parses the central directory and every local header. `label` prefixes error messages.
  explicit ZipReader(const std::filesystem::path& path);

  /// True if the file starts with a local file header or is an empty zip ("PK\3\4" / "PK\5\6").
  static bool has_signature(const std::filesystem::path& path);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  const File& file() const { return file_; }
  const std::string& path() const { return path_; }

  /// Streams the uncompressed bytes of `e` to `out` in pieces, verifying size and CRC-32.
  /// Error{corrupt} "<archive>:<member>: ..." on any inconsistency.
  void read(const ZipEntry& e, const std::function<void(const void*, std::size_t)>& out) const;
  /// The whole member as a string, refusing members over `limit` bytes (JSON configs).
  std::string read_all(const ZipEntry& e, std::uint64_t limit = 64u << 20) const;

 private:
  void parse();
  std::string path_;
  File file_;
  std::uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

}  // namespace keras64::detail
