// Version 2 B-trees (spec III.A.2): the name index of a dense group (record type 5: name hash
// and fractal heap ID). Depth 0 (a root leaf) and 1 (a root internal node over leaves) are read;
// deeper trees are Error{unsupported}. Every node's lookup3 checksum is verified.
#pragma once

#include <cstdint>
#include <functional>

#include "detail/hdf5/byte_source.hpp"

namespace keras64::detail::hdf5 {

/// Calls `record(bytes)` for every record of the type-`type` tree at `addr`, in tree order;
/// returns the record size.
std::size_t walk_btree_v2(const ByteSource& src, std::uint64_t addr, unsigned type,
                          const std::function<void(const std::uint8_t*)>& record);

}  // namespace keras64::detail::hdf5
