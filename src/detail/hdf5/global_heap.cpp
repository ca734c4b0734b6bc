// Collection: "GCOL" version(1)=1 reserved(3) collection size(8, header included), then objects:
//   index(2) reference count(2) reserved(4) size(8) data (padded to 8); index 0 is free space and
//   ends the list. Objects with reference count 0 can remain (keras64's legacy outputs have one).
#include "detail/hdf5/global_heap.hpp"

#include <cstring>

#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::uint64_t kMaxCollection = std::uint64_t{64} << 20;

}  // namespace

const GlobalHeap::Collection& GlobalHeap::collection(std::uint64_t addr) {
  auto it = cache_.find(addr);
  if (it != cache_.end()) return it->second;
  std::uint8_t head[16];
  src_.read(addr, head, sizeof head, "global heap");
  Cursor h(head, sizeof head, "global heap");
  if (std::memcmp(h.take(4), "GCOL", 4) != 0) corrupt("global heap: bad signature");
  if (h.u8() != 1) unsupported("global heap version");
  h.skip(3);
  const std::uint64_t size = h.u64();
  if (size < 16) corrupt("global heap: collection too small");
  if (cached_bytes_ + size > kMaxCollection * 4) {
    cache_.clear();
    cached_bytes_ = 0;
  }
  Collection col;
  col.bytes = src_.bytes(addr, size, kMaxCollection, "global heap");
  cached_bytes_ += size;
  Cursor c(col.bytes.data() + 16, col.bytes.size() - 16, "global heap object");
  while (c.remaining() >= 16) {
    const std::uint16_t index = c.u16();
    c.skip(6);
    const std::uint64_t osize = c.u64();
    if (index == 0) break;  // free space: the rest of the collection
    if (osize > c.remaining()) corrupt("global heap: object beyond its collection");
    const std::size_t at = c.offset_from(col.bytes.data());
    c.skip(static_cast<std::size_t>(osize));
    c.skip(std::min<std::size_t>((8 - osize % 8) % 8, c.remaining()));
    if (!col.objects.emplace(index, std::make_pair(at, osize)).second)
      corrupt("global heap: object index twice");
  }
  return cache_.emplace(addr, std::move(col)).first->second;
}

std::string GlobalHeap::vlen_string(const std::uint8_t* element) {
  Cursor c(element, 16, "variable-length string");
  const std::uint32_t length = c.u32();
  const std::uint64_t addr = c.u64();
  const std::uint32_t index = c.u32();
  // libhdf5 never looks an empty string up (and a null reference is an empty string too).
  if (length == 0) return "";
  const Collection& col = collection(addr);
  auto it = col.objects.find(static_cast<std::uint16_t>(index));
  if (index > 0xffff || it == col.objects.end())
    corrupt("variable-length string: no object " + std::to_string(index) + " in its global heap");
  if (length > it->second.second) corrupt("variable-length string: longer than its heap object");
  return std::string(reinterpret_cast<const char*>(col.bytes.data() + it->second.first), length);
}

}  // namespace keras64::detail::hdf5
