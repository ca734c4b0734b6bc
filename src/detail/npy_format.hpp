// The .npy header, written byte for byte as numpy writes it and parsed defensively.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
//   offset 0  "\x93NUMPY"
//          6  major, minor version (1.0; 2.0 when the header does not fit a u16; 3.0 = 2.0 + UTF-8)
//          8  header length: u16 LE (1.0) or u32 LE (2.0, 3.0)
//   10 or 12  "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 10), }" + spaces + "\n"
//
// numpy pads the dict so that the data starts at a multiple of 64 bytes (ARRAY_ALIGN), and since
// numpy 1.23 first appends 21 - len(str(shape[0])) spaces of "growth room" for rank >= 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keras64/tensor.hpp"

namespace keras64::detail {

class File;

/// Upper bound on the header length field the parser accepts. numpy refuses more than 10,000
/// bytes by default; 1 MiB leaves room for any honest header while bounding what a hostile file
/// can make us allocate.
inline constexpr std::uint64_t kNpyMaxHeaderBytes = std::uint64_t{1} << 20;
/// Rank limit of the parser (numpy 2 allows 64 dimensions, numpy 1 allows 32).
inline constexpr std::size_t kNpyMaxRank = 64;
/// Bytes that always suffice for npy_header_length(): magic, version and a 4-byte length.
inline constexpr std::size_t kNpyPrefixBytes = 12;

/// The complete header (magic through the final '\n') that np.save writes for a C-order array of
/// numpy dtype string `descr` ("<f8", "|b1", ">i4") and `shape`. Byte-identical to numpy >= 1.23.
/// Its size is a multiple of 64; it is the offset of the data in the file.
std::string npy_header(std::string_view descr, const Shape& shape);

/// npy_header() for the little-endian form of `dtype` (DTypeInfo::npy_descr; bfloat16 is "<u2").
std::string npy_header(DType dtype, const Shape& shape);

/// What a parsed header says.
struct NpyHeader {
  DType dtype = DType::f64;    ///< element type; "<u2" parses as uint16 (never bfloat16)
  bool big_endian = false;     ///< descr began with '>' (always false for 1-byte types)
  bool fortran_order = false;  ///< data is in column-major order
  Shape shape;
  std::uint64_t data_offset = 0;  ///< header size: where the array data starts
  std::uint64_t nbytes = 0;       ///< elements * element size (overflow-checked)
};

/// The total header size (= data offset) from the first `n` bytes of a file. Needs 10 bytes for
/// version 1.0, 12 for 2.0/3.0 (kNpyPrefixBytes always suffice). Throws Error{corrupt} for a
/// missing magic, a truncated prefix or a length over kNpyMaxHeaderBytes, and Error{unsupported}
/// for an unknown version.
std::uint64_t npy_header_length(const void* prefix, std::size_t n);

/// Parses a header. `data` holds at least npy_header_length(data, n) bytes (more is fine: only
/// the header is looked at). Accepts any dict numpy itself would accept from ast.literal_eval
/// of the three keys in any order ('descr', 'fortran_order', 'shape'), either quote style,
/// Python 2 "3L" integers, optional trailing commas and whitespace. Throws Error{corrupt} with
/// the byte offset of the problem ("npy header: expected ',' or ')' in shape at byte 57"), and
/// Error{unsupported} for a valid descr keras64 has no dtype for ("<c16", structured dtypes).
NpyHeader parse_npy_header(const void* data, std::size_t n);

/// Reads and parses the header of an open .npy file. Errors are prefixed with the file's path;
/// a file shorter than its header is Error{corrupt} "truncated". Does not check the data size.
NpyHeader read_npy_header(const File& file);

}  // namespace keras64::detail
