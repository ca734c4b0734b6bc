// keras64's own HDF5 reader: the read side of every HDF5 input, without libhdf5.
//
// It understands exactly the subset of the HDF5 file format that Keras, tf.keras, h5py and
// keras64 itself write (docs/hdf5-reader.md; survey in shared/hdf5-in-keras-files.md):
// superblocks v0-v3, object headers v1/v2, old-style, compact and dense groups, compact
// attributes, contiguous, compact and chunked (v1 B-tree) datasets with shuffle, deflate and
// fletcher32. Every address and length is checked against the file (or zip member) before use,
// every count is capped, every checksum verified, and the total work per file is bounded.
//
// Errors: damage is Error{corrupt} at {file, member, object path} "what"; a valid feature outside
// the subset is Error{unsupported} "unsupported HDF5 feature: X" at the same context.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/hdf5/links.hpp"
#include "detail/hdf5/messages.hpp"
#include "keras64/error.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail::hdf5 {

/// True if the file starts with the HDF5 signature at 0 or where a user block would put it
/// (512, 1024, ... up to 8 KiB): how inputs are recognised as HDF5 (a user block is then refused
/// by the Reader with a clear message).
bool has_signature(const std::string& path);

enum class Kind { group, dataset, other };

/// One object of the file, reached through links from the root (its path names it in errors).
struct Object {
  std::string path;  ///< "/" for the root, else "/a/b"
  std::uint64_t address = 0;
  Kind kind = Kind::other;
  std::shared_ptr<const ObjectHeader> header;
  std::vector<std::uint64_t> ancestors;  ///< object header addresses from the root down
};

/// What keras64 needs to know about a dataset to read it (as detail::h5::DatasetInfo).
struct DatasetInfo {
  DType dtype = DType::f32;
  Shape shape;
  bool big_endian = false;
  /// HDF5 address of the raw data when contiguous, allocated, unfiltered and little-endian:
  /// callers may pread it directly (at base() + address). nullopt otherwise.
  std::optional<std::uint64_t> raw_offset;
  /// A 2-byte opaque type taken as bfloat16 without a Keras `dtype` attribute saying so (legacy
  /// files): callers that know the architecture can confirm it.
  bool untagged_opaque = false;
};

/// A dataset ready to be read.
struct Dataset {
  std::string path;
  std::uint64_t address = 0;
  Datatype type;
  Dataspace space;
  Layout layout;
  std::vector<Filter> filters;
  std::vector<std::uint8_t> fill;  ///< fill value of unallocated chunks ("" = zeros)
  DatasetInfo info;
};

class Reader {
 public:
  /// Opens a whole file; `where` names it in errors ("model.h5", or the archive and member).
  Reader(const std::string& path, const ErrorContext& where);
  /// Opens bytes [offset, offset + size) of `path` (a stored zip member) as an HDF5 file.
  Reader(const std::string& path, std::uint64_t offset, std::uint64_t size,
         const ErrorContext& where);
  ~Reader();
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;

  const ErrorContext& where() const;
  /// Where HDF5 address 0 is in the underlying file (the member's offset, or 0).
  std::uint64_t base() const;
  /// The HDF5 file's size (its end-of-file address).
  std::uint64_t size() const;

  Object root();
  /// The object a link of `group` leads to. A link back to an ancestor is Error{corrupt}
  /// "group cycle"; deeper than 64 groups is Error{corrupt}.
  Object child(const Object& group, const Link& link);
  /// The object at an absolute or root-relative path ("a/b"), or nullopt if a component is
  /// missing or not a group.
  std::optional<Object> find(std::string_view path);

  /// A group's hard links in name order (libhdf5's H5Literate order by name).
  std::vector<Link> links(const Object& group);

  /// Every attribute of an object, in header order.
  std::vector<Attribute> attributes(const Object& obj);
  std::optional<Attribute> attribute(const Object& obj, std::string_view name);
  /// The elements of a string attribute (fixed-length: up to the first NUL; variable-length:
  /// from the global heap). A numeric attribute with no elements (Keras's empty weight_names)
  /// gives {}; any other non-string is Error{corrupt}.
  std::vector<std::string> strings(const Object& obj, const Attribute& a);
  /// A single-string attribute; nullopt if absent; Error{corrupt} if not one string.
  std::optional<std::string> string_attr(const Object& obj, std::string_view name);
  /// A string-array attribute (absent: Error{corrupt} "no attribute NAME").
  std::vector<std::string> string_array_attr(const Object& obj, std::string_view name);
  /// The elements of a numeric attribute as doubles (integers, floats, enums).
  std::vector<double> numbers(const Object& obj, const Attribute& a);

  /// The dataset's type, shape and storage. Types keras64 cannot convert are
  /// Error{unsupported} "unsupported dataset type: ..." (as with libhdf5).
  Dataset dataset(const Object& obj);
  /// Reads flat (row-major) elements [first, first + count) into dst as little-endian bytes of
  /// info.dtype. Chunked data is decoded chunk by chunk through a bounded cache (64 MiB).
  void read(const Dataset& d, std::uint64_t first, std::uint64_t count, void* dst);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace keras64::detail::hdf5
