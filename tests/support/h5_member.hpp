// Opening an HDF5 file that is a byte range of another file: `model.weights.h5` stored
// (uncompressed) inside a `.keras` zip.
//
// HDF5 looks for its superblock only at offsets 0, 512, 1024, ... of a file, so it cannot open a
// zip member where it sits. A small read-only virtual file driver ("keras64_member", registered
// once per process) maps HDF5 address a to byte `offset + a` of the archive and reports the
// member's size as the end of file, so HDF5 sees exactly the member, without a temporary copy
// and without reading the member into memory.
//
// Test support only: keras64 reads HDF5 with its own reader (src/detail/hdf5/); libhdf5 opening
// the same member is the reference its tests compare with.
#pragma once

#include <cstdint>
#include <string>

#include "detail/h5.hpp"

namespace keras64::detail::h5 {

/// Opens bytes [offset, offset + size) of `path` read-only as an HDF5 file (objects close with the
/// file, as h5::open_file). Error{io} if `path` cannot be opened or is shorter than
/// offset + size; Error{corrupt} "not a readable HDF5 file (...)" if the range is no HDF5 file.
Id open_member(const std::string& path, std::uint64_t offset, std::uint64_t size);

}  // namespace keras64::detail::h5
