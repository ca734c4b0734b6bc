#include "detail/direct_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <system_error>

#include "keras64/error.hpp"

namespace keras64::detail {

DirectQueue::DirectQueue(std::size_t buffer, std::size_t buffers)
    : size_((std::max<std::size_t>(buffer, 1) + kAlign - 1) / kAlign * kAlign),
      storage_(nullptr, std::free) {
  buffers = std::max<std::size_t>(buffers, 2);
  storage_.reset(static_cast<unsigned char*>(std::aligned_alloc(kAlign, size_ * buffers)));
  if (!storage_) throw std::bad_alloc();
  for (std::size_t i = 0; i < buffers; ++i) free_.push_back(storage_.get() + i * size_);
  workers_.reserve(buffers - 1);
  // Out of threads (a process limit), fewer writes are in flight; with none, the caller gets
  // the std::system_error and writes through the page cache.
  try {
    for (std::size_t i = 0; i + 1 < buffers; ++i) workers_.emplace_back([this] { work(); });
  } catch (const std::system_error&) {
    if (workers_.empty()) throw;
  }
}

DirectQueue::~DirectQueue() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
    jobs_.clear();
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void DirectQueue::check() const {
  if (error_) std::rethrow_exception(error_);
}

unsigned char* DirectQueue::acquire() {
  std::unique_lock lock(m_);
  done_cv_.wait(lock, [&] { return !free_.empty() || error_; });
  check();
  unsigned char* buf = free_.back();
  free_.pop_back();
  return buf;
}

namespace {

// Whether byte ranges [a, b) and [c, d) share a byte / a page. Empty ranges share nothing.
bool bytes_meet(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  return a < b && c < d && a < d && c < b;
}
bool pages_meet(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  constexpr std::uint64_t k = DirectQueue::kAlign;
  return a < b && c < d && a / k * k < (d + k - 1) / k * k && c / k * k < (b + k - 1) / k * k;
}

}  // namespace

bool DirectQueue::conflicts(std::uint64_t a_offset, std::size_t a_n, std::size_t a_tail,
                            std::uint64_t b_offset, std::size_t b_n, std::size_t b_tail) {
  const std::uint64_t a_mid = a_offset + a_n;  // where a's O_DIRECT bytes end and its tail starts
  const std::uint64_t b_mid = b_offset + b_n;
  const std::uint64_t a_end = a_mid + a_tail;
  const std::uint64_t b_end = b_mid + b_tail;
  return pages_meet(a_offset, a_mid, b_offset, b_end) ||
         pages_meet(b_offset, b_mid, a_offset, a_end) || bytes_meet(a_mid, a_end, b_mid, b_end);
}

bool DirectQueue::conflict(const Job& a, const Job& b) {
  return conflicts(a.offset, a.n, a.tail, b.offset, b.n, b.tail) &&
         a.file->path() == b.file->path();
}

void DirectQueue::submit(std::shared_ptr<File> file, unsigned char* buf, std::size_t n,
                         std::uint64_t offset, std::shared_ptr<File> cached, std::size_t tail) {
  if (cached == nullptr) tail = 0;
  {
    Job job{std::move(file), buf, n, offset, std::move(cached), tail};
    const auto waits_for = [&](const Job& j) { return conflict(j, job); };
    std::unique_lock lock(m_);
    done_cv_.wait(lock, [&] {
      return error_ || (std::none_of(jobs_.begin(), jobs_.end(), waits_for) &&
                        std::none_of(running_.begin(), running_.end(), waits_for));
    });
    if (error_) {
      free_.push_back(buf);
      check();
    }
    jobs_.push_back(std::move(job));
  }
  work_cv_.notify_one();
}

void DirectQueue::release(unsigned char* buf) {
  {
    std::lock_guard lock(m_);
    free_.push_back(buf);
  }
  done_cv_.notify_all();
}

void DirectQueue::wait() {
  std::unique_lock lock(m_);
  done_cv_.wait(lock, [&] { return (jobs_.empty() && running_.empty()) || error_; });
  check();
}

bool DirectQueue::refused() const {
  return refused_;
}

std::optional<DirectQueue::Failure> DirectQueue::failure() const {
  std::unique_lock lock(m_);
  if (!error_) return std::nullopt;
  done_cv_.wait(lock, [&] { return running_.empty(); });  // they may fail at lower offsets
  return failure_;
}

void DirectQueue::work() {
  std::unique_lock lock(m_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    running_.push_back(std::move(jobs_.front()));
    jobs_.pop_front();
    Job job = running_.back();
    lock.unlock();
    std::exception_ptr failed;
    try {
      write(job);
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    std::erase_if(running_, [&](const Job& j) { return j.buf == job.buf; });
    free_.push_back(job.buf);
    if (failed && !error_) {
      error_ = failed;
      failure_ = Failure{job.file->path(), job.offset};
      jobs_.clear();  // after a failure the output is abandoned: nothing more to write
    } else if (failed && job.offset < failure_->offset && job.file->path() == failure_->path) {
      // Workers take jobs in order, so every write before the first to fail had started: of
      // those that fail too, the first in the file names the failure (the zip member, not the
      // central directory written on another thread).
      failure_->offset = job.offset;
    }
    done_cv_.notify_all();
    // The job's files, last: if the writer is gone (abandoned after an error), this closes
    // their descriptors, which is not work to do under the lock.
    lock.unlock();
    job = Job{};
    lock.lock();
  }
}

void DirectQueue::write(const Job& job) {
  if (job.n > 0) write_direct(job);
  if (job.tail > 0) job.cached->pwrite_all(job.buf + job.n, job.tail, job.offset + job.n);
}

void DirectQueue::write_direct(const Job& job) {
  try {
    job.file->pwrite_all(job.buf, job.n, job.offset);
  } catch (const Error& e) {
    // O_DIRECT taken at open() but not for this write (the device wants a larger alignment, or
    // the file system only pretends): the whole job again without it (pwrite at the same offset
    // rewrites what got through). F_SETFL changes the descriptor, which only this queue's jobs
    // for this file use.
    const int fd = job.file->fd();
    const int flags = ::fcntl(fd, F_GETFL);
    if (e.sys_errno() != EINVAL || flags < 0 || (flags & O_DIRECT) == 0 ||
        ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0)
      throw;
    refused_ = true;
    job.file->pwrite_all(job.buf, job.n, job.offset);
  }
}

std::optional<File> open_direct(const File& file) {
  // Through /proc, the very file `file` is open on, whatever its path has become since.
  const std::string self = "/proc/self/fd/" + std::to_string(file.fd());
  const int fd = ::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // refused (tmpfs: EINVAL), or no /proc: the page cache it is
  return File::adopt(fd, file.path());
}

std::optional<File> open_cached(const File& file) {
  const int fd = ::fcntl(file.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  return File::adopt(fd, file.path());
}

std::optional<std::uint64_t> direct_after() {
  const char* v = std::getenv("KERAS64_WRITER");
  const std::string_view mode = v != nullptr ? v : "";
  if (mode == "page-cache") return std::nullopt;
  return 0;
}

std::unique_ptr<DirectQueue> make_direct_queue() {
  std::size_t buffers = DirectQueue::kDefaultBuffers;
  std::size_t buffer = DirectQueue::kDefaultBuffer;
  if (const char* v = std::getenv("KERAS64_DIRECT_QUEUE")) {
    unsigned long n = 0;
    unsigned long mib = 0;
    if (std::sscanf(v, "%lux%lu", &n, &mib) == 2 && n >= 2 && n <= 16 && mib >= 1 && mib <= 16) {
      buffers = n;
      buffer = std::size_t{mib} << 20;
    }
  }
  return std::make_unique<DirectQueue>(buffer, buffers);
}

}  // namespace keras64::detail
