// A check of an HDF5 file's superblock made by keras64 before libhdf5 sees the file.
//
// libhdf5 is not hardened against malformed files (heap overflows on crafted input are known:
// CVE-2025-6750, CVE-2025-2915). keras64 cannot make it safe, but it can refuse the commonest
// damage - a truncated download or copy - with a clear message, without handing the file over:
// the superblock records the file's end-of-file address, and a file shorter than that is cut off.
// Checked: the signature (at 0, 512, 1024, ...), the superblock version (0-3), the sizes of
// offsets and lengths (2, 4 or 8), and base + end-of-file address <= the bytes actually present.
#pragma once

#include <cstdint>
#include <string>

#include "detail/file.hpp"

namespace keras64::detail::h5 {

/// Checks the superblock of the HDF5 file occupying bytes [offset, offset + size) of `file`.
/// Throws Error{corrupt} "<label>: ..." (no prefix for an empty label) when the file is not HDF5 or
/// is shorter than its superblock says ("truncated: ...").
void check_superblock(const File& file, std::uint64_t offset, std::uint64_t size,
                      const std::string& label);

}  // namespace keras64::detail::h5
