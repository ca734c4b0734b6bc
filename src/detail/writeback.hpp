// Bounded page-cache writeback for outputs written at disk speed (issue #6).
//
// Plain buffered writes into new page-cache pages let gigabytes of dirty pages pile up and make
// throughput swing (measured 4.5 to 0.4 GB/s on the reference VM). Writeback keeps the output
// moving to the device in step with the writes: the ranges written are gathered into windows of
// `window` bytes; when a window fills, its writeback is started (sync_file_range WRITE) and, once
// more than `depth` windows are on their way, the oldest is waited for and dropped from the page
// cache (sync_file_range WAIT + posix_fadvise DONTNEED). So at most depth + 1 windows of output
// are dirty or cached at any time, and `depth` windows are in flight, which keeps the device
// busy: with one window in flight (the first version) a 1 GB conversion took 1.2-1.3 s, with
// four 0.9-1.1 s (bench/results.md).
//
// One Writeback may serve several files in turn (a directory output, one file per tensor): a
// file that is done is handed over with keep() and closed once its last range has been waited
// for, so a file's tail goes to the device while the next file is written instead of each file
// ending with a synchronous wait. On file systems without sync_file_range nothing is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "detail/file.hpp"

namespace keras64::detail {

class Writeback {
 public:
  static constexpr std::uint64_t kDefaultWindow = std::uint64_t{32} << 20;
  static constexpr std::size_t kDefaultDepth = 4;

  /// `window` 0 disables it: wrote() and drain() then do nothing.
  explicit Writeback(std::uint64_t window = kDefaultWindow, std::size_t depth = kDefaultDepth);
  /// Closes kept files without waiting (after an error; drain() first to wait).
  ~Writeback();
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  /// Bytes [from, to) of the open file `file` were written (with pwrite or write).
  /// Error{io} "<file>: write failed: <reason>" if writeback reports an error.
  void wrote(const File& file, std::uint64_t from, std::uint64_t to);
  /// Takes over a file that will not be written again: it stays open until its ranges have been
  /// waited for, then is closed. (Without it the caller must not close a file before drain().)
  void keep(File&& file);
  /// Bytes [from, to) of `file` will be written again soon (a zip local header, patched with the
  /// CRC after its member's data): the pages holding them are not dropped from the page cache
  /// until unpin(), so the patch does not have to read a page back from the device first.
  void pin(const File& file, std::uint64_t from, std::uint64_t to);
  /// Removes every pin of `file`.
  void unpin(const File& file);
  /// Starts writeback of everything recorded, waits for all of it, drops it from the page cache
  /// and closes the kept files. The caller still fsyncs (for the metadata).
  void drain();

 private:
  struct Range {
    int fd;
    std::uint64_t from, to;
  };
  using Window = std::vector<Range>;
  void sync(const Range& r, bool wait);
  void drop(const Range& r);  // from the page cache, sparing pinned pages
  void wait_oldest();
  void close_idle_kept();

  std::uint64_t window_;
  std::size_t depth_;
  bool ok_;
  std::uint64_t pending_ = 0;       // bytes in fresh_
  Window fresh_;                    // written since the last window was started (coalesced)
  std::deque<Window> flight_;       // started, oldest first
  std::vector<File> kept_;          // closed by their owner, open here until waited for
  std::vector<std::string> paths_;  // by fd, for messages
  std::vector<Range> pins_;         // page-aligned
};

}  // namespace keras64::detail
