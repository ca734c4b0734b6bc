// Structure-preserving HDF5 output, shared by --to weights.h5, keras and legacy-h5.
//
// The writer copies the tree of the input's HDF5 file(s) (Plan::structure.native_files(); the
// shards of a sharded save are merged) into a new file through H5TreeCopy (h5_tree_copy.hpp):
// the input is read by keras64's own reader, libhdf5 only writes. Every group with its
// attributes, every dataset that is not in the plan unchanged or, for floats with
// Options::widen_unplanned, as float64, and, for every planned tensor, a new full-size dataset
// at the same path in PlannedTensor::dtype with the original's attributes. Planned tensors are
// matched to datasets by TensorInfo::dataset.
// The data then arrive tensor by tensor and are written, never held in memory, by one of three
// writers over the one HDF5 file: H5RawWriter, H5ChunkWriter or H5HyperslabWriter (below).
//
// dtypes on disk are what h5py writes for numpy: IEEE little-endian floats, little-endian
// integers, bool as an int8 enum {FALSE, TRUE}, bfloat16 as a 2-byte OPAQUE type plus the
// attribute dtype = "bfloat16" that Keras needs (and without that attribute for anything else).
// With compression, planned datasets of rank >= 1 and at least 4 KiB are chunked (about 1 MiB
// chunks) with the shuffle and deflate filters; scalars and smaller datasets stay contiguous (a
// chunk index costs more than deflate saves on them).
//
// Without compression (on a little-endian host) the planned datasets are contiguous with their
// space allocated at creation and no fill values written. When the first tensor arrives the
// structure is complete: the writer records every planned dataset's file offset, closes the HDF5
// file and writes the tensors' bytes itself (H5RawWriter), at those offsets, through a
// BufferedWriter - the same bounded page-cache window as every other sink. HDF5's own writes
// (H5Dwrite through the sec2 driver) leave the whole output dirty in the page cache and made a 1 GB
// conversion swing between 1.0 and 3.6 s on the reference VM (issue #6); this path is what makes
// the .weights.h5 output as steady as safetensors.
//
// With compression, chunks are shaped [1, ..., 1, c, d_j+1, ..., d_n-1] (at most 1 MiB), so
// each chunk is one flat range of the tensor: it is cut from the stream, shuffled and deflated
// to a zlib stream on worker threads (ChunkDeflater, ISA-L for levels 1-3, zlib for 4-9) and
// stored with H5Dwrite_chunk (H5ChunkWriter) - what HDF5's own filters would store, on every
// core. Only the small contiguous datasets go through H5Dwrite (H5HyperslabWriter).
//
// Float datasets that are not in the plan (Options::widen_unplanned: optimizer state when
// --include-optimizer does not list it, metric state) are widened to float64 while the structure
// is copied: read, widened and written through HDF5 in bounded pieces, contiguous, unfiltered.
// File types, attributes and property lists come from h5_write.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/h5.hpp"
#include "detail/hdf5/reader.hpp"
#include "keras64/sink.hpp"
#include "sinks/h5_chunk_writer.hpp"
#include "sinks/h5_hyperslab_writer.hpp"
#include "sinks/h5_raw_writer.hpp"

namespace keras64::detail {

class H5StructureWriter {
 public:
  struct Options {
    bool compress = false;
    int level = 1;         ///< deflate level 0-9 when compress (1-3 ISA-L, 4-9 zlib)
    unsigned threads = 0;  ///< compression threads when compress (0: one per core)
    /// Datasets not in the plan whose dtype is float16, bfloat16 or float32 (optimizer state
    /// left out of the plan, metric state, the inner optimizer of a LossScaleOptimizer) are
    /// stored as float64, values widened exactly, instead of copied: the file is then what
    /// Keras writes for the same model built at float64. False keeps them as they are (load
    /// --dtype model writes a model back at its own dtypes).
    bool widen_unplanned = false;
  };

  /// Creates `temp` (which must not exist) and copies the tree of the plan's
  /// structure.native_files() (the one call that makes them), creating every planned dataset.
  /// `shown` names the output in messages ("out.keras:model.weights.h5"). Error{unsupported} if
  /// the input has no HDF5 file, Error{mismatch} if a planned tensor has no dataset there or
  /// another shape.
  H5StructureWriter(const std::filesystem::path& temp, std::string shown, const Plan& plan,
                    const Options& options);
  ~H5StructureWriter();
  H5StructureWriter(const H5StructureWriter&) = delete;
  H5StructureWriter& operator=(const H5StructureWriter&) = delete;

  /// Replaces (or creates) the scalar string attribute `name` of the root group, keeping the
  /// string type (variable or fixed length, character set) of the attribute it replaces.
  /// Only before the first open().
  void set_root_string_attr(const std::string& name, const std::string& value);

  /// Tensor `index` of the plan starts / receives its next bytes / is complete.
  void open(std::size_t index);
  void append(const void* data, std::size_t n);
  /// Where the next at most n bytes may be put before append() (Sink::lend): raw mode only.
  std::span<unsigned char> lend(std::size_t n);
  void close_tensor();

  /// The CRC32C of tensor `index`'s bytes (as the sink computed them while they passed), for its
  /// dataset's "keras64.crc32c" attribute (a scalar uint32, created as 0 with the dataset so that
  /// writing the value later changes no layout). Call after close_tensor(); the values reach the
  /// file in close() (raw mode: HDF5 reopens the finished file for them) or at once.
  void record_crc32c(std::size_t index, std::uint32_t crc);

  /// Flushes and closes the file. Nothing may be called after but crc().
  void close();

  /// True when keras64 writes the data itself (no compression; see the file comment).
  bool raw() const { return raw_mode_; }
  /// Raw mode: completes the structure (no set_root_string_attr after) and returns the size of
  /// the finished file. Error{internal} in the other mode.
  std::uint64_t file_size();
  /// Raw mode, before the first open(): the file is to be written into `out` at offset `base`
  /// (the .keras sink's in-place zip member) instead of in place at the temporary path. Copies
  /// everything but the tensors' data there now; the tensors follow through open/append.
  /// `out_path` is the path errors from `out` name (replaced by the name shown).
  void embed(BufferedWriter& out, std::uint64_t base, const std::string& out_path);
  /// After close() of an embedded file: the CRC-32 of its bytes in order (the zip member's).
  std::uint32_t crc() const;

 private:
  [[noreturn]] void fail(const std::string& where) const;
  void create_planned(hdf5::Reader& r, const hdf5::Object& in, hid_t out_parent,
                      const std::string& name, std::size_t index);
  void seal();        // raw mode: learn the data offsets and close the HDF5 file
  void close_hdf5();  // H5Fclose, reporting a failure to write the last metadata
  void write_crc_attr(hid_t file, std::size_t index);
  void write_crc_attrs_raw();  // raw mode, after the data: reopen, write, close (and re-embed)

  std::filesystem::path temp_;
  std::string shown_;
  Options options_;
  const Plan* plan_ = nullptr;
  std::map<std::string, std::size_t> planned_;  // dataset path -> plan index
  std::vector<bool> created_;
  h5::Id file_;
  bool raw_mode_ = false;       // keras64 writes the uncompressed data itself (file comment)
  bool direct_chunks_ = false;  // keras64 cuts and deflates the chunks itself
  bool sealed_ = false;
  bool closed_ = false;
  std::vector<std::uint32_t> crc32c_;  // per plan index (record_crc32c)
  std::vector<Chunking> chunked_;      // per plan index; step 0: not cut by chunks_
  std::size_t current_ = 0;            // the tensor being written
  // The three ways the data are written (file comment), over one HDF5 file.
  std::optional<H5RawWriter> raw_;       // raw mode, once sealed
  std::optional<H5ChunkWriter> chunks_;  // compressed, chunked datasets
  H5HyperslabWriter slab_;               // everything else
};

/// The writer options for an HDF5 output (weights.h5, keras, legacy-h5) from the sink's:
/// compression, its threads, and SinkOptions::level (-1 gives 1, ISA-L's fast deflate; else
/// 0-9, or Error{invalid_argument} naming `format`). Defined in h5_file_sink.cpp.
H5StructureWriter::Options hdf5_writer_options(const SinkOptions& options, std::string_view format);

}  // namespace keras64::detail
