// Header "BTHD": version(1)=0 type(1) node size(4) record size(2) depth(2) split %(1) merge %(1)
//   root node(8) records in root(2) total records(8) checksum(4)
// Leaf "BTLF": version(1) type(1) records checksum(4)
// Internal "BTIN": version(1) type(1) records, then (records + 1) child pointers: address(8),
//   records in child (just enough bytes for a leaf's maximum count) [, total records below: only
//   at depth > 1] checksum(4)
#include "detail/hdf5/btree_v2.hpp"

#include <cstring>
#include <string>

#include "detail/hdf5/checksum.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

unsigned enc_size(std::uint64_t max) {  // libhdf5's H5VM_limit_enc_size
  unsigned log2 = 0;
  while (max >>= 1) ++log2;
  return log2 / 8 + 1;
}

}  // namespace

std::size_t walk_btree_v2(const ByteSource& src, std::uint64_t addr, unsigned type,
                          const std::function<void(const std::uint8_t*)>& record) {
  const auto h = src.bytes(addr, 38, 38, "v2 B-tree header");
  Cursor c(h.data(), h.size(), "v2 B-tree header");
  if (std::memcmp(c.take(4), "BTHD", 4) != 0) corrupt("v2 B-tree header: bad signature");
  if (c.u8() != 0) unsupported("v2 B-tree version");
  if (c.u8() != type) corrupt("v2 B-tree header: wrong record type");
  const std::uint32_t node_size = c.u32();
  const std::size_t rec_size = c.u16();
  const unsigned depth = c.u16();
  c.skip(2);
  const std::uint64_t root = c.u64();
  const unsigned root_records = c.u16();
  const std::uint64_t total = c.u64();
  verify_lookup3(h.data(), 34, "v2 B-tree header");
  if (node_size < 16 || node_size > (1u << 20) || rec_size == 0 || rec_size > node_size)
    corrupt("v2 B-tree header: bad node or record size");
  if (depth > 1) unsupported("v2 B-tree of depth " + std::to_string(depth));
  if (total == 0) return rec_size;
  const std::uint64_t leaf_max = (node_size - 10) / rec_size;
  const unsigned nrec_size = enc_size(leaf_max);
  std::uint64_t seen = 0;

  auto read_node = [&](std::uint64_t at, const char* sig, unsigned records, std::size_t extra) {
    if (records > leaf_max) corrupt(std::string(sig) + ": too many records");
    const std::size_t used = 6 + records * rec_size + extra;
    if (used + 4 > node_size) corrupt(std::string(sig) + ": records overflow the node");
    auto b = src.bytes(at, node_size, node_size, "v2 B-tree node");
    if (std::memcmp(b.data(), sig, 4) != 0) corrupt(std::string(sig) + ": bad signature");
    if (b[5] != type) corrupt(std::string(sig) + ": wrong record type");
    verify_lookup3(b.data(), used, sig);
    seen += records;
    return b;
  };
  auto leaf = [&](std::uint64_t at, unsigned records) {
    const auto b = read_node(at, "BTLF", records, 0);
    for (unsigned i = 0; i < records; ++i) record(b.data() + 6 + i * rec_size);
  };
  if (depth == 0) {
    leaf(root, root_records);
  } else {
    const std::size_t ptr = 8 + nrec_size;
    const auto b = read_node(root, "BTIN", root_records, (root_records + 1) * ptr);
    Cursor ptrs(b.data() + 6 + root_records * rec_size, (root_records + 1) * ptr, "BTIN");
    for (unsigned i = 0; i <= root_records; ++i) {
      const std::uint64_t child = ptrs.u64();
      const auto n = static_cast<unsigned>(ptrs.uint(nrec_size));
      leaf(child, n);
      if (i < root_records) record(b.data() + 6 + i * rec_size);
    }
  }
  if (seen != total) corrupt("v2 B-tree: record count does not match its header");
  return rec_size;
}

}  // namespace keras64::detail::hdf5
