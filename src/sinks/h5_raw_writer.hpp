// Raw-offset writer: the uncompressed output's tensors written by keras64 itself. HDF5 created
// every planned dataset contiguous, its space allocated and nothing written, and closed the file
// (the skeleton); this writes each tensor's bytes at its dataset's file offset through a
// BufferedWriter - the same bounded page-cache window as every other sink (h5_structure.hpp says
// why) - into the skeleton itself or, embedded, into another file (the .keras sink's in-place zip
// member), where HDF5's own bytes are copied from the skeleton around the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/file.hpp"

namespace keras64::detail {

class H5RawWriter {
 public:
  /// Where one planned tensor's data go in the file.
  struct Region {
    std::string path;  ///< of the dataset, for messages
    std::uint64_t offset = 0, size = 0;
  };
  /// `temp` is the closed skeleton; `regions` are indexed by plan index. `shown` names the
  /// output in messages. Error{internal} if a region ends past the end of the file.
  H5RawWriter(std::filesystem::path temp, std::string shown, std::vector<Region> regions);

  /// The size of the finished file.
  std::uint64_t size() const { return size_; }
  /// Before the first open(): the file goes into `out` at offset `base`; copies everything but
  /// the tensors' data there now. `out_path` is the path errors from `out` name.
  void embed(BufferedWriter& out, std::uint64_t base, const std::string& out_path);
  bool started() const { return target_ != nullptr; }
  bool embedded() const { return embedded_; }

  void open(std::size_t index);
  void append(const void* data, std::size_t n);
  /// Where the next at most n bytes of the open tensor may be put before append()
  /// (BufferedWriter::lend).
  std::span<unsigned char> lend(std::size_t n);
  /// Error{internal} unless every byte of the tensor arrived.
  void close_tensor();
  /// In place: flushes and closes the skeleton (an embedding file is its owner's to finish).
  void finish();
  /// Embedded: copies HDF5's bytes again (after HDF5 rewrote metadata in place).
  void recopy_skeleton();
  /// Embedded, after finish(): the CRC-32 of the file's bytes in order (the zip member's).
  std::uint32_t crc() const;

 private:
  struct Segment {
    std::uint64_t offset, size;
    std::uint32_t crc;
  };
  void copy_skeleton();  // embedded: every byte but the tensors' data into target_

  std::filesystem::path temp_;
  std::string shown_;
  std::vector<Region> regions_;
  std::uint64_t size_ = 0;
  BufferedWriter* target_ = nullptr;  // where the data go: own_writer_ or embed()'s
  std::uint64_t base_ = 0;            // file offset of byte 0 of the HDF5 file in target_
  std::string target_path_;           // the path errors from target_ name
  File out_;
  std::optional<BufferedWriter> own_writer_;
  std::size_t current_ = 0;
  std::uint64_t done_ = 0;  // bytes of the current tensor written
  // Embedded: CRC-32 of every written range, combined in file order by crc().
  bool embedded_ = false;
  bool finished_ = false;
  std::uint32_t tensor_crc_ = 0;
  std::vector<Segment> segments_;           // the tensors' data
  std::vector<Segment> skeleton_segments_;  // the rest (copy_skeleton)
};

}  // namespace keras64::detail
