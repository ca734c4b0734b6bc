// The libhdf5 side of keras64's HDF5 outputs: checked creation of the property lists, dataspaces,
// file types and attributes the structure-preserving sinks write. libhdf5 only ever writes here;
// what is copied from an input was read by keras64's own reader (detail/hdf5/).
//
// dtypes on disk are what h5py writes for numpy: IEEE little-endian floats, little-endian
// integers, bool as an int8 enum {FALSE, TRUE}, bfloat16 as a 2-byte OPAQUE type.
#pragma once

#include <cstdint>
#include <string>

#include "detail/h5.hpp"
#include "detail/hdf5/reader.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail::h5w {

/// A new property list of class `cls` (H5P_DATASET_CREATE, ...).
h5::Id plist(hid_t cls);

/// Link creation properties as h5py uses them: ASCII names when the name is ASCII, else UTF-8.
/// (A UTF-8 link makes libhdf5 turn an old-style group into a new-style one, and the root's
/// cached symbol table in the superblock then goes stale: Keras files keep old-style groups, and
/// so do keras64's outputs.)
h5::Id link_plist(const std::string& name);

/// A fixed-size dataspace of `shape` (scalar when empty), as h5py makes them.
h5::Id dataspace(const Shape& shape);

/// The HDF5 file type h5py uses for `t`.
h5::Id file_type(DType t);

/// The libhdf5 type of an input's datatype as keras64's reader parsed it: the same class, size,
/// byte order, sign, character set and padding. A 1-byte enum is h5py's bool; another enum is
/// Error{unsupported}.
h5::Id file_type(const hdf5::Datatype& t);

/// The scalar uint32 attribute of every planned dataset in keras64's HDF5 outputs: the CRC32C of
/// its data bytes.
inline constexpr const char* kCrcAttr = "keras64.crc32c";

/// Copies every attribute of `obj` (read by `r`) that `out` lacks, in its own type and shape,
/// in name order (what libhdf5's H5Aiterate by name gave the copy before). `skip_bf16_tag`
/// leaves out a dtype = "bfloat16" tag (for a dataset no longer stored as bfloat16). An input's
/// keras64.crc32c is copied only with `same_bytes` (a dataset copied unchanged): on any other
/// dataset it would be the checksum of other bytes (widened, or written afresh with its own).
void copy_attributes(hdf5::Reader& r, const hdf5::Object& obj, hid_t out, bool skip_bf16_tag,
                     bool same_bytes = false);

/// Writes flat (row-major) elements [first, first + count) of the dataset `dset`, whose extent
/// is `shape`, from `buf` in memory type `mtype` (a hyperslab selection).
void write_range(hid_t dset, hid_t mtype, const Shape& shape, std::uint64_t first,
                 std::uint64_t count, const void* buf);

/// Creates the scalar variable-length UTF-8 string attribute `name` = `value` on `obj`.
void write_string_attr(hid_t obj, const std::string& name, const std::string& value);

}  // namespace keras64::detail::h5w
