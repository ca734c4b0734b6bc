// Output to one file at disk speed with a bounded page cache.
//
// Small writes are gathered in a fixed buffer; writes at least as big as the buffer go straight
// to the file. Every byte written is reported to a Writeback (detail/writeback.hpp), which keeps
// the output moving to the device with a bounded amount of it dirty or cached: the writer's own,
// or one shared by the files of a directory output.
//
// Writes need not be sequential: seek() moves the write position (the HDF5 sinks write each
// tensor at its dataset's offset, in plan order, which is not file order).
//
// Measured and not kept (bench/results.md): writing on a background thread (so that reading and
// widening overlap the writes) and O_DIRECT. Both were no faster here, the thread slower.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "detail/writeback.hpp"

namespace keras64::detail {

class File;

class BufferedWriter {
 public:
  static constexpr std::size_t kDefaultBuffer = std::size_t{1} << 20;
  static constexpr std::uint64_t kDefaultWindow = Writeback::kDefaultWindow;

  /// Writes to `file` (which must outlive the writer) from byte `offset` on, with pwrite: the
  /// file position is not used. Its own Writeback of `window` bytes (0: none).
  explicit BufferedWriter(File& file, std::uint64_t offset = 0, std::size_t buffer = kDefaultBuffer,
                          std::uint64_t window = kDefaultWindow);
  /// The same with a Writeback shared with other writers (which must outlive this one); finish()
  /// then only flushes: the owner of `shared` drains it.
  BufferedWriter(File& file, Writeback& shared, std::size_t buffer = kDefaultBuffer);
  ~BufferedWriter();
  BufferedWriter(const BufferedWriter&) = delete;
  BufferedWriter& operator=(const BufferedWriter&) = delete;

  /// Appends n bytes. Error{io} "<file>: write failed: <reason>" on any failure (a write that
  /// makes no progress is ENOSPC); buffered bytes may fail later, at flush().
  void write(const void* data, std::size_t n);
  /// Writes out buffered bytes, so that pwrite patches and reads of the file see them.
  void flush();
  /// flush(), then continues at file offset `offset`.
  void seek(std::uint64_t offset);
  /// flush(), then (own Writeback) waits until every byte written is on the device and drops it
  /// from the page cache. The caller still fsyncs (for the metadata) and closes the file.
  void finish();
  /// The Writeback the writes are reported to (its own or the shared one).
  Writeback& writeback() { return *writeback_; }
  /// The file offset the next write() goes to.
  std::uint64_t offset() const { return offset_ + used_; }

 private:
  void put(const void* data, std::size_t n);  // to the file at offset_

  File& file_;
  std::uint64_t offset_;  // file offset of buf_[0]
  std::size_t cap_;
  std::size_t used_ = 0;
  std::unique_ptr<unsigned char[]> buf_;
  std::optional<Writeback> own_;
  Writeback* writeback_;
};

}  // namespace keras64::detail
