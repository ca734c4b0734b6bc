// Hyperslab writer: a tensor's bytes written through H5Dwrite by flat element range, as they
// arrive (an element split between two appends is carried over). The compressed output's small
// contiguous datasets, and every dataset on a big-endian host, go this way (h5_structure.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "detail/h5.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail {

class H5HyperslabWriter {
 public:
  /// Starts dataset `path` of the open file `file`, of `shape`, receiving native `dtype` bytes.
  void open(hid_t file, const std::string& path, DType dtype, const Shape& shape);
  void append(const void* data, std::size_t n);
  /// Error{internal} if the last element is incomplete. Closes the dataset.
  void close_tensor();
  /// Closes the dataset (after an error too).
  void reset();

 private:
  h5::Id dset_;
  h5::Id mtype_;
  Shape shape_;
  std::size_t es_ = 1;
  std::uint64_t done_ = 0;  // elements written
  std::string carry_;       // bytes of a partial element
};

}  // namespace keras64::detail
