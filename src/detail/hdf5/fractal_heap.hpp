// Fractal heaps (spec III.G), the store of a dense group's link messages: a header ("FRHP"), a
// root direct block ("FHDB"), or a root indirect block ("FHIB") over direct blocks, each checked
// against its lookup3 checksum. Managed objects only; huge and tiny objects, I/O filters and
// nested indirect blocks are Error{unsupported} (no Keras or keras64 file has them).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "detail/hdf5/byte_source.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {

class FractalHeap {
 public:
  FractalHeap(const ByteSource& src, std::uint64_t addr);

  std::size_t id_length() const { return id_len_; }
  /// The bytes of the object whose heap ID is [id, id + id_length()).
  std::vector<std::uint8_t> object(const std::uint8_t* id);

 private:
  const std::vector<std::uint8_t>& direct_block(std::uint64_t addr, std::uint64_t block_offset,
                                                std::uint64_t size);

  const ByteSource& src_;
  std::uint64_t addr_;
  std::size_t id_len_ = 0;
  bool checksummed_ = false;
  unsigned width_ = 0;
  std::uint64_t start_block_ = 0, max_direct_ = 0;
  unsigned off_size_ = 0, len_size_ = 0;
  std::uint64_t root_ = kUndefined;
  unsigned root_rows_ = 0, max_direct_rows_ = 0;
  std::vector<std::uint64_t> root_children_;  // direct blocks of a root indirect block
  std::map<std::uint64_t, std::vector<std::uint8_t>> blocks_;
};

}  // namespace keras64::detail::hdf5
