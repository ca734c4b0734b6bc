#include "sinks/ordered_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "detail/crc32c.hpp"
#include "detail/output_path.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {

// Below this a write is checksummed in line: handing it to the worker thread costs more than the
// CRC itself (~20 GB/s, so 256 KiB take ~13 us).
constexpr std::size_t kParallelCrcBytes = std::size_t{256} << 10;

std::string OrderedSink::tensor_name(std::size_t index) const {
  return "tensor " + std::to_string(index) + " (" + plan_.tensors[index].source.name + ")";
}

void OrderedSink::begin(const Plan& plan) {
  if (state_ != State::fresh) throw Error(Errc::internal, "sink: begin() called twice");
  try {
    plan_ = plan;
    state_ = State::writing;
    if (crc_on_) {
      crcs_.assign(plan_.tensors.size(), crc32c_final(crc32c_initial()));
      crc_worker_ = std::make_unique<Crc32cWorker>();
    }
    on_begin();
  } catch (...) {
    state_ = State::failed;
    throw;
  }
}

void OrderedSink::close_open_tensor() {
  const std::size_t cur = opened_ - 1;
  const std::uint64_t want = plan_.tensors[cur].nbytes();
  if (done_ != want)
    throw Error(Errc::internal, "sink: " + tensor_name(cur) + " ended after " +
                                    std::to_string(done_) + " of its " + std::to_string(want) +
                                    " bytes");
  open_ = false;
  if (crc_on_) crcs_[cur] = crc32c_final(crc_);
  on_close(cur);
}

// Opens tensor `index`, first closing the open one and passing through any zero-size tensors in
// between (convert() sends no write() for those).
void OrderedSink::open_through(std::size_t index) {
  if (index < opened_)
    throw Error(Errc::internal, "sink: " + tensor_name(index) + " written out of order, after " +
                                    tensor_name(opened_ - 1));
  if (open_) close_open_tensor();
  for (; opened_ < index; ++opened_) {
    if (plan_.tensors[opened_].nbytes() != 0)
      throw Error(Errc::internal, "sink: " + tensor_name(opened_) + " was skipped");
    on_open(opened_);
    on_close(opened_);
  }
  on_open(index);
  opened_ = index + 1;
  open_ = true;
  done_ = 0;
  crc_ = crc32c_initial();
}

void OrderedSink::write(std::size_t index, const void* data, std::size_t nbytes) {
  if (state_ != State::writing)
    throw Error(Errc::internal, state_ == State::fresh       ? "sink: write() before begin()"
                                : state_ == State::committed ? "sink: write() after commit()"
                                                             : "sink: write() after a failure");
  if (index >= plan_.tensors.size())
    throw Error(Errc::internal, "sink: write() to tensor " + std::to_string(index) + " of a " +
                                    std::to_string(plan_.tensors.size()) + "-tensor plan");
  try {
    if (!open_ || index != opened_ - 1) open_through(index);
    const std::uint64_t want = plan_.tensors[index].nbytes();
    if (nbytes > want - done_)
      throw Error(Errc::internal, "sink: " + tensor_name(index) + " got more than its " +
                                      std::to_string(want) + " bytes");
    if (nbytes == 0) return;
    if (crc_on_ && nbytes >= kParallelCrcBytes) {
      // The checksum runs beside the write; joined before returning, the exception path too
      // (the caller may reuse `data` as soon as write() returns).
      crc_worker_->start(crc_, data, nbytes);
      struct Join {
        Crc32cWorker& worker;
        std::uint32_t& crc;
        ~Join() { crc = worker.wait(); }
      } join{*crc_worker_, crc_};
      on_append(data, nbytes);
    } else {
      if (crc_on_) crc_ = crc32c_update(crc_, data, nbytes);
      on_append(data, nbytes);
    }
    done_ += nbytes;
  } catch (...) {
    state_ = State::failed;
    throw;
  }
}

LentBuffer OrderedSink::lend(std::size_t index, std::size_t nbytes) {
  if (state_ != State::writing || index >= plan_.tensors.size()) return {};  // write() will say
  try {
    if (!open_ || index != opened_ - 1) open_through(index);
    const std::uint64_t left = plan_.tensors[index].nbytes() - done_;
    if (nbytes > left) nbytes = static_cast<std::size_t>(left);
    if (nbytes == 0) return {};
    const std::span<unsigned char> lent = on_lend(nbytes);
    return {lent.data(), std::min(lent.size(), nbytes)};
  } catch (...) {
    state_ = State::failed;
    throw;
  }
}

void OrderedSink::commit() {
  if (state_ != State::writing)
    throw Error(Errc::internal, state_ == State::fresh       ? "sink: commit() before begin()"
                                : state_ == State::committed ? "sink: commit() called twice"
                                                             : "sink: commit() after a failure");
  try {
    if (open_) close_open_tensor();
    for (; opened_ < plan_.tensors.size(); ++opened_) {
      if (plan_.tensors[opened_].nbytes() != 0)
        throw Error(Errc::internal,
                    "sink: commit() before " + tensor_name(opened_) + " was written");
      on_open(opened_);
      on_close(opened_);
    }
    on_commit();
    state_ = State::committed;
  } catch (...) {
    state_ = State::failed;
    throw;
  }
}

void check_output_target(const std::filesystem::path& target, bool force) {
  // A file-kind PendingOutput checks the target and parent and creates nothing.
  PendingOutput probe(target, force, PendingOutput::Kind::file);
}

void sync_directory(const std::filesystem::path& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace keras64::detail
