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
      // The head of a run, up to its first aligned offset: through the page cache.
      const std::uint64_t at = offset_ + used_;
      take =
          static_cast<std::size_t>(std::min<std::uint64_t>({n, align_up(at) - at, cap_ - used_}));
      std::memcpy(buf_.get() + used_, p, take);
      used_ += take;
      if (used_ == cap_ || (offset_ + used_) % kAlign == 0) flush_cached();
    } else if (used_ == 0 && n >= cap_) {
      put(p, n);
      take = n;
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
  if (!f) {
    writeback_->refuse_direct();
    return;
  }
  flush_cached();  // bytes gathered so far go through the page cache (pinned ones among them)
  direct_ = std::make_shared<File>(std::move(*f));
  queue_ = queue;
}

std::size_t BufferedWriter::stage_direct(const unsigned char* p, std::size_t n) {
  if (dbuf_ == nullptr) dbuf_ = queue_->acquire();
  const std::size_t take = std::min(n, queue_->buffer_size() - dused_);
  std::memcpy(dbuf_ + dused_, p, take);
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

// The whole blocks of the buffer go to the queue; the tail, less than a block, through the page
// cache - first, because once submitted the buffer is the queue's.
void BufferedWriter::flush_direct() {
  if (dbuf_ == nullptr) return;
  unsigned char* buf = std::exchange(dbuf_, nullptr);
  const std::size_t n = std::exchange(dused_, 0);
  const std::size_t whole = n / kAlign * kAlign;
  const std::uint64_t at = offset_;
  try {
    if (whole < n) file_.pwrite_all(buf + whole, n - whole, at + whole);
  } catch (...) {
    queue_->release(buf);
    throw;
  }
  if (whole > 0)
    queue_->submit(direct_, buf, whole, at);
  else
    queue_->release(buf);
  offset_ += n;
  writeback_->wrote_direct(whole);
  writeback_->wrote(file_, at + whole, at + n);
}

void BufferedWriter::seek(std::uint64_t offset) {
  flush();
  offset_ = offset;
}

void BufferedWriter::put(const void* data, std::size_t n) {
  file_.pwrite_all(data, n, offset_);
  offset_ += n;
  writeback_->wrote(file_, offset_ - n, offset_);
}

void BufferedWriter::finish() {
  flush();
  if (own_) own_->drain();
}

}  // namespace keras64::detail
