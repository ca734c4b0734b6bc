#include "detail/buffered_writer.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {

BufferedWriter::BufferedWriter(File& file, std::uint64_t offset, std::size_t buffer,
                               std::uint64_t window)
    : file_(file),
      offset_(offset),
      cap_(std::max<std::size_t>(buffer, 1)),
      buf_(new unsigned char[cap_]),
      window_(window),
      window_ok_(window > 0) {}

BufferedWriter::~BufferedWriter() = default;

void BufferedWriter::write(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (used_ > 0) {
    const std::size_t take = std::min(n, cap_ - used_);
    std::memcpy(buf_.get() + used_, p, take);
    used_ += take;
    p += take;
    n -= take;
    if (used_ < cap_) return;
    flush();
  }
  if (n >= cap_) {
    put(p, n);
  } else if (n > 0) {
    std::memcpy(buf_.get(), p, n);
    used_ = n;
  }
}

void BufferedWriter::flush() {
  if (used_ == 0) return;
  const std::size_t n = used_;
  used_ = 0;
  put(buf_.get(), n);
}

void BufferedWriter::seek(std::uint64_t offset) {
  flush();
  offset_ = offset;
}

void BufferedWriter::put(const void* data, std::size_t n) {
  file_.pwrite_all(data, n, offset_);
  if (window_ok_) {
    if (!fresh_.empty() && fresh_.back().to == offset_)
      fresh_.back().to += n;
    else
      fresh_.push_back({offset_, offset_ + n});
    pending_ += n;
  }
  offset_ += n;
  if (window_ok_ && pending_ >= window_) advance_window();
}

void BufferedWriter::range_sync(const Range& r, bool wait) {
  if (!window_ok_ || r.to <= r.from) return;
  const unsigned flags =
      wait ? SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
           : SYNC_FILE_RANGE_WRITE;
  if (::sync_file_range(file_.fd(), static_cast<off64_t>(r.from),
                        static_cast<off64_t>(r.to - r.from), flags) != 0) {
    const int err = errno;
    // Not every file system (or file kind) supports it: then the window is just not used.
    if (err == ENOSYS || err == EINVAL || err == ESPIPE || err == EOPNOTSUPP) {
      window_ok_ = false;
      return;
    }
    throw io_error(file_.path() + ": write failed", err);
  }
  if (wait)
    ::posix_fadvise(file_.fd(), static_cast<off_t>(r.from), static_cast<off_t>(r.to - r.from),
                    POSIX_FADV_DONTNEED);
}

void BufferedWriter::advance_window() {
  // Start writing back the newest window, then wait for the previous one and drop it.
  for (const Range& r : fresh_) range_sync(r, false);
  for (const Range& r : kicked_) range_sync(r, true);
  kicked_.swap(fresh_);
  fresh_.clear();
  pending_ = 0;
}

void BufferedWriter::finish() {
  flush();
  for (const Range& r : kicked_) range_sync(r, true);
  for (const Range& r : fresh_) range_sync(r, true);
  kicked_.clear();
  fresh_.clear();
  pending_ = 0;
}

}  // namespace keras64::detail
