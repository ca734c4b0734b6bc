// Reading element ranges of a chunked dataset (spec IV.B, VII): the v1 B-tree chunk index
// (node type 1) is read once, and chunks are decoded as they are needed through an LRU cache of
// at most 64 MiB of decoded chunks (always at least the one being copied from).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <vector>

#include "detail/hdf5/byte_source.hpp"
#include "detail/hdf5/messages.hpp"

namespace keras64::detail::hdf5 {

class ChunkedReader {
 public:
  /// `chunk_k` is the superblock's chunk B-tree K (nodes hold up to 2K entries).
  ChunkedReader(const ByteSource& src, unsigned chunk_k) : src_(src), chunk_k_(chunk_k) {}
  void set_chunk_k(unsigned k) { chunk_k_ = k; }

  /// Copies flat elements [first, first + count) of the dataset at `address` into dst.
  void read(std::uint64_t address, const Dataspace& space, const Datatype& type,
            const Layout& layout, const std::vector<Filter>& filters,
            const std::vector<std::uint8_t>& fill, std::uint64_t first, std::uint64_t count,
            std::uint8_t* dst);

 private:
  struct ChunkRef {
    std::uint64_t addr;
    std::uint32_t size;
    std::uint32_t mask;
  };
  using Index = std::map<std::uint64_t, ChunkRef>;  // by linear chunk number
  const Index& index(std::uint64_t address, const Dataspace& space, const Layout& layout);
  const std::vector<std::uint8_t>& chunk(std::uint64_t address, std::uint64_t number,
                                         const Index& idx, const std::vector<Filter>& filters,
                                         const std::vector<std::uint8_t>& fill, std::size_t bytes,
                                         std::size_t element_size);

  const ByteSource& src_;
  unsigned chunk_k_;
  std::map<std::uint64_t, Index> indexes_;
  struct Cached {
    std::uint64_t dataset, number;
    std::vector<std::uint8_t> bytes;
  };
  std::list<Cached> cache_;  // most recent first
  std::size_t cached_bytes_ = 0;
};

}  // namespace keras64::detail::hdf5
