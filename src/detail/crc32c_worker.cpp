#include "detail/crc32c_worker.hpp"

#include <system_error>

#include "detail/crc32c.hpp"

namespace keras64::detail {

Crc32cWorker::~Crc32cWorker() {
  {
    const std::lock_guard lock(m_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Crc32cWorker::start(std::uint32_t state, const void* data, std::size_t n) {
  {
    const std::lock_guard lock(m_);
    state_ = state;
    data_ = data;
    n_ = n;
    pending_ = true;
    done_ = false;
  }
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      // Out of threads (EAGAIN): the checksum is computed here, before the caller's write
      // instead of beside it - slower, never wrong. The next start() tries again.
      const std::lock_guard lock(m_);
      state_ = crc32c_update(state_, data_, n_);
      done_ = true;
      return;
    }
  }
  cv_.notify_all();
}

std::uint32_t Crc32cWorker::wait() noexcept {
  std::unique_lock lock(m_);
  cv_.wait(lock, [this] { return done_ || !pending_; });
  pending_ = false;
  return state_;
}

void Crc32cWorker::run() noexcept {
  std::unique_lock lock(m_);
  for (;;) {
    cv_.wait(lock, [this] { return quit_ || (pending_ && !done_); });
    if (quit_) return;
    const std::uint32_t state = state_;
    const void* data = data_;
    const std::size_t n = n_;
    lock.unlock();
    const std::uint32_t result = crc32c_update(state, data, n);  // never throws
    lock.lock();
    state_ = result;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace keras64::detail
