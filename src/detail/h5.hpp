// Checked HDF5 calls behind move-only RAII ids (HighFive's pattern, without its class tree).
//
// Every wrapper either succeeds or throws keras64::Error whose message names the object and ends
// with the innermost HDF5 error text. HDF5's own printing to stderr is switched off once, when the
// first wrapper is used, so no "HDF5-DIAG" noise ever reaches a user's terminal.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail::h5 {

/// Switches off HDF5's automatic error printing for the default error stack (idempotent).
void silence();

/// An owned HDF5 identifier; closed with H5Idec_ref, which works for every id type.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// The innermost message of the current HDF5 error stack ("" when empty).
std::string last_error();
/// Throws Error{code} "<what>: <last_error()>" if `status` < 0; returns it otherwise.
hid_t check(hid_t status, const std::string& what, Errc code = Errc::corrupt);

/// The file access properties of every file keras64 has libhdf5 open: every object closed with
/// the file (H5F_CLOSE_STRONG, even if an id leaked through an exception path), and a metadata
/// cache fixed at kMetadataCacheBytes. libhdf5's own cache (2 MiB at first, adapting between 1
/// and 32 MiB) counts an entry by its size on disk, and a decoded object header takes several
/// times that in memory: writing a model of 816 datasets it held 4,143 entries, 8.6 MiB, the
/// largest part of the process's peak memory, and more for more datasets (issue #18). Entries
/// past the cap are written out early (creating) or dropped (clean) and read again when needed.
Id file_access();
inline constexpr std::size_t kMetadataCacheBytes = std::size_t{256} << 10;

Id open_file(const std::string& path);  ///< read-only
Id open_group(hid_t loc, const std::string& path);
Id open_dataset(hid_t loc, const std::string& path);
bool exists(hid_t loc, const std::string& path);  ///< link exists (each component)

enum class ObjKind { group, dataset, other };
struct Child {
  std::string name;
  ObjKind kind;
};
/// Immediate children of a group, in HDF5's name order.
std::vector<Child> children(hid_t group);

bool has_attr(hid_t obj, const std::string& name);
/// A string attribute (fixed or variable length, scalar or 1-element); nullopt if absent.
std::optional<std::string> read_string_attr(hid_t obj, const std::string& name);
/// A 1-D string array attribute (fixed or variable length). An empty numeric array (how Keras
/// writes an empty weight_names) gives an empty vector.
std::vector<std::string> read_string_array_attr(hid_t obj, const std::string& name);

/// A scalar (or 1-element) unsigned 32-bit integer attribute; nullopt if absent, Error{corrupt}
/// if it has another type or size.
std::optional<std::uint32_t> read_u32_attr(hid_t obj, const std::string& name);
/// True if the dataset's filter pipeline has HDF5's fletcher32 checksum (which H5Dread checks).
bool has_fletcher32(hid_t dset);

/// What keras64 needs to know about a dataset to read it.
struct DatasetInfo {
  DType dtype = DType::f32;
  Shape shape;
  bool big_endian = false;
  /// File offset of the raw data when the layout is contiguous and unfiltered (read with pread);
  /// nullopt when HDF5 must do the reading (chunked, compressed, compact, not yet allocated).
  std::optional<std::uint64_t> raw_offset;
};
/// Inspects a dataset. Float/integer/bool(enum) types and 2-byte OPAQUE with a "bfloat16" dtype
/// attribute are understood; anything else is Error{unsupported} naming the type.
DatasetInfo dataset_info(hid_t dset);

/// Selects the flat (row-major) element range [first, first + count) of dataspace `space`, whose
/// extent is `shape`, as a union of at most 2 * rank hyperslab blocks (all of it for a scalar).
/// Used to read and to write a chunk of a tensor.
void select_flat_range(hid_t space, const Shape& shape, std::uint64_t first, std::uint64_t count);

/// Reads flat elements [first, first + count) of a dataset into dst as little-endian `dtype`.
void read_elements(hid_t dset, const DatasetInfo& info, std::uint64_t first, std::uint64_t count,
                   void* dst);

}  // namespace keras64::detail::h5
