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
//
// Past direct_after() bytes of output (none by default), the writers switch to O_DIRECT (issue
// #18): direct() hands them a DirectQueue (detail/direct_queue.hpp) shared by every file of
// this Writeback, and only the unaligned heads and tails of their runs still come here through
// the page cache. Copying every byte into the page cache was the limit of a conversion on a
// fast disk (bench/results.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "detail/direct_queue.hpp"
#include "detail/file.hpp"

namespace keras64::detail {

class Writeback {
 public:
  static constexpr std::uint64_t kDefaultWindow = std::uint64_t{32} << 20;
  static constexpr std::size_t kDefaultDepth = 4;

  /// `window` 0 disables the page-cache window: wrote() and drain() then only count and wait
  /// for O_DIRECT writes. `direct_after`: bytes of output before writers switch to O_DIRECT
  /// (empty: never); by default what KERAS64_WRITER asks for (direct_after()).
  explicit Writeback(std::uint64_t window = kDefaultWindow, std::size_t depth = kDefaultDepth,
                     std::optional<std::uint64_t> direct_after = detail::direct_after());
  /// Closes kept files without waiting and drops O_DIRECT writes not yet started (after an
  /// error; drain() first to wait).
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
  /// Waits for every O_DIRECT write, starts writeback of everything recorded, waits for all of
  /// it, drops it from the page cache and closes the kept files. The caller still fsyncs (for
  /// the metadata, and the device's cache).
  void drain();

  /// The O_DIRECT queue once direct_after bytes have been written (wrote() and wrote_direct())
  /// and while O_DIRECT works here; null before that, when it does not, and with direct_after
  /// empty. Made on first use.
  DirectQueue* direct();
  /// n bytes were written through direct().
  void wrote_direct(std::uint64_t n) { written_ += n; }
  /// O_DIRECT is refused here (open_direct() failed): direct() is null from now on.
  void refuse_direct() { direct_after_.reset(); }

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
  std::optional<std::uint64_t> direct_after_;
  std::uint64_t written_ = 0;  // bytes of output, page cache and O_DIRECT
  std::unique_ptr<DirectQueue> queue_;
};

}  // namespace keras64::detail
