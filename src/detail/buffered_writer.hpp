// Sequential output to one file at disk speed with a bounded page cache.
//
// Small writes are gathered in a fixed buffer; writes at least as big as the buffer go straight
// to the file. Plain buffered writes into new page-cache pages let gigabytes of dirty pages pile
// up and make throughput swing (measured 4.5 to 0.4 GB/s on the reference VM, and 3x slower
// than with the window below on a busy one), so every `window` bytes the writer starts
// writeback of the newest window (sync_file_range WRITE), waits for the one before it and drops
// it from the page cache (posix_fadvise DONTNEED): at most two windows of the file are ever
// dirty or cached. On file systems without sync_file_range the window is skipped.
//
// Writes need not be sequential: seek() moves the write position (the HDF5 sinks write each
// tensor at its dataset's offset, in plan order, which is not file order). The window is kept
// as the list of byte ranges written since the last kick, so it bounds the dirty bytes whatever
// the order; sequential writes make it a single range.
//
// Measured and not kept (bench/results.md): writing on a background thread (so that reading and
// widening overlap the writes) and O_DIRECT. Both were no faster here, the thread slower.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace keras64::detail {

class File;

class BufferedWriter {
 public:
  static constexpr std::size_t kDefaultBuffer = std::size_t{1} << 20;
  static constexpr std::uint64_t kDefaultWindow = std::uint64_t{32} << 20;

  /// Writes to `file` (which must outlive the writer) from byte `offset` on, with pwrite: the
  /// file position is not used. `window` 0 disables the page-cache window.
  explicit BufferedWriter(File& file, std::uint64_t offset = 0, std::size_t buffer = kDefaultBuffer,
                          std::uint64_t window = kDefaultWindow);
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
  /// flush(), then waits until every byte written is on the device and drops it from the page
  /// cache. The caller still fsyncs (for the metadata) and closes the file.
  void finish();
  /// The file offset the next write() goes to.
  std::uint64_t offset() const { return offset_ + used_; }

 private:
  void put(const void* data, std::size_t n);  // to the file at offset_
  struct Range {
    std::uint64_t from, to;
  };
  void advance_window();
  void range_sync(const Range& r, bool wait);

  File& file_;
  std::uint64_t offset_;  // file offset of buf_[0]
  std::size_t cap_;
  std::size_t used_ = 0;
  std::unique_ptr<unsigned char[]> buf_;
  std::uint64_t window_;
  std::uint64_t pending_ = 0;  // bytes in fresh_
  std::vector<Range> fresh_;   // written since the last kick (coalesced)
  std::vector<Range> kicked_;  // being written back
  bool window_ok_;
};

}  // namespace keras64::detail
