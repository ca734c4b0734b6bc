// Output to one file at disk speed in bounded memory.
//
// Small writes are gathered in a fixed buffer; the whole pages of writes at least as big as the
// buffer go straight to the file. Every byte written is reported to a Writeback
// (detail/writeback.hpp), which keeps the output moving to the device with a bounded amount of it
// dirty or cached: the writer's own, or one shared by the files of a directory output.
//
// Once the Writeback offers O_DIRECT (Writeback::direct(): from the first byte, unless
// KERAS64_WRITER=page-cache or the file system refuses it), the writer fills the DirectQueue's
// aligned buffers instead and hands each full one to the queue, which writes it while the next
// is filled. O_DIRECT writes whole aligned blocks, so the bytes of a run up to its first
// aligned offset, and those after its last, still go through the page cache: a block is
// written one way or the other, never both, and the two kinds of write never touch the same
// page while one is in flight.
//
// Writes need not be sequential: seek() moves the write position (the HDF5 sinks write each
// tensor at its dataset's offset, in plan order, which is not file order).
//
// Measured and not kept (bench/results.md): writing on a background thread through the page
// cache (so that reading and widening overlap the writes): no faster, and slower with the thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

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
  /// makes no progress is ENOSPC); buffered bytes may fail later, at flush() or finish().
  void write(const void* data, std::size_t n);
  /// Where the next at most n bytes may be put so that write() need not copy them (Sink::lend):
  /// with O_DIRECT, the rest of the queue buffer being filled, or up to the next aligned offset
  /// of the page-cache buffer; otherwise none. Valid until the next call on the writer; write()
  /// given a prefix of it (the same pointer) only records the bytes.
  std::span<unsigned char> lend(std::size_t n);
  /// Appends n bytes that will be patched in place (File::pwrite_all) after finish(): they go
  /// through the page cache, whatever the mode, and their pages stay cached until
  /// Writeback::unpin(), so that a patch neither waits for nor reads back the device.
  void write_pinned(const void* data, std::size_t n);
  /// Hands buffered bytes to the file; with O_DIRECT to the queue, which may still be writing
  /// any of them (page-cache ones too): only finish() waits.
  void flush();
  /// flush(), then continues at file offset `offset`.
  void seek(std::uint64_t offset);
  /// flush(), then (own Writeback) waits until every byte written is on the device and drops it
  /// from the page cache; after that, pwrite patches and reads of the file see every byte. The
  /// caller still fsyncs (for the metadata) and closes the file.
  void finish();
  /// After a write error from the O_DIRECT queue: the file offset of the write that failed, if
  /// it was this file's. The error surfaces at a later call than the write (and maybe for later
  /// bytes), so writers of several parts in one file (zip members) name the part from this.
  std::optional<std::uint64_t> failed_at() const;
  /// The Writeback the writes are reported to (its own or the shared one).
  Writeback& writeback() { return *writeback_; }
  /// Writes go through O_DIRECT now (for tests: whether the switch happened).
  bool direct() const { return direct_ != nullptr; }
  /// The file offset the next write() goes to.
  std::uint64_t offset() const { return offset_ + used_ + dused_; }

 private:
  void put(const void* data, std::size_t n);  // to the file at offset_, through the page cache
  void flush_cached();                        // buf_
  void flush_direct();                        // dbuf_
  void try_direct();                          // switches to O_DIRECT if the Writeback says so
  std::size_t put_large(const unsigned char* p, std::size_t n);  // page cache, n >= cap_
  std::size_t head_room(std::size_t n) const;  // bytes up to the next aligned offset, <= n
  std::size_t stage_head(const unsigned char* p, std::size_t n);
  std::size_t stage_direct(const unsigned char* p, std::size_t n);

  File& file_;
  std::uint64_t offset_;  // file offset of buf_[0] or of dbuf_[0]
  std::size_t cap_;
  std::size_t used_ = 0;  // bytes in buf_ (then dused_ is 0)
  std::unique_ptr<unsigned char[]> buf_;
  std::optional<Writeback> own_;
  Writeback* writeback_;
  // O_DIRECT, once switched: file_ opened again with O_DIRECT and duplicated, the queue, and the
  // queue buffer being filled (at offset_, which is then aligned; null until the first byte).
  std::shared_ptr<File> direct_;
  std::shared_ptr<File> cached_;  // file_ again, for the tails the queue writes
  DirectQueue* queue_ = nullptr;
  unsigned char* dbuf_ = nullptr;
  std::size_t dused_ = 0;
};

}  // namespace keras64::detail
