// Global heap collections (spec III.E, "GCOL"): where variable-length strings keep their bytes.
// Collections are read whole (at most 64 MiB each; Keras's largest is 24 KiB) and kept, so the
// strings of one attribute array cost one read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "detail/hdf5/byte_source.hpp"

namespace keras64::detail::hdf5 {

class GlobalHeap {
 public:
  explicit GlobalHeap(const ByteSource& src) : src_(src) {}
  /// Decodes one variable-length string element (length(4) collection(8) index(4)): the first
  /// `length` bytes of object `index` of the collection. A null reference with length 0 is "".
  std::string vlen_string(const std::uint8_t* element);

 private:
  struct Collection {
    std::vector<std::uint8_t> bytes;
    std::map<std::uint16_t, std::pair<std::size_t, std::uint64_t>> objects;  // offset, size
  };
  const Collection& collection(std::uint64_t addr);

  const ByteSource& src_;
  std::map<std::uint64_t, Collection> cache_;
  std::uint64_t cached_bytes_ = 0;
};

}  // namespace keras64::detail::hdf5
