// Chunk B-tree key (node type 1): chunk size in bytes(4) filter mask(4) chunk offsets (8 each,
// one per dataset dimension plus a last one that is always 0, for the element size).
#include "detail/hdf5/chunked.hpp"

#include <cstring>
#include <string>

#include "detail/hdf5/btree_v1.hpp"
#include "detail/hdf5/filters.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::size_t kMaxChunkBytes = std::size_t{256} << 20;
constexpr std::size_t kCacheBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxChunks = std::size_t{1} << 24;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return a / b + (a % b != 0);
}

}  // namespace

const ChunkedReader::Index& ChunkedReader::index(std::uint64_t address, const Dataspace& space,
                                                 const Layout& layout) {
  auto it = indexes_.find(address);
  if (it != indexes_.end()) return it->second;
  const std::size_t rank = space.dims.size();
  Index idx;
  if (layout.address != kUndefined) {
    const std::size_t key_size = 8 + 8 * (rank + 1);
    walk_btree_v1(src_, layout.address, 1, key_size, 2 * chunk_k_,
                  [&](const std::uint8_t* key, std::uint64_t child) {
                    Cursor c(key, key_size, "chunk B-tree key");
                    ChunkRef ref{child, c.u32(), c.u32()};
                    std::uint64_t number = 0;
                    for (std::size_t i = 0; i < rank; ++i) {
                      const std::uint64_t off = c.u64();
                      if (off % layout.chunk[i] != 0 || off >= space.dims[i])
                        corrupt("chunk B-tree: chunk offset outside the dataset");
                      number =
                          number * ceil_div(space.dims[i], layout.chunk[i]) + off / layout.chunk[i];
                    }
                    if (c.u64() != 0) corrupt("chunk B-tree: nonzero element offset");
                    if (idx.size() >= kMaxChunks) corrupt("chunk B-tree: too many chunks");
                    if (!idx.emplace(number, ref).second)
                      corrupt("chunk B-tree: chunk listed twice");
                  });
  }
  return indexes_.emplace(address, std::move(idx)).first->second;
}

const std::vector<std::uint8_t>& ChunkedReader::chunk(std::uint64_t address, std::uint64_t number,
                                                      const Index& idx,
                                                      const std::vector<Filter>& filters,
                                                      const std::vector<std::uint8_t>& fill,
                                                      std::size_t bytes, std::size_t element_size) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it)
    if (it->dataset == address && it->number == number) {
      cache_.splice(cache_.begin(), cache_, it);
      return cache_.front().bytes;
    }
  std::vector<std::uint8_t> data;
  auto ref = idx.find(number);
  if (ref == idx.end()) {
    // Never written: the fill value, as libhdf5 returns it.
    data.assign(bytes, 0);
    if (!fill.empty())
      for (std::size_t at = 0; at + fill.size() <= bytes; at += fill.size())
        std::memcpy(data.data() + at, fill.data(), fill.size());
  } else {
    const std::size_t stored = ref->second.size;
    if (filters.empty() && stored != bytes)
      corrupt("chunk of " + std::to_string(stored) + " bytes, expected " + std::to_string(bytes));
    if (stored > bytes + bytes / 8 + 4096) corrupt("chunk implausibly large");
    data.resize(stored);
    src_.read(ref->second.addr, data.data(), stored, "chunk");
    if (!filters.empty())
      data = decode_chunk(std::move(data), filters, ref->second.mask, bytes, element_size);
  }
  while (!cache_.empty() && cached_bytes_ + bytes > kCacheBytes) {
    cached_bytes_ -= cache_.back().bytes.size();
    cache_.pop_back();
  }
  cached_bytes_ += bytes;
  cache_.push_front({address, number, std::move(data)});
  return cache_.front().bytes;
}

void ChunkedReader::read(std::uint64_t address, const Dataspace& space, const Datatype& type,
                         const Layout& layout, const std::vector<Filter>& filters,
                         const std::vector<std::uint8_t>& fill, std::uint64_t first,
                         std::uint64_t count, std::uint8_t* dst) {
  const std::size_t rank = space.dims.size();
  const std::size_t es = type.size;
  if (layout.chunk.size() != rank + 1 || layout.chunk[rank] != es)
    corrupt("chunked layout does not match the dataspace and type");
  std::uint64_t chunk_elems = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    chunk_elems *= layout.chunk[i];
    if (chunk_elems > kMaxChunkBytes / es) unsupported("chunks larger than 256 MiB");
  }
  if (!fill.empty() && fill.size() != es) corrupt("fill value size differs from the element size");
  const Index& idx = index(address, space, layout);
  std::vector<std::uint64_t> grid(rank), stride(rank), cstride(rank), pos(rank);
  for (std::size_t i = rank; i-- > 0;) {
    grid[i] = ceil_div(space.dims[i], layout.chunk[i]);
    stride[i] = i + 1 < rank ? stride[i + 1] * space.dims[i + 1] : 1;
    cstride[i] = i + 1 < rank ? cstride[i + 1] * layout.chunk[i + 1] : 1;
  }
  std::uint64_t at = first;
  const std::uint64_t end = first + count;
  while (at < end) {
    std::uint64_t rem = at, number = 0, in = 0;
    for (std::size_t i = 0; i < rank; ++i) {
      pos[i] = rem / stride[i];
      rem %= stride[i];
      number = number * grid[i] + pos[i] / layout.chunk[i];
      in += (pos[i] % layout.chunk[i]) * cstride[i];
    }
    const std::size_t last = rank - 1;
    const std::uint64_t run =
        std::min({end - at, layout.chunk[last] - pos[last] % layout.chunk[last],
                  space.dims[last] - pos[last]});
    const auto& c = chunk(address, number, idx, filters, fill, chunk_elems * es, es);
    std::memcpy(dst + (at - first) * es, c.data() + in * es, run * es);
    at += run;
  }
}

}  // namespace keras64::detail::hdf5
