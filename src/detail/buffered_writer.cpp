#include "detail/buffered_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "detail/direct_queue.hpp"
#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr std::uint64_t kAlign = DirectQueue::kAlign;

std::uint64_t align_up(std::uint64_t at) {
  return (at + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

BufferedWriter::BufferedWriter(File& file, std::uint64_t offset, std::size_t buffer,
                               std::uint64_t window)
    : file_(file),
      offset_(offset),
      cap_(std::max<std::size_t>(buffer, 1)),
      buf_(new unsigned char[cap_]),
      own_(std::in_place, window),
      writeback_(&*own_) {}

BufferedWriter::BufferedWriter(File& file, Writeback& shared, std::size_t buffer)
    : file_(file),
      offset_(0),
      cap_(std::max<std::size_t>(buffer, 1)),
      buf_(new unsigned char[cap_]),
      writeback_(&shared) {}

BufferedWriter::~BufferedWriter() {
  // After an error: the buffer being filled goes back to the pool unwritten.
  if (dbuf_ != nullptr) queue_->release(dbuf_);
}

void BufferedWriter::write(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    std::size_t take = 0;
    if (!direct_) try_direct();
    if (direct_ && used_ == 0 && offset_ % kAlign == 0) {
      take = stage_direct(p, n);
    } else if (direct_) {
      take = stage_head(p, n);  // the head of a run, up to its first aligned offset
    } else if (n >= cap_) {
      take = put_large(p, n);
    } else {
      take = std::min(n, cap_ - used_);
      std::memcpy(buf_.get() + used_, p, take);
      used_ += take;
      if (used_ == cap_) flush_cached();
    }
    p += take;
    n -= take;
  }
}

std::span<unsigned char> BufferedWriter::lend(std::size_t n) {
  if (!direct_) try_direct();
  if (!direct_ || n == 0) return {};
  if (used_ == 0 && offset_ % kAlign == 0) {
    if (dbuf_ == nullptr) dbuf_ = queue_->acquire();
    return {dbuf_ + dused_, std::min(n, queue_->buffer_size() - dused_)};
  }
  return {buf_.get() + used_, head_room(n)};  // what write() then passes to stage_head()
}

void BufferedWriter::write_pinned(const void* data, std::size_t n) {
  if (!direct_ && n < cap_ - used_) {
    // Into the page-cache buffer, which cannot fill here and switch to O_DIRECT before it is
    // written.
    writeback_->pin(file_, offset(), offset() + n);
    std::memcpy(buf_.get() + used_, data, n);
    used_ += n;
    return;
  }
  flush();
  writeback_->pin(file_, offset_, offset_ + n);
  put(data, n);  // a following write() starts a run with a page-cache head
}

void BufferedWriter::try_direct() {
  DirectQueue* queue = writeback_->direct();
  if (queue == nullptr) return;
  std::optional<File> f = open_direct(file_);
  std::optional<File> cached = f ? open_cached(file_) : std::nullopt;
  if (!cached) {
    writeback_->refuse_direct();
    return;
  }
  flush_cached();  // bytes gathered so far go through the page cache (pinned ones among them)
  direct_ = std::make_shared<File>(std::move(*f));
  cached_ = std::make_shared<File>(std::move(*cached));
  queue_ = queue;
}

// A write of at least a buffer through the page cache: its whole pages go straight from the
// caller's memory, the bytes before its first page boundary join the buffered ones (an npy
// header, a previous write's tail) in one write that ends on that boundary, and the last partial
// page waits in the buffer for the next write. Copying such writes through the buffer instead
// (as for small ones) cost a copy of every byte of an npy output; writing them unaligned left a
// page half-written by one write and finished by the next. Returns the bytes taken.
std::size_t BufferedWriter::put_large(const unsigned char* p, std::size_t n) {
  if ((offset_ + used_) % kAlign != 0) return stage_head(p, n);
  flush_cached();
  const std::size_t whole = n / kAlign * kAlign;
  if (whole == 0) {  // a buffer smaller than a page: the small-write path
    const std::size_t take = std::min(n, cap_);
    std::memcpy(buf_.get(), p, take);
    used_ = take;
    if (used_ == cap_) flush_cached();
    return take;
  }
  put(p, whole);
  return whole;
}

std::size_t BufferedWriter::head_room(std::size_t n) const {
  const std::uint64_t at = offset_ + used_;
  return static_cast<std::size_t>(std::min<std::uint64_t>({n, align_up(at) - at, cap_ - used_}));
}

// Into the page-cache buffer up to the next aligned offset (or until it is full), which is then
// written: every later write of the run starts aligned.
std::size_t BufferedWriter::stage_head(const unsigned char* p, std::size_t n) {
  const std::size_t take = head_room(n);
  if (p != buf_.get() + used_) std::memcpy(buf_.get() + used_, p, take);  // else lent
  used_ += take;
  if (used_ == cap_ || (offset_ + used_) % kAlign == 0) flush_cached();
  return take;
}

std::size_t BufferedWriter::stage_direct(const unsigned char* p, std::size_t n) {
  if (dbuf_ == nullptr) dbuf_ = queue_->acquire();
  const std::size_t take = std::min(n, queue_->buffer_size() - dused_);
  if (p != dbuf_ + dused_) std::memcpy(dbuf_ + dused_, p, take);  // else lent: in place already
  dused_ += take;
  if (dused_ == queue_->buffer_size()) flush_direct();
  return take;
}

void BufferedWriter::flush() {
  flush_cached();
  flush_direct();
}

void BufferedWriter::flush_cached() {
  if (used_ == 0) return;
  const std::size_t n = used_;
  used_ = 0;
  put(buf_.get(), n);
}

// The whole blocks of the buffer go to the queue, and so does the tail, less than a block,
// which a worker writes through the page cache (DirectQueue::submit says why not here). The
// tail is left out of the Writeback's windows: at most a page per run, which the sink's fsync
// writes.
void BufferedWriter::flush_direct() {
  if (dbuf_ == nullptr) return;
  unsigned char* buf = std::exchange(dbuf_, nullptr);
  const std::size_t n = std::exchange(dused_, 0);
  const std::size_t whole = n / kAlign * kAlign;
  const std::uint64_t at = offset_;
  if (n > 0)
    queue_->submit(direct_, buf, whole, at, cached_, n - whole);
  else
    queue_->release(buf);
  offset_ += n;
  writeback_->wrote_direct(n);
}

void BufferedWriter::seek(std::uint64_t offset) {
  flush();
  offset_ = offset;
}

void BufferedWriter::put(const void* data, std::size_t n) {
  if (queue_ != nullptr) {
    // Once O_DIRECT writes are in flight, page-cache writes go through the queue as well (as
    // tails of nothing; DirectQueue::submit says why), after whatever they conflict with.
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      const std::size_t take = std::min(n, queue_->buffer_size());
      unsigned char* buf = queue_->acquire();
      std::memcpy(buf, p, take);
      queue_->submit(direct_, buf, 0, offset_, cached_, take);
      writeback_->wrote_direct(take);
      offset_ += take;
      p += take;
      n -= take;
    }
    return;
  }
  file_.pwrite_all(data, n, offset_);
  offset_ += n;
  writeback_->wrote(file_, offset_ - n, offset_);
}

std::optional<std::uint64_t> BufferedWriter::failed_at() const {
  if (queue_ == nullptr) return std::nullopt;
  const auto f = queue_->failure();
  if (!f || f->path != file_.path()) return std::nullopt;
  return f->offset;
}

void BufferedWriter::finish() {
  flush();
  if (own_) own_->drain();
}

}  // namespace keras64::detail
