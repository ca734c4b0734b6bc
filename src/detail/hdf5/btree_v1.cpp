// Node: "TREE" type(1) level(1) entries used(2) left sibling(8) right sibling(8)
//       key 0, child 0, key 1, child 1, ..., key N (one more key than children)
#include "detail/hdf5/btree_v1.hpp"

#include <cstring>
#include <set>
#include <string>

#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

struct Walker {
  const ByteSource& src;
  unsigned type;
  std::size_t key_size;
  unsigned max_entries;
  const std::function<void(const std::uint8_t*, std::uint64_t)>& leaf;
  std::set<std::uint64_t> seen;

  void node(std::uint64_t addr, int expect_level) {
    if (!seen.insert(addr).second) corrupt("B-tree: node visited twice (cycle)");
    std::uint8_t head[24];
    src.read(addr, head, sizeof head, "B-tree node");
    Cursor c(head, sizeof head, "B-tree node");
    if (std::memcmp(c.take(4), "TREE", 4) != 0) corrupt("B-tree node: bad signature");
    if (c.u8() != type) corrupt("B-tree node: wrong node type");
    const int level = c.u8();
    const unsigned entries = c.u16();
    if (expect_level >= 0 && level != expect_level) corrupt("B-tree node: wrong level");
    if (entries > max_entries) corrupt("B-tree node: " + std::to_string(entries) + " entries");
    const std::uint64_t body = entries * (key_size + 8) + key_size;
    const auto bytes = src.bytes(addr + sizeof head, body, std::uint64_t{1} << 20, "B-tree node");
    for (unsigned i = 0; i < entries; ++i) {
      const std::uint8_t* key = bytes.data() + i * (key_size + 8);
      Cursor child(key + key_size, 8, "B-tree node");
      const std::uint64_t addr_child = child.u64();
      if (level == 0)
        leaf(key, addr_child);
      else
        node(addr_child, level - 1);
    }
  }
};

}  // namespace

void walk_btree_v1(const ByteSource& src, std::uint64_t root, unsigned node_type,
                   std::size_t key_size, unsigned max_entries,
                   const std::function<void(const std::uint8_t* key, std::uint64_t child)>& leaf) {
  Walker w{src, node_type, key_size, max_entries, leaf, {}};
  w.node(root, -1);
}

}  // namespace keras64::detail::hdf5
