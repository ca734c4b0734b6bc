// The two checksums of HDF5 files (HDF5 source H5checksum.c, public-domain algorithms).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keras64::detail::hdf5 {

/// Bob Jenkins' lookup3 hashlittle(), initial value 0: the checksum of every metadata block of
/// version-2 structures (superblock v2/v3, OHDR/OCHK, FRHP/FHDB/FHIB, BTHD/BTIN/BTLF).
std::uint32_t lookup3(const std::uint8_t* data, std::size_t n);

/// HDF5's Fletcher-32 over big-endian 16-bit words (the fletcher32 filter, id 3).
std::uint32_t fletcher32(const std::uint8_t* data, std::size_t n);

/// Error{corrupt} "<what>: checksum mismatch" unless the 4 little-endian bytes after
/// [data, data + n) are lookup3 of those n bytes.
void verify_lookup3(const std::uint8_t* data, std::size_t n, const char* what);

}  // namespace keras64::detail::hdf5
