// O_DIRECT writes with several in flight (issue #18).
//
// Writing through the page cache costs a copy of every output byte into page-cache pages, on the
// writing thread: on a disk that writes faster than one core copies, that copy is the limit
// (perf put 60% of a conversion's samples in it). O_DIRECT skips it: the device reads the bytes
// from the writer's own buffers. But an O_DIRECT write returns only when the device has the data,
// so one write at a time leaves the device idle between writes (the first O_DIRECT writer, at
// queue depth 1, lost by 2.4x at 16 GB on a slower disk). Here a few worker threads each write
// one buffer, so up to `buffers - 1` writes are in flight while the caller fills the next.
//
// A DirectQueue is a fixed pool of aligned buffers: acquire() hands out a free one (waiting for
// a write to finish if none is), submit() queues it for a file and an aligned offset, and the
// buffer comes back to the pool once written. Memory is buffers * buffer bytes, whatever is
// written. A file system that takes O_DIRECT at open() but refuses a write (EINVAL) gets the
// same write without O_DIRECT on that descriptor: correct, only slower; refused() then says so,
// and writers stop asking for O_DIRECT.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "detail/file.hpp"

namespace keras64::detail {

class DirectQueue {
 public:
  /// Offsets, lengths and buffer addresses of O_DIRECT writes are multiples of this: the page
  /// size, a multiple of every logical block size O_DIRECT asks for on common devices.
  static constexpr std::size_t kAlign = 4096;
  static constexpr std::size_t kDefaultBuffer = std::size_t{2} << 20;
  static constexpr std::size_t kDefaultBuffers = 4;

  /// `buffers` (at least 2) buffers of `buffer` bytes (rounded up to kAlign); buffers - 1
  /// worker threads, so that many writes can be in flight (fewer if no more threads can be
  /// made; std::system_error if none can).
  explicit DirectQueue(std::size_t buffer = kDefaultBuffer, std::size_t buffers = kDefaultBuffers);
  /// Stops the workers; writes not yet started are dropped (the caller is abandoning its output
  /// after an error: on success it waits first).
  ~DirectQueue();
  DirectQueue(const DirectQueue&) = delete;
  DirectQueue& operator=(const DirectQueue&) = delete;

  /// Bytes per buffer.
  std::size_t buffer_size() const { return size_; }
  /// A free buffer of buffer_size() bytes, aligned to kAlign; waits for one if all are in
  /// flight. Rethrows the first write error.
  unsigned char* acquire();
  /// Queues the first n bytes of `buf` (from acquire(); n a multiple of kAlign) to be written
  /// to `file` (opened with open_direct()) at `offset` (a multiple of kAlign when n > 0), and
  /// the `tail` bytes after them in `buf` at offset + n through `cached` (the same file without
  /// O_DIRECT: open_cached()), by the same worker, after the n. The queue holds both files until
  /// the write is done. Rethrows the first write error.
  ///
  /// The tail carries what O_DIRECT cannot write: the bytes of a run before its first whole
  /// block (n = 0) and after its last. A page-cache write waits for the O_DIRECT writes of its
  /// file in flight (ext4 takes the inode lock): done by the caller at every tensor's end, it
  /// kept the converter waiting and then the device idle while the next buffer filled (170 ms
  /// of a 1 GB npy conversion, 204 files); on a worker the others' buffers are ready when the
  /// lock is free.
  ///
  /// Writes run on several threads in any order, so a write waits here for every write of the
  /// same file still queued or in flight that it conflicts with: one writes with O_DIRECT a
  /// page that the other writes at all (a range written again: the .keras sink copies HDF5's
  /// metadata a second time; or a tail read back from the device under a block not yet
  /// written), or both write the same bytes through the page cache. Page-cache writes to
  /// different bytes of one page need no order.
  void submit(std::shared_ptr<File> file, unsigned char* buf, std::size_t n, std::uint64_t offset,
              std::shared_ptr<File> cached = nullptr, std::size_t tail = 0);
  /// Whether two writes to one file, each of n bytes with O_DIRECT at `offset` and then `tail`
  /// through the page cache, must not run at once (submit()'s rule).
  static bool conflicts(std::uint64_t a_offset, std::size_t a_n, std::size_t a_tail,
                        std::uint64_t b_offset, std::size_t b_n, std::size_t b_tail);
  /// Gives back a buffer from acquire() without writing it.
  void release(unsigned char* buf);
  /// Waits until every submitted write is done. Rethrows the first write error:
  /// Error{io} "<file>: write failed: <reason>".
  void wait();
  /// Some write was refused with O_DIRECT (and done without it).
  bool refused() const;

  /// The write that failed, once one has (the first error's file; of the writes to it that
  /// failed, the lowest offset, once every write in flight is done). The error surfaces at a
  /// later call, maybe for another file or later bytes; writers name the part of their output
  /// it belongs to from this.
  struct Failure {
    std::string path;
    std::uint64_t offset = 0;
  };
  std::optional<Failure> failure() const;

 private:
  struct Job {
    std::shared_ptr<File> file;
    unsigned char* buf;
    std::size_t n;
    std::uint64_t offset;
    std::shared_ptr<File> cached;  // for buf[n, n + tail), or null
    std::size_t tail;
  };
  static bool conflict(const Job& a, const Job& b);  // same file and conflicts() says so
  void work();
  void write(const Job& job);
  void write_direct(const Job& job);  // its n bytes
  void check() const;                 // rethrows error_; lock held

  std::size_t size_;
  std::unique_ptr<unsigned char, void (*)(void*)> storage_;
  mutable std::mutex m_;
  std::condition_variable work_cv_;          // jobs_ grew or stop_
  mutable std::condition_variable done_cv_;  // a buffer came back
  std::deque<Job> jobs_;
  std::vector<Job> running_;  // taken by a worker and not done (their buffers and ranges)
  std::vector<unsigned char*> free_;
  std::exception_ptr error_;
  std::optional<Failure> failure_;     // error_'s write
  std::atomic<bool> refused_ = false;  // read without the lock: writers ask before every write
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

/// The open file `file` opened again, for writing with O_DIRECT: a second descriptor beside the
/// one the page-cache writes go through. Empty if that fails for any reason (tmpfs and some FUSE
/// file systems refuse O_DIRECT; /proc may be missing): the page cache is then the only way, and
/// it reports any real error.
std::optional<File> open_direct(const File& file);
/// A second descriptor of `file` for the page-cache writes a DirectQueue job ends with (see
/// submit()): the job may outlive the caller's descriptor. Empty if dup() fails.
std::optional<File> open_cached(const File& file);

/// Bytes of one output written through the page cache before its writers switch to O_DIRECT:
/// none (0), unless KERAS64_WRITER=page-cache (empty: never switch). Measured on 1 GB outputs,
/// starting in the page cache and switching after 64 MiB cost 0.1-0.4 s more than O_DIRECT from
/// the first byte (bench/results.md).
std::optional<std::uint64_t> direct_after();

/// The queue a Writeback makes: kDefaultBuffers x kDefaultBuffer, or what
/// KERAS64_DIRECT_QUEUE=<buffers>x<MiB> asks for (bench/ measures shapes with it; at most 16 x
/// 16 MiB).
std::unique_ptr<DirectQueue> make_direct_queue();

}  // namespace keras64::detail
