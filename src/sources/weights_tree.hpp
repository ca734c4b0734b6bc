// The datasets and groups of one Keras 3 native weights layout, gathered from one HDF5 file
// (`.weights.h5`, or `model.weights.h5` inside a `.keras`) or from every shard of a sharded save.
//
// Keras shards split a layout over several files, even one vars group over two; the tree is
// their union, keyed by the dataset's path inside the layout ("layers/dense/vars/0"), so the
// layout walk and the reader never need to know which file a dataset sits in.
//
// Files are read with keras64's own HDF5 reader (detail/hdf5/reader.hpp), never libhdf5.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "detail/hdf5/reader.hpp"
#include "keras64/source.hpp"

namespace keras64::detail {

struct DatasetRef {
  std::size_t file = 0;  ///< index into the tree's files
  std::string path;      ///< path inside the layout, no leading '/'
  hdf5::DatasetInfo info;
  hdf5::Dataset dataset;  ///< what the reader needs to read it
  hdf5::Object object;    ///< its object header (attributes)
};

class WeightsTree {
 public:
  /// Opens `disk_path` as HDF5 and adds every group and dataset in it. `where` names the file in
  /// errors ({"model.keras", "model.weights.h5"}, {"model_00001.weights.h5"}). A dataset present
  /// in two files is Error{corrupt}.
  void add_file(const ErrorContext& where, const std::string& disk_path);
  /// Adds an HDF5 file stored as bytes [offset, offset + size) of `archive` (a stored zip member),
  /// read in place: no temporary copy.
  void add_member(const ErrorContext& where, const std::string& archive, std::uint64_t offset,
                  std::uint64_t size);

  bool has_group(const std::string& path) const { return groups_.count(path) > 0; }
  const DatasetRef* dataset(const std::string& path) const;
  /// Immediate subgroups / datasets of a group ("" is the root), by name (HDF5 order).
  std::vector<std::string> subgroups(const std::string& path) const;
  std::vector<std::string> datasets(const std::string& path) const;
  const std::map<std::string, DatasetRef>& all_datasets() const { return datasets_; }

  /// How messages name one file: "model.keras:model.weights.h5".
  const std::string& label(std::size_t file) const { return files_[file]->label; }
  /// The context of one file's errors (file and member).
  const ErrorContext& where(std::size_t file) const { return files_[file]->h5.where(); }
  /// The context of errors about the object at `path` (no leading '/') of one file.
  ErrorContext at(std::size_t file, const std::string& path) const {
    return {where(file).file, where(file).member, "/" + path};
  }
  std::size_t file_count() const { return files_.size(); }
  /// The reader of one file, for its attributes.
  hdf5::Reader& reader(std::size_t file) { return files_[file]->h5; }
  /// The group at `path` ("" is the root) of one file; Error{corrupt} naming it if it is not one.
  hdf5::Object group(std::size_t file, const std::string& path);

  /// Source::tensor_checksums() for the datasets `refs`: keras64's "keras64.crc32c" attribute
  /// and the fletcher32 filter, where present (empty when no dataset has either).
  std::vector<std::vector<TensorChecksum>> checksums(
      const std::vector<const DatasetRef*>& refs) const;

  /// Reads elements [first, first + count) of `ref` as little-endian bytes of its dtype. Contiguous
  /// unfiltered little-endian datasets are read with pread at their file offset; everything else
  /// is decoded by the reader (chunked, compressed, compact, big-endian).
  void read(const DatasetRef& ref, std::uint64_t first, std::uint64_t count, void* dst);

 private:
  struct OpenFile {
    std::string label;
    hdf5::Reader h5;
  };
  void add_open(std::unique_ptr<OpenFile> f);
  void scan(std::size_t file, const hdf5::Object& group, const std::string& prefix);

  std::vector<std::unique_ptr<OpenFile>> files_;
  std::set<std::string> groups_;
  std::map<std::string, DatasetRef> datasets_;
};

}  // namespace keras64::detail
