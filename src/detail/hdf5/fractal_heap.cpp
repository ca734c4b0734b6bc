// Header "FRHP": version(1)=0 heap-ID length(2) I/O filters length(2) flags(1) max managed object
//   size(4) next huge ID(8) huge B-tree(8) free space(8) free-space manager(8) managed space(8)
//   allocated managed space(8) iterator offset(8) managed objects(8) huge size(8) huge count(8)
//   tiny size(8) tiny count(8) table width(2) starting block size(8) max direct block size(8)
//   max heap size (bits, 2) starting root rows(2) root block(8) current root rows(2) checksum(4)
// Direct block "FHDB": version(1) heap header(8) block offset(offset size) [checksum(4)] data
// Indirect block "FHIB": version(1) heap header(8) block offset(offset size) child addresses
//   (8 each, rows x width) checksum(4)
// Managed heap ID: flags(1: version bits 6-7, type bits 4-5) offset(offset size) length(len size)
#include "detail/hdf5/fractal_heap.hpp"

#include <cstring>
#include <string>

#include "detail/hdf5/checksum.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

bool power_of_two(std::uint64_t v) {
  return v && !(v & (v - 1));
}
unsigned log2_floor(std::uint64_t v) {
  unsigned r = 0;
  while (v >>= 1) ++r;
  return r;
}
constexpr std::uint64_t kMaxBlock = std::uint64_t{1} << 24;
constexpr std::size_t kMaxCachedBytes = std::size_t{64} << 20;

}  // namespace

FractalHeap::FractalHeap(const ByteSource& src, std::uint64_t addr) : src_(src), addr_(addr) {
  const auto h = src.bytes(addr, 146, 146, "fractal heap header");
  Cursor c(h.data(), h.size(), "fractal heap header");
  if (std::memcmp(c.take(4), "FRHP", 4) != 0) corrupt("fractal heap header: bad signature");
  if (c.u8() != 0) unsupported("fractal heap version");
  id_len_ = c.u16();
  if (c.u16() != 0) unsupported("fractal heap I/O filters");
  const unsigned flags = c.u8();
  checksummed_ = flags & 2;
  const std::uint32_t max_managed = c.u32();
  c.skip(56);  // 7 x 8 bytes: next huge ID, huge B-tree, free space and managed space bookkeeping
  c.skip(8);   // managed object count
  const std::uint64_t huge_size = c.u64(), huge_count = c.u64();
  const std::uint64_t tiny_size = c.u64(), tiny_count = c.u64();
  if (huge_size || huge_count) unsupported("fractal heap huge objects");
  (void)tiny_size;
  (void)tiny_count;  // tiny objects live in their heap IDs; refused when one is met
  width_ = c.u16();
  start_block_ = c.u64();
  max_direct_ = c.u64();
  const unsigned max_heap_bits = c.u16();
  c.skip(2);
  root_ = c.u64();
  root_rows_ = c.u16();
  verify_lookup3(h.data(), 142, "fractal heap header");
  if (!power_of_two(width_) || width_ > 65536 || !power_of_two(start_block_) ||
      !power_of_two(max_direct_) || max_direct_ < start_block_ || max_direct_ > kMaxBlock ||
      max_heap_bits == 0 || max_heap_bits > 64 || max_managed == 0)
    corrupt("fractal heap header: bad doubling table");
  off_size_ = (max_heap_bits + 7) / 8;
  len_size_ = std::min((log2_floor(max_direct_) + 7) / 8, log2_floor(max_managed) / 8 + 1);
  if (id_len_ < 1 + off_size_ + len_size_ || id_len_ > 64)
    corrupt("fractal heap: bad heap ID length");
  max_direct_rows_ = log2_floor(max_direct_) - log2_floor(start_block_) + 2;
  if (root_rows_ > max_direct_rows_) unsupported("fractal heap with nested indirect blocks");
  if (root_ == kUndefined) return;  // empty heap
  if (root_rows_ > 0) {
    // Root indirect block: rows x width direct-block addresses.
    const std::uint64_t entries = std::uint64_t{root_rows_} * width_;
    const std::uint64_t size = 4 + 1 + 8 + off_size_ + entries * 8 + 4;
    const auto b = src.bytes(root_, size, std::uint64_t{1} << 22, "fractal heap indirect block");
    Cursor ib(b.data(), b.size(), "fractal heap indirect block");
    if (std::memcmp(ib.take(4), "FHIB", 4) != 0)
      corrupt("fractal heap indirect block: bad signature");
    ib.skip(1);
    if (ib.u64() != addr_) corrupt("fractal heap indirect block: wrong heap");
    if (ib.uint(off_size_) != 0) corrupt("fractal heap indirect block: root offset not 0");
    for (std::uint64_t i = 0; i < entries; ++i) root_children_.push_back(ib.u64());
    verify_lookup3(b.data(), b.size() - 4, "fractal heap indirect block");
  }
}

const std::vector<std::uint8_t>& FractalHeap::direct_block(std::uint64_t addr,
                                                           std::uint64_t block_offset,
                                                           std::uint64_t size) {
  auto it = blocks_.find(addr);
  if (it != blocks_.end()) return it->second;
  if (blocks_.size() * max_direct_ > kMaxCachedBytes) blocks_.clear();
  auto b = src_.bytes(addr, size, kMaxBlock, "fractal heap direct block");
  Cursor c(b.data(), b.size(), "fractal heap direct block");
  if (std::memcmp(c.take(4), "FHDB", 4) != 0) corrupt("fractal heap direct block: bad signature");
  c.skip(1);
  if (c.u64() != addr_) corrupt("fractal heap direct block: wrong heap");
  if (c.uint(off_size_) != block_offset) corrupt("fractal heap direct block: wrong block offset");
  if (checksummed_) {
    const std::size_t at = c.offset_from(b.data());
    c.need(4);
    std::uint8_t stored[4];
    std::memcpy(stored, b.data() + at, 4);
    std::memset(b.data() + at, 0, 4);
    std::uint32_t sum = lookup3(b.data(), b.size());
    std::memcpy(b.data() + at, stored, 4);
    const std::uint32_t want =
        stored[0] | stored[1] << 8 | stored[2] << 16 | std::uint32_t{stored[3]} << 24;
    if (sum != want) corrupt("fractal heap direct block: checksum mismatch");
  }
  return blocks_.emplace(addr, std::move(b)).first->second;
}

std::vector<std::uint8_t> FractalHeap::object(const std::uint8_t* id) {
  Cursor c(id, id_len_, "fractal heap ID");
  const unsigned flags = c.u8();
  if (flags >> 6) corrupt("fractal heap ID: unknown version");
  const unsigned type = (flags >> 4) & 3;
  if (type == 1) unsupported("fractal heap huge objects");
  if (type == 2) unsupported("fractal heap tiny objects");
  if (type != 0) corrupt("fractal heap ID: unknown type");
  const std::uint64_t off = c.uint(off_size_);
  const std::uint64_t len = c.uint(len_size_);
  if (root_ == kUndefined) corrupt("fractal heap: object in an empty heap");
  std::uint64_t block_addr = root_, block_off = 0, block_size = start_block_;
  if (root_rows_ > 0) {
    const std::uint64_t row0 = std::uint64_t{width_} * start_block_;
    unsigned row = 0;
    if (off >= row0) row = log2_floor(off / row0) + 1;
    if (row >= root_rows_) corrupt("fractal heap ID: offset beyond the heap");
    block_size = row == 0 ? start_block_ : start_block_ << (row - 1);
    const std::uint64_t row_start = row == 0 ? 0 : row0 << (row - 1);
    const std::uint64_t col = (off - row_start) / block_size;
    block_off = row_start + col * block_size;
    block_addr = root_children_[std::size_t{row} * width_ + col];
    if (block_addr == kUndefined) corrupt("fractal heap ID: object in an unallocated block");
  }
  const auto& b = direct_block(block_addr, block_off, block_size);
  const std::uint64_t header = 4 + 1 + 8 + off_size_ + (checksummed_ ? 4 : 0);
  const std::uint64_t in = off - block_off;
  if (in < header || len > b.size() || in > b.size() - len)
    corrupt("fractal heap ID: object outside its block");
  return std::vector<std::uint8_t>(b.begin() + static_cast<std::ptrdiff_t>(in),
                                   b.begin() + static_cast<std::ptrdiff_t>(in + len));
}

}  // namespace keras64::detail::hdf5
