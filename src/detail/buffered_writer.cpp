#include "detail/buffered_writer.hpp"

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
      own_(std::in_place, window),
      writeback_(&*own_) {}

BufferedWriter::BufferedWriter(File& file, Writeback& shared, std::size_t buffer)
    : file_(file),
      offset_(0),
      cap_(std::max<std::size_t>(buffer, 1)),
      buf_(new unsigned char[cap_]),
      writeback_(&shared) {}

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
  offset_ += n;
  writeback_->wrote(file_, offset_ - n, offset_);
}

void BufferedWriter::finish() {
  flush();
  if (own_) own_->drain();
}

}  // namespace keras64::detail
