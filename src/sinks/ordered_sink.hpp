// The contract checks every streaming sink shares. Sink::write() must deliver each tensor's
// exact nbytes() in plan order; OrderedSink enforces that (Error{internal} otherwise) and turns
// the byte stream into per-tensor events, zero-size tensors included, so a format only says how
// to open, fill and close one tensor's storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "detail/crc32c_worker.hpp"
#include "keras64/sink.hpp"

namespace keras64::detail {

class OrderedSink : public Sink {
 public:
  void begin(const Plan& plan) final;
  void write(std::size_t index, const void* data, std::size_t nbytes) final;
  LentBuffer lend(std::size_t index, std::size_t nbytes) final;
  void commit() final;
  std::uint64_t bytes_written() const final { return bytes_; }

 protected:
  OrderedSink() = default;

  /// The plan given to begin().
  const Plan& plan() const { return plan_; }

  /// Creates the temporary output. Called once, from begin().
  virtual void on_begin() = 0;
  /// Tensor `index` starts; every tensor is opened once, in order, then closed.
  virtual void on_open(std::size_t index) = 0;
  /// Next bytes of the open tensor; the total is exactly its nbytes().
  virtual void on_append(const void* data, std::size_t n) = 0;
  /// Memory where the next at most n bytes of the open tensor may be put before on_append()
  /// (Sink::lend); none by default.
  virtual std::span<unsigned char> on_lend(std::size_t n) {
    (void)n;
    return {};
  }
  virtual void on_close(std::size_t index) = 0;
  /// Every tensor is closed: finish, sync and move the output into place.
  virtual void on_commit() = 0;

  std::uint64_t bytes_ = 0;  ///< output bytes so far; subclasses count what they write

  /// Formats with room for a checksum per tensor call this in their constructor: write() then
  /// computes the CRC32C (Castagnoli, as iSCSI and TensorFlow; detail::Crc32c) of each tensor's
  /// bytes as they pass, so recording it costs no second pass over the output; large writes are
  /// checksummed on a second thread while on_append() writes them.
  void record_crc32c() { crc_on_ = true; }
  /// The CRC32C of tensor `index`'s bytes (all of them: valid from on_close(index) on).
  std::uint32_t crc32c(std::size_t index) const { return crcs_.at(index); }

 private:
  void open_through(std::size_t index);
  void close_open_tensor();
  std::string tensor_name(std::size_t index) const;

  enum class State { fresh, writing, committed, failed };
  Plan plan_;
  State state_ = State::fresh;
  std::size_t opened_ = 0;  // tensors opened so far; the open one (if any) is opened_ - 1
  bool open_ = false;
  std::uint64_t done_ = 0;  // bytes of the open tensor so far
  bool crc_on_ = false;
  std::uint32_t crc_ = 0;                     // of the open tensor so far (detail::Crc32c state)
  std::vector<std::uint32_t> crcs_;           // per plan index, once closed
  std::unique_ptr<Crc32cWorker> crc_worker_;  // from begin(), when crc_on_
};

/// Refuses an existing `target` unless `force`, and a missing parent directory, with
/// PendingOutput's errors - so open_sink() fails before any work, not at begin().
void check_output_target(const std::filesystem::path& target, bool force);

/// fsync a directory so that the names created in it are durable before it is renamed. Best
/// effort: some file systems refuse fsync on directories.
void sync_directory(const std::filesystem::path& dir) noexcept;

}  // namespace keras64::detail
