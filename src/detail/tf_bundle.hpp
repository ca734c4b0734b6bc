// A TensorFlow TensorBundle: `PREFIX.index` (a table of BundleEntryProto, see tf_table.hpp) and
// its data shards `PREFIX.data-%05d-of-%05d` (tensorflow/core/util/tensor_bundle/tensor_bundle.cc;
// the project brief's shared tf-checkpoint-format.md §3-§6).
//
// Opening decodes and checks every entry: the header (empty key, first) gives the shard count
// and byte order; each entry's dtype, shape, shard, offset and size are checked against the
// shard files' sizes and against each other (fixed-width: size == elements * dtype size);
// partitioned tensors' slice entries are found by their encoded keys. Data is read with pread,
// once: each entry's masked CRC32C is checked over its stored bytes as they pass (see read()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail::tf {

/// TensorFlow DataType values (tensorflow/core/framework/types.proto) keras64 cares about.
enum TfType : int {
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kInt64 = 9,
  kBool = 10,
  kBfloat16 = 14,
  kUint16 = 17,
  kHalf = 19,
  kResource = 20,
  kVariant = 21,
  kUint32 = 22,
  kUint64 = 23,
};

/// keras64's dtype for a TF DataType; nullopt for strings, variants, resources, complex,
/// quantized and float8 types (listed as skipped by the checkpoint source).
std::optional<DType> to_dtype(int tf_type) noexcept;
/// "DT_FLOAT", "DT_STRING", "DT_<n>" for unknown values.
std::string tf_type_name(int tf_type);

/// One extent of a slice: start and length along one dimension (length -1: the whole dimension).
struct Extent {
  std::int64_t start = 0;
  std::int64_t length = -1;
};

/// One decoded index entry.
struct BundleEntry {
  std::string key;
  int dtype = 0;
  Shape shape;
  std::uint32_t shard = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;  ///< unmasked CRC32C of the stored bytes
  /// Partitioned tensor: the slices stored (each an entry of its own, see slice_entries); this
  /// entry then has no data.
  std::vector<std::vector<Extent>> slices;
  std::vector<std::size_t> slice_entries;  ///< index into Bundle::entries() of each slice
  bool is_slice = false;                   ///< a slice entry (key from EncodeTensorNameSlice)
  /// How messages name a slice entry, whose key is binary: "embed[0:3, :]"; empty otherwise.
  std::string slice_name;
};

/// Where elements of a partitioned tensor are: element `first` of the full tensor (row-major) is
/// element `at` of slice `slice` (row-major over the slice's own shape), and the `length` elements
/// from there (at most `count`, at least 1) follow each other in both - as long as the slice and
/// the tensor are both contiguous: along the innermost axis the slice does not cover whole, and
/// every axis inside it. Error{corrupt} "<key>: no slice holds element <n>" if none does (Bundle
/// has checked that the slices tile the tensor).
struct SliceRun {
  std::size_t slice = 0;
  std::uint64_t at = 0, length = 0;
};
SliceRun slice_run(const BundleEntry& e, std::uint64_t first, std::uint64_t count);

/// The key TF stores a slice of tensor `name` under (saved_tensor_slice_util.cc,
/// EncodeTensorNameSlice, OrderedCode encoding).
std::string encode_slice_key(const std::string& name, const std::vector<Extent>& extents);

class Bundle {
 public:
  /// Opens PREFIX.index and its shards. `label` is how messages name the bundle (the path the
  /// user gave). Throws Error{io} / Error{corrupt} with the label as prefix.
  Bundle(const std::filesystem::path& prefix, std::string label);

  const std::string& label() const { return label_; }
  /// Where an entry is, for errors: the bundle's label and the entry's key (or slice name).
  ErrorContext where(const BundleEntry& e) const;
  const std::vector<BundleEntry>& entries() const { return entries_; }
  const BundleEntry* find(const std::string& key) const;
  bool big_endian() const { return big_endian_; }
  std::uint32_t num_shards() const { return static_cast<std::uint32_t>(shards_.size()); }

  /// Reads bytes [first, first + n) of a (fixed-width, unsliced) entry's stored data into dst,
  /// as stored (the caller swaps big-endian bundles). Read in order (each call starting where
  /// the last ended), the entry is read once: its CRC is extended over the bytes as they pass and
  /// checked in the call that reads its last byte, which throws Error{corrupt} naming the entry
  /// on a mismatch - after the entry's earlier bytes were returned, so callers must not commit
  /// anything before that call (or verify()) returned. A read out of order verifies the whole
  /// entry first.
  void read(std::size_t entry, std::uint64_t first, std::uint64_t n, void* dst);

  /// Checks an unsliced entry's CRC over its stored bytes unless that was done (once per entry);
  /// Error{corrupt} naming the entry on a mismatch. Sources call it for entries they do not
  /// convert, and for entries not read to their end.
  void verify(std::size_t entry);

  /// The strings of a DT_STRING entry (CRC and the lengths' CRC checked); at most `max_bytes`.
  std::vector<std::string> read_strings(std::size_t entry, std::uint64_t max_bytes);

 private:
  std::string label_;
  bool big_endian_ = false;
  std::vector<File> shards_;
  std::vector<std::uint64_t> shard_sizes_;
  std::vector<BundleEntry> entries_;
  std::map<std::string, std::size_t> by_key_;
  std::vector<bool> verified_;
  std::vector<std::uint64_t> streamed_;  ///< bytes read in order from the start, CRC'd
  std::vector<std::uint32_t> running_;   ///< their CRC32C
  std::vector<char> buf_;
};

}  // namespace keras64::detail::tf
