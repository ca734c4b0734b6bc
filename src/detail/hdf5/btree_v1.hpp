// Version 1 B-trees (spec III.A.1): node type 0 indexes an old-style group's symbol table
// nodes, node type 1 a chunked dataset's chunks. Only the leaves matter to a reader, so the tree
// is walked depth-first from the root, with every node checked: signature, type, level exactly
// one below its parent, entry count within 2K, no node visited twice.
#pragma once

#include <cstdint>
#include <functional>

#include "detail/hdf5/byte_source.hpp"

namespace keras64::detail::hdf5 {

/// Calls `leaf(key, child)` for every entry of every level-0 node, left to right; `key` points
/// at the entry's left key (key_size bytes). `max_entries` is 2K for the tree's node type.
void walk_btree_v1(const ByteSource& src, std::uint64_t root, unsigned node_type,
                   std::size_t key_size, unsigned max_entries,
                   const std::function<void(const std::uint8_t* key, std::uint64_t child)>& leaf);

}  // namespace keras64::detail::hdf5
