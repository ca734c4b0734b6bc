#include "detail/writeback.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

// Every kept file counts against the descriptor limit (often 1,024): past this many, wait for
// everything rather than keep more (a directory of thousands of tiny tensors).
constexpr std::size_t kMaxKept = 256;
constexpr std::uint64_t kPage = 4096;  // pins are widened to whole pages of this size

}  // namespace

Writeback::Writeback(std::uint64_t window, std::size_t depth,
                     std::optional<std::uint64_t> direct_after)
    : window_(window),
      depth_(std::max<std::size_t>(depth, 1)),
      ok_(window > 0),
      direct_after_(direct_after) {}

Writeback::~Writeback() = default;

void Writeback::wrote(const File& file, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return;
  written_ += to - from;
  if (!ok_) return;
  const int fd = file.fd();
  if (paths_.size() <= static_cast<std::size_t>(fd)) paths_.resize(fd + 1);
  paths_[fd] = file.path();
  if (!fresh_.empty() && fresh_.back().fd == fd && fresh_.back().to == from)
    fresh_.back().to = to;
  else
    fresh_.push_back({fd, from, to});
  pending_ += to - from;
  if (pending_ < window_) return;
  // Start the newest window, then wait for the oldest while more than depth_ are in flight.
  for (const Range& r : fresh_) sync(r, false);
  flight_.push_back(std::move(fresh_));
  fresh_.clear();
  pending_ = 0;
  while (ok_ && flight_.size() > depth_) wait_oldest();
  close_idle_kept();
}

void Writeback::keep(File&& file) {
  if (!file.is_open()) return;
  kept_.push_back(std::move(file));
  close_idle_kept();
  if (kept_.size() > kMaxKept) drain();
}

void Writeback::pin(const File& file, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return;
  const std::uint64_t page = kPage;
  const Range pin{file.fd(), from / page * page, (to + page - 1) / page * page};
  // Sorted by (fd, from): a zip's pins arrive in file order, so this appends.
  auto at = std::upper_bound(pins_.begin(), pins_.end(), pin, [](const Range& a, const Range& b) {
    return a.fd < b.fd || (a.fd == b.fd && a.from < b.from);
  });
  pins_.insert(at, pin);
}

void Writeback::unpin(const File& file) {
  std::erase_if(pins_, [fd = file.fd()](const Range& r) { return r.fd == fd; });
}

void Writeback::drop(const Range& r) {
  // DONTNEED for r less the pinned pages of its file. Pins of one file hold increasing,
  // page-aligned offsets (to non-decreasing), so the first that can overlap r is found by
  // bisection.
  auto p = std::partition_point(pins_.begin(), pins_.end(), [&](const Range& x) {
    return x.fd < r.fd || (x.fd == r.fd && x.to <= r.from);
  });
  std::uint64_t at = r.from;
  auto advise = [&](std::uint64_t from, std::uint64_t to) {
    if (to > from)
      ::posix_fadvise(r.fd, static_cast<off_t>(from), static_cast<off_t>(to - from),
                      POSIX_FADV_DONTNEED);
  };
  for (; p != pins_.end() && p->fd == r.fd && p->from < r.to; ++p) {
    advise(at, std::max(at, p->from));
    at = std::max(at, p->to);
  }
  advise(at, std::max(at, r.to));
}

DirectQueue* Writeback::direct() {
  if (!direct_after_ || written_ < *direct_after_) return nullptr;
  if (!queue_) {
    try {
      queue_ = make_direct_queue();
    } catch (const std::system_error&) {  // no thread to write with: the page cache it is
      direct_after_.reset();
      return nullptr;
    }
  }
  // A write refused with O_DIRECT was done without it: correct, but no faster than the page
  // cache and with none of its window, so new runs go back to the page cache.
  if (queue_->refused()) return nullptr;
  return queue_.get();
}

void Writeback::drain() {
  if (queue_) queue_->wait();
  if (ok_) {
    for (const Range& r : fresh_) sync(r, false);
    flight_.push_back(std::move(fresh_));
    fresh_.clear();
    pending_ = 0;
    while (ok_ && !flight_.empty()) wait_oldest();
  }
  flight_.clear();
  kept_.clear();
}

void Writeback::wait_oldest() {
  for (const Range& r : flight_.front()) sync(r, true);
  flight_.pop_front();
}

// A kept file whose ranges have all been waited for is closed.
void Writeback::close_idle_kept() {
  auto busy = [&](int fd) {
    auto has = [fd](const Window& w) {
      return std::any_of(w.begin(), w.end(), [fd](const Range& r) { return r.fd == fd; });
    };
    return has(fresh_) || std::any_of(flight_.begin(), flight_.end(), has);
  };
  std::erase_if(kept_, [&](const File& f) { return !busy(f.fd()); });
}

void Writeback::sync(const Range& r, bool wait) {
  if (!ok_) return;
  const unsigned flags =
      wait ? SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
           : SYNC_FILE_RANGE_WRITE;
  if (::sync_file_range(r.fd, static_cast<off64_t>(r.from), static_cast<off64_t>(r.to - r.from),
                        flags) != 0) {
    const int err = errno;
    // Not every file system (or file kind) supports it: then the window is just not used.
    if (err == ENOSYS || err == EINVAL || err == ESPIPE || err == EOPNOTSUPP) {
      ok_ = false;
      return;
    }
    throw io_error({paths_[r.fd]}, "write failed", err);
  }
  if (wait) drop(r);
}

}  // namespace keras64::detail
