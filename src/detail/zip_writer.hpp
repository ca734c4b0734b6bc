// A streaming ZIP writer: members are written one after another straight to the file, so memory
// does not grow with their size. Spec: PKWARE APPNOTE.TXT 6.3.10,
// https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
//
//   [local header 30 B | name | ZIP64 extra 20 B?] [data] ...     one per member
//   [central header 46 B | name | ZIP64 extra?] ...                the central directory
//   [ZIP64 end record 56 B | ZIP64 locator 20 B]?                  when counts/offsets overflow
//   [end of central directory 22 B]
//
// The local header is written before the data with the sizes known from the plan; CRC-32 (and
// the compressed size of deflated members) are patched in with pwrite by finish(), once
// everything else is on the device, so no data descriptors are needed. Output is deterministic:
// every timestamp is 1980-01-01 00:00:00.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/deflater.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {

class File;

class ZipWriter {
 public:
  enum class Method : std::uint16_t { stored = 0, deflate = 8 };

  /// Sizes and offsets at or above this use ZIP64 fields (the 32-bit fields then hold 0xFFFFFFFF).
  static constexpr std::uint64_t kZip64Limit = 0xFFFFFFFF;

  /// Writes to `file`, which must be empty, positioned at 0, and outlive the writer. `shown`
  /// names the archive in error messages ("out.npz:weight_3.npy: write failed: ..."). Tests pass
  /// a small `zip64_threshold` to exercise the ZIP64 paths without writing 4 GiB.
  ZipWriter(File& file, std::string shown, std::uint64_t zip64_threshold = kZip64Limit,
            unsigned threads = 0);
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  /// Starts a member named `name` (UTF-8, stored with the UTF-8 flag) holding exactly
  /// `uncompressed_size` bytes. `level` is the deflate level (-1 default, 0..9); ignored for
  /// stored members. Error{internal} if a member is open or after finish().
  void begin_member(std::string name, std::uint64_t uncompressed_size, Method method,
                    int level = -1);
  /// Appends data to the open member. Error{internal} beyond its declared size.
  void write(const void* data, std::size_t n);
  /// Where the next at most n bytes of a stored member may be put before write()
  /// (BufferedWriter::lend); none for deflated or in-place members.
  std::span<unsigned char> lend(std::size_t n);
  /// Ends the open member: Error{internal} unless exactly its declared size was written.
  void end_member();
  /// Starts a stored member of exactly `size` bytes that the caller writes itself, in any order,
  /// through writer() (seek + write) at file offsets [returned offset, returned offset + size).
  /// The .keras sink writes model.weights.h5 this way: each tensor at its dataset's offset, with
  /// no temporary copy of the member (sinks/h5_structure.hpp). write() is refused until
  /// end_member_in_place().
  std::uint64_t begin_member_in_place(std::string name, std::uint64_t size);
  BufferedWriter& writer() { return out_; }
  /// Ends the in-place member; `crc` is the CRC-32 of its bytes in order.
  void end_member_in_place(std::uint32_t crc);
  /// Writes the central directory and end records, waits for the data to reach the device, then
  /// patches the local headers' CRCs. The caller then syncs and closes the file.
  void finish();

  /// Bytes written to the file so far.
  std::uint64_t bytes_written() const { return offset_; }

 private:
  struct Entry {
    std::string name;
    Method method = Method::stored;
    std::uint32_t crc = 0;
    std::uint64_t size = 0;    // uncompressed
    std::uint64_t csize = 0;   // compressed (= size when stored)
    std::uint64_t offset = 0;  // of the local header
    bool local_zip64 = false;  // the local header carries a ZIP64 extra
  };

  // Appends to the file, counting offset_; `pinned`: bytes patched in finish() (write_pinned).
  void put(const void* data, std::size_t n, bool pinned = false);
  void patch_local_headers();
  void write_central_directory();
  [[noreturn]] void rethrow(const ErrorContext& where);
  ErrorContext where() const;
  ErrorContext where_at(std::uint64_t offset) const;  // the member holding that file offset

  File& file_;
  BufferedWriter out_;
  std::string shown_;
  std::uint64_t threshold_;
  unsigned threads_;
  std::uint64_t offset_ = 0;
  std::optional<std::uint64_t> cd_offset_;  // where the central directory starts, once written
  std::vector<Entry> entries_;
  bool open_ = false;
  bool in_place_ = false;  // the open member is written by the caller
  bool finished_ = false;
  std::uint64_t written_ = 0;  // uncompressed bytes of the open member
  std::unique_ptr<Deflater> deflater_;
};

}  // namespace keras64::detail
