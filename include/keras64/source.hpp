// keras64/source.hpp - where tensors come from.
//
// A Source is one opened input: a Keras file of any generation, or one of keras64's own outputs.
// It lists every tensor before any data is read (so sinks can lay out their files first) and then
// reads any element range of any tensor into a caller-owned buffer, in the tensor's stored dtype,
// little-endian, C order. One class per input format lives in src/sources/; open_source() picks
// the class from the file's bytes, never from its name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/tensor.hpp"

namespace keras64 {

/// An entry of the input that is listed but never converted (TensorFlow checkpoints: strings,
/// resources, variants, Keras metric state, optimizer state without --include-optimizer).
struct SkippedEntry {
  std::string key;  ///< its name or key in the file
  std::string why;  ///< "DT_STRING", "Keras metric state", ...
};

/// What kind of input a source was opened from. Sinks and load_into() decide by it; its stable
/// name (kind_name()) is what manifests, --json, safetensors metadata and Python show.
enum class SourceKind : std::uint8_t {
  unknown,            ///< "unknown": not filled in (a default-constructed SourceInfo)
  keras3,             ///< "keras3": a Keras 3 `.keras` archive
  keras3_weights,     ///< "keras3-weights": a Keras 3 `.weights.h5`
  keras3_sharded,     ///< "keras3-sharded": a sharded `.weights.json` index and its shards
  tfkeras,            ///< "tfkeras": a `.keras` archive written by tf.keras 2.13+
  legacy_h5,          ///< "legacy-h5": a full-model legacy `.h5`
  legacy_weights_h5,  ///< "legacy-weights-h5": a weights-only legacy `.h5`
  npy_dir,            ///< "npy-dir": a directory of `.npy` files
  npz,                ///< "npz"
  memmap_dir,         ///< "memmap-dir": a directory of raw `.dat` files
  safetensors,        ///< "safetensors"
  tf_checkpoint,      ///< "tf-checkpoint": a TensorFlow checkpoint (TensorBundle)
  tf_savedmodel,      ///< "tf-savedmodel": a TensorFlow SavedModel directory
  python,             ///< "python": arrays handed to the Python module's save()
};

/// The stable name of `kind` ("keras3", "legacy-weights-h5", "tf-savedmodel", ...).
std::string_view kind_name(SourceKind kind) noexcept;
/// The kind whose kind_name() is `name`, or nullopt.
std::optional<SourceKind> source_kind(std::string_view name) noexcept;
/// Whether `kind` holds its weights in Keras 3's layout (a `.weights.h5` tree of
/// `layers/<name>/vars/<i>`, alone, sharded or inside a `.keras` archive): keras3,
/// keras3_weights, keras3_sharded, and tfkeras (tf.keras 2.13+ writes the same `.keras` format).
/// The weights.h5 and keras outputs need such an input.
bool keras3_layout(SourceKind kind) noexcept;

/// What a source was opened from.
struct SourceInfo {
  std::string file;  ///< the path given by the user
  SourceKind kind = SourceKind::unknown;
  std::string keras_version;  ///< as recorded in the file, or empty
  std::string model_name;     ///< the model's name when known, or empty
  /// True when the order of tensors() is known to be model.get_weights() order (the architecture
  /// was available and every layer class is understood). False means file order is used; `note`
  /// then says why, and front ends must show it.
  bool order_exact = false;
  std::string note;
  /// What would make the order exact, for front ends to word: Hint::model when the model's
  /// architecture (OpenOptions::model) would give get_weights() order. The note names no option.
  Hint order_hint = Hint::none;
  /// Entries of the input that tensors() leaves out, in file order (empty for most formats).
  std::vector<SkippedEntry> skipped;
};

/// One HDF5 file of a source's own structure (see SourceStructure::h5_files).
struct NativeFile {
  /// The file on disk; valid for the Source's life. Open it read-only. For a `.keras` archive
  /// whose `model.weights.h5` is stored (as Keras writes it) this is the archive, and the HDF5
  /// file is the byte range below; a deflated member is extracted to a temporary file.
  std::filesystem::path path;
  /// How TensorInfo::file names it: "model.keras:model.weights.h5", "x_00001.weights.h5", ...
  std::string label;
  /// Its name as the input refers to it: the zip member ("model.weights.h5"), the shard file name
  /// as written in the sharded index, or the file's own name.
  std::string name;
  /// When size > 0, the HDF5 file is bytes [offset, offset + size) of `path` (open it with
  /// detail::h5::open_member); otherwise all of `path`.
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// What the outputs that keep an input's structure (--to keras, weights.h5, legacy-h5,
/// tf-checkpoint) take from the input besides its tensors. A source describes it
/// (Source::structure()) and the converter hands it to the sink as a value in the Plan, so no
/// sink needs the Source or has to find the input again. Paths, and the h5_files function, stay
/// valid for the Source's life.
struct SourceStructure {
  /// The HDF5 file(s) whose tree holds the tensors (Keras 3 native weights, every shard of a
  /// sharded save in index order, a legacy .h5, a tf-keras SavedModel's skeleton), whose groups,
  /// attributes and unplanned datasets are copied. TensorInfo::dataset is a tensor's path in them.
  /// A function, called through native_files() only by the sinks that copy the tree: a tf-keras
  /// SavedModel writes its skeleton (a small temporary HDF5 file) on the first call, so a plan
  /// for any other output makes no file. Empty when the input has no HDF5 structure.
  std::function<std::vector<NativeFile>()> h5_files;
  /// The model's Keras config (config.json, a legacy model_config, the --model archive's, a
  /// tf-keras SavedModel's), which the sinks rewrite to float64 policies; or empty.
  std::string config;
  /// A `.keras` input: the archive and its member names in archive order (config.json and
  /// model.weights.h5 included); --to keras carries the others over. Empty for other inputs.
  std::filesystem::path archive;
  std::vector<std::string> archive_members;
  /// A TensorFlow input: the TensorBundle prefix (`dir/ckpt-1`, `saved/variables/variables`)
  /// whose entries --to tf-checkpoint rewrites. Empty for other inputs.
  std::filesystem::path tf_bundle;

  /// The files of h5_files (written first where the source makes them), or none. Throws what
  /// the source throws making them.
  std::vector<NativeFile> native_files() const {
    return h5_files ? h5_files() : std::vector<NativeFile>{};
  }
};

/// Where a tensor's bytes lie verbatim in an ordinary file (see Source::extent()).
struct FileExtent {
  std::filesystem::path path;
  std::uint64_t offset = 0;  ///< first byte of the data in `path`
  std::uint64_t nbytes = 0;  ///< TensorInfo::nbytes()
};

/// A checksum that a file records for one tensor's data (see keras64/verify.hpp).
struct TensorChecksum {
  /// "crc32c": keras64's CRC32C of the bytes read() returns (the tensor's bytes as written,
  /// little-endian), in `value`. "fletcher32": HDF5's filter on the dataset's chunks, which HDF5
  /// itself checks as read() reads them (`value` unused). "tf-crc32c": TensorFlow's CRC32C of a
  /// checkpoint entry's stored bytes (one per slice of a partitioned tensor), which read()
  /// checks as the bytes pass.
  std::string kind;
  std::uint32_t value = 0;
  /// Where the file records it, for messages: "w/manifest.json", "w.safetensors:__metadata__",
  /// "out.keras:model.weights.h5:/layers/dense/vars/0".
  std::string recorded_in;
};

/// Options for opening a source.
struct OpenOptions {
  /// A `.keras` file of the same model, giving the architecture to a bare weights file
  /// (`.weights.h5`, sharded index, legacy weights-only `.h5`). Empty: none.
  std::filesystem::path model;
  /// List optimizer variables (after the model's, in optimizer order).
  bool include_optimizer = false;
  /// Shapes for an input that records none: a bare directory of raw weight_{i}.dat files (the
  /// numpy recipe's `w.astype(np.float64).tofile(f"weight_{i}.dat")`). File i takes the shape of
  /// expected[i]; its dtype is float64 when its size says so, else expected[i]'s dtype, else the
  /// open fails with Error{mismatch}. load_into() and diff() fill it from the model (names are
  /// ignored). When empty, `model` is opened for the shapes; with neither, such a directory is
  /// refused (Error{invalid_argument}).
  std::vector<TensorInfo> expected;
};

class Source {
 public:
  virtual ~Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  virtual const SourceInfo& info() const = 0;
  /// Every tensor, in get_weights() order when info().order_exact. Fixed for the Source's life.
  virtual const std::vector<TensorInfo>& tensors() const = 0;

  /// Reads elements [first, first + count) of tensor `index` (row-major flat positions) into
  /// `dst`, which must hold count * info(dtype).size bytes. Bytes are little-endian in the
  /// tensor's stored dtype. Throws Error naming the tensor (TensorInfo::where()) on failure.
  virtual void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) = 0;

  /// Verifies the checksums over this source's bytes that could not be checked as they passed
  /// through read(): the CRC-32 of zip members read in place (`model.weights.h5` stored in a
  /// `.keras`, stored `.npz` members), which are read at random. Throws Error{corrupt}
  /// "<archive>:<member>: CRC-32 mismatch: ..." naming the first damaged member. Checksums over
  /// bytes read as a stream (JSON members, deflated members) are checked by read() itself when
  /// the stream ends. The pass starts in the background at the first read(), so this mostly waits
  /// for it; called without any read() it makes the pass itself. convert() calls it after the
  /// last tensor and before the sink commits (a damaged input then leaves no output); a caller
  /// that read()s tensors itself must call it before trusting them. A source with nothing to
  /// check returns at once.
  virtual void verify_checksums() {}

  /// Where tensor `index` is stored verbatim - its nbytes() bytes, little-endian in its stored
  /// dtype, C order, uncompressed - in an ordinary file that may be memory-mapped read-only, or
  /// nothing when it is not stored so (inside an archive or HDF5 file, compressed, byte-swapped).
  /// The extent lies within the file (checked at open). Python's `load(mmap=True)` maps these.
  virtual std::optional<FileExtent> extent(std::size_t index) const {
    (void)index;
    return std::nullopt;
  }

  /// The checksums the file records for each tensor: one (possibly empty) list per tensor, in
  /// tensors() order, or an empty vector when the format records none. Read from the file when
  /// called (nothing is read at open for it). Zip CRC-32s are not listed: they cover members,
  /// not tensors (verify() checks them).
  virtual std::vector<std::vector<TensorChecksum>> tensor_checksums() const { return {}; }

  /// What structure-preserving outputs copy from this input (see SourceStructure); empty for
  /// formats that have none (npz, safetensors, npy and memmap directories). Cheap: files that
  /// must first be written (a tf-keras SavedModel's HDF5 skeleton) are written only when a sink
  /// calls SourceStructure::native_files().
  virtual SourceStructure structure() const { return {}; }

 protected:
  Source() = default;
};

/// Opens `path`, detecting its format from its bytes (zip, HDF5, npy/npz, safetensors, a
/// directory with manifest.json, a sharded `.weights.json` index, a TensorFlow checkpoint prefix,
/// `.index` file, folder with a `checkpoint` state file, or SavedModel directory). Throws Error{io}
/// if it cannot be read, Error{corrupt} if it is damaged, Error{unsupported} if it is no format
/// keras64 reads.
std::unique_ptr<Source> open_source(const std::filesystem::path& path,
                                    const OpenOptions& opts = {});

}  // namespace keras64
