// The decoding side of the three filters keras64 reads (spec IV.A.2.l): fletcher32 (id 3,
// checksum verified), deflate (id 1, zlib stream, inflated to a known size), shuffle (id 2).
#pragma once

#include <cstdint>
#include <vector>

#include "detail/hdf5/messages.hpp"

namespace keras64::detail::hdf5 {

/// Undoes `pipeline` (last filter first, skipping those whose bit is set in `mask`) on one stored
/// chunk; the result must be exactly `expected` bytes. Error{corrupt} on a checksum mismatch, a
/// bad zlib stream or a wrong size.
std::vector<std::uint8_t> decode_chunk(std::vector<std::uint8_t> data,
                                       const std::vector<Filter>& pipeline, std::uint32_t mask,
                                       std::size_t expected, std::size_t element_size);

}  // namespace keras64::detail::hdf5
