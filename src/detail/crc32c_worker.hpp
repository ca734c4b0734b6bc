// A CRC32C extended on a second thread while the caller does something else with the same bytes
// (writes them). Writing output is the long step of a conversion; on a machine with a spare core
// the checksum an output records then costs no wall time (measured: bench/results.md, "Cost of
// the CRC checks").
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace keras64::detail {

class Crc32cWorker {
 public:
  Crc32cWorker() = default;
  ~Crc32cWorker();
  Crc32cWorker(const Crc32cWorker&) = delete;
  Crc32cWorker& operator=(const Crc32cWorker&) = delete;

  /// Starts extending the running CRC32C `state` (detail::crc32c_update's) by `n` bytes at
  /// `data`, which must stay valid and unchanged until wait() returns. At most one job at a
  /// time: every start() is followed by a wait(). Where no thread can be started the job runs
  /// in start() itself.
  void start(std::uint32_t state, const void* data, std::size_t n);
  /// The state after the job's bytes; blocks until the job is done.
  std::uint32_t wait() noexcept;

 private:
  void run() noexcept;

  std::mutex m_;
  std::condition_variable cv_;
  const void* data_ = nullptr;
  std::size_t n_ = 0;
  std::uint32_t state_ = 0;
  bool pending_ = false;  // a job was started and its result not yet taken
  bool done_ = false;     // the pending job's result is in state_
  bool quit_ = false;
  std::thread thread_;  // started by the first job
};

}  // namespace keras64::detail
