// A group's links, from whichever of HDF5's three group formats it uses:
//   old style:     Symbol Table message -> v1 B-tree (type 0) -> symbol table nodes ("SNOD"),
//                  names in a local heap ("HEAP") (spec III.A.1, III.B, III.C, III.D);
//   compact new:   Link messages in the object header (IV.A.2.g);
//   dense new:     Link Info message -> fractal heap of Link messages, indexed by a v2 B-tree of
//                  name hashes (III.G, III.A.2).
// keras64's own outputs mix all three in one file (docs/hdf5-reader.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detail/hdf5/byte_source.hpp"
#include "detail/hdf5/object_header.hpp"
#include "detail/hdf5/superblock.hpp"

namespace keras64::detail::hdf5 {

struct Link {
  std::string name;
  std::uint64_t address = 0;  ///< the target's object header
};

/// True if the header describes a group (a Symbol Table or a Link Info message), as libhdf5
/// decides.
bool is_group(const ObjectHeader& oh);

/// The group's hard links in name order (bytewise, as libhdf5's H5Literate by name gives them);
/// soft, external and user-defined links are left out. At most 1,000,000 links; a name twice is
/// Error{corrupt}.
std::vector<Link> read_links(const ByteSource& src, const Superblock& sb, const ObjectHeader& oh);

}  // namespace keras64::detail::hdf5
