// Chunk-deflate writer: the compressed output's chunked tensors. Chunks are shaped
// [1, ..., 1, c, d_j+1, ..., d_n-1] (at most 1 MiB), so each is one flat range of the tensor: it
// is cut from the stream as the bytes arrive, shuffled and deflated to a zlib stream on worker
// threads (ChunkDeflater, ISA-L for levels 1-3, zlib for 4-9) and stored with H5Dwrite_chunk -
// what HDF5's own filters would store, on every core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "detail/deflater.hpp"
#include "detail/h5.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail {

/// How a tensor is cut into chunks.
struct Chunking {
  std::size_t axis = 0;        ///< j: chunk dims are 1 before it, all of the dim after it
  std::uint64_t step = 0;      ///< chunk length along axis j; 0: not chunked
  std::uint64_t trailing = 0;  ///< elements per step along axis j
};

/// The chunking of a tensor of `shape` (rank >= 1) with `es`-byte elements, and its chunk
/// dimensions (for H5Pset_chunk) in `dims`.
Chunking plan_chunks(const Shape& shape, std::uint64_t es, std::vector<hsize_t>& dims);

class H5ChunkWriter {
 public:
  /// Writes into the open file `file`; `shown` names the output in messages.
  H5ChunkWriter(hid_t file, std::string shown, int level, unsigned threads);

  /// Starts dataset `path` of `shape`, `es`-byte elements, cut as `c`.
  void open(const std::string& path, const Shape& shape, std::uint64_t es, const Chunking& c);
  void append(const unsigned char* p, std::size_t n);
  /// Error{internal} unless the tensor's every chunk was submitted.
  void close_tensor();
  /// Waits for the submitted chunks and writes them.
  void finish();

 private:
  struct Pending {
    std::string path;             // of the dataset
    std::vector<hsize_t> offset;  // of the chunk in the dataset
  };
  void write_chunk(const void* z, std::size_t n);  // ChunkDeflater output, in order

  hid_t file_;
  std::string shown_;
  std::deque<Pending> pending_;  // submitted, not yet written, in order
  std::uint64_t next_tag_ = 0;
  // The tensor being cut.
  std::string path_;
  Shape shape_;
  std::uint64_t es_ = 1;
  Chunking c_;
  std::uint64_t at_ = 0;  // elements in submitted chunks
  std::size_t used_ = 0;  // bytes in the chunk being filled
  h5::Id dset_;           // the dataset chunks are being written to
  std::string dset_path_;
  ChunkDeflater chunks_;  // last: its workers stop before anything they write to goes
};

}  // namespace keras64::detail
