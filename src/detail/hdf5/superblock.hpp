// The superblock (HDF5 spec II.A "Level 0A - Format Signature and Superblock"), versions 0-3.
#pragma once

#include <cstdint>

#include "detail/hdf5/byte_source.hpp"

namespace keras64::detail::hdf5 {

struct Superblock {
  unsigned version = 0;
  std::uint64_t root = 0;     ///< address of the root group's object header
  unsigned group_leaf_k = 4;  ///< symbol table nodes hold up to 2K entries
  unsigned group_internal_k = 16;
  unsigned chunk_k = 32;  ///< chunk B-tree K (the v1 superblock field, else the default)
};

/// Reads the superblock at address 0 of `src` and limits `src` to the end-of-file address it
/// records. Only 8-byte offsets and lengths, base address 0 and no superblock extension are
/// understood; the root symbol-table entry's scratch pad is never used (it can be stale).
/// Error{corrupt} "not an HDF5 file ..." / "truncated: ..." / "damaged HDF5 superblock ...";
/// Error{unsupported} for a user block, other sizes, an extension or a file-driver block.
Superblock read_superblock(ByteSource& src);

}  // namespace keras64::detail::hdf5
