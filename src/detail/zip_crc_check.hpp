// The CRC-32 of zip members that are read in place.
//
// A stored member read where it sits (`model.weights.h5` of a `.keras` through the HDF5 member
// driver, the stored members of an `.npz`) is read at random: HDF5 reads its metadata and the
// tensors in get_weights() order, not in file order, so no single stream of its bytes passes
// through keras64 to be checksummed. ZipCrcCheck makes one sequential pass over the members'
// bytes in a background thread (ISA-L's crc32, which runs at about 10 GB/s of CPU time on the
// reference VM: doing it on the converting thread would cost ~12% of a 1 GB conversion; beside
// it, on the second core, the pass is hidden) and reports at finish() the first member whose
// CRC-32 is not the one the zip directory records.
//
// The pass is started on demand (start(), by a source's first read()), so opening a file to list
// its tensors costs nothing. The destructor stops a running pass and joins it.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "detail/zip_reader.hpp"

namespace keras64::detail {

class ZipCrcCheck {
 public:
  /// `archive` is read with its own descriptor; `members` are named "<label>:<name>" in errors.
  ZipCrcCheck(std::string archive, std::string label, std::vector<ZipEntry> members);
  ~ZipCrcCheck();
  ZipCrcCheck(const ZipCrcCheck&) = delete;
  ZipCrcCheck& operator=(const ZipCrcCheck&) = delete;

  /// Begins the background pass (once; later calls do nothing).
  void start();
  /// Waits for the pass (starting it if needed) and throws Error{corrupt} naming the first member
  /// whose bytes do not match its recorded CRC-32, or the pass's own Error (io, truncated).
  /// Once it has succeeded it returns at once.
  void finish();

 private:
  void run() noexcept;

  std::string archive_;
  std::string label_;
  std::vector<ZipEntry> members_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
  bool verified_ = false;
  std::exception_ptr failure_;  // written by the thread, read after join
};

}  // namespace keras64::detail
