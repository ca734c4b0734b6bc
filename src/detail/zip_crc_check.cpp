#include "detail/zip_crc_check.hpp"

#include <isa-l/crc.h>

#include <algorithm>
#include <system_error>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {

ZipCrcCheck::ZipCrcCheck(std::string archive, std::string label, std::vector<ZipEntry> members)
    : archive_(std::move(archive)), label_(std::move(label)), members_(std::move(members)) {}

ZipCrcCheck::~ZipCrcCheck() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

void ZipCrcCheck::start() {
  if (started_) return;
  started_ = true;
  if (members_.empty()) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    run();  // out of threads (EAGAIN): the whole check runs now, on the caller's thread
  }
}

void ZipCrcCheck::finish() {
  if (verified_) return;
  start();
  if (thread_.joinable()) thread_.join();
  if (failure_) std::rethrow_exception(failure_);
  verified_ = true;
}

void ZipCrcCheck::run() noexcept {
  try {
    const File f = File::open_read(archive_);
    // 1 MiB: large enough for full-speed pread and CRC, small enough to stay in L2/L3.
    std::vector<unsigned char> buf(std::size_t{1} << 20);
    for (const ZipEntry& e : members_) {
      std::uint32_t crc = 0;
      for (std::uint64_t done = 0; done < e.size;) {
        if (stop_.load(std::memory_order_relaxed)) return;
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), e.size - done));
        f.pread_all(buf.data(), n, e.data_offset + done);
        crc = crc32_gzip_refl(crc, buf.data(), n);
        done += n;
      }
      if (crc != e.crc32) throw zip_crc_mismatch({label_, e.name}, crc, e.crc32);
    }
  } catch (const Error& e) {
    failure_ = std::make_exception_ptr(e);
  } catch (...) {
    failure_ = std::current_exception();
  }
}

}  // namespace keras64::detail
