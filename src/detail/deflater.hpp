// Raw deflate (RFC 1951: no zlib or gzip wrapper, as ZIP method 8 stores it) of one stream that
// arrives in pieces. The ZIP writer only sees this interface, so the compressor behind it can be
// replaced (e.g. by a parallel block compressor) without touching the container code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace keras64::detail {

class Deflater {
 public:
  /// Receives compressed bytes, in stream order. May throw; the exception propagates out of
  /// write() / finish().
  using Output = std::function<void(const void* data, std::size_t n)>;

  virtual ~Deflater() = default;
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  /// Compresses `n` bytes. Compressed output may be delivered now or during a later call.
  virtual void write(const void* data, std::size_t n) = 0;
  /// Ends the stream and delivers every remaining compressed byte. Call exactly once.
  virtual void finish() = 0;

 protected:
  Deflater() = default;
};

/// Worst-case compressed size of `n` input bytes, with room for any block framing a compressor
/// may add (stored blocks, flush markers). Used to decide up front whether a ZIP local header
/// needs ZIP64 sizes.
inline std::uint64_t deflate_bound(std::uint64_t n) {
  return n + (n >> 8) + 1024;
}

/// A deflater at `level`: -1 (the default) and 1-3 are ISA-L's fast levels, 0 stores, 4-9 are
/// zlib's levels (smaller, much slower); anything else is Error{invalid_argument}. The input is
/// compressed in independent 1 MiB blocks on `threads` worker threads (0: one per core), so
/// memory is fixed (a few MiB) whatever the input size. Output is delivered on the calling
/// thread, in order.
std::unique_ptr<Deflater> make_deflater(int level, unsigned threads, Deflater::Output out);

class BlockPool;

/// Independent blocks - HDF5 chunks - each compressed to a complete zlib stream (what HDF5's
/// deflate filter stores, for H5Dwrite_chunk), after HDF5's byte shuffle when asked, on worker
/// threads. Levels as make_deflater. Results are delivered on the calling thread, in submission
/// order, during submit() or finish(); an exception from a worker or from `out` propagates there.
class ChunkDeflater {
 public:
  static constexpr std::size_t kMaxChunk = std::size_t{1} << 20;
  using Output = std::function<void(std::uint64_t tag, const void* data, std::size_t n)>;

  ChunkDeflater(int level, unsigned threads, Output out);
  ~ChunkDeflater();
  ChunkDeflater(const ChunkDeflater&) = delete;
  ChunkDeflater& operator=(const ChunkDeflater&) = delete;

  /// Where the next chunk's bytes go: kMaxChunk bytes, valid until submit().
  unsigned char* buffer();
  /// Submits the first n bytes of buffer() as chunk `tag`, shuffled by elements of `shuffle`
  /// bytes first when shuffle > 1.
  void submit(std::size_t n, std::size_t shuffle, std::uint64_t tag);
  /// Waits for and delivers every submitted chunk.
  void finish();

 private:
  std::unique_ptr<BlockPool> pool_;
};

}  // namespace keras64::detail
