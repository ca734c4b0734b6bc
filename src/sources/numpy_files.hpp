// Pieces shared by the sources of keras64's own outputs and of the classic numpy recipe's files
// (npy directory, npz, memmap directory): reading manifest.json back, finding numbered
// weight_{i} files, and turning stored bytes (maybe big-endian) into the little-endian form every
// Source returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "keras64/source.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail {

/// One "tensors" entry of a keras64 manifest.json (detail/manifest.hpp has the schema).
struct ManifestEntry {
  TensorInfo tensor;  ///< name, layer, keras_path, role, dtype (of the data in the file), shape
  std::string file;   ///< relative to the directory
  std::uint64_t offset = 0;
  std::uint64_t nbytes = 0;
  std::optional<std::uint32_t> crc32c;  ///< of the data, when recorded (manifests since #13)
};

struct ManifestData {
  std::string format;  ///< output.format: "npy", "memmap"
  SourceInfo source;   ///< source.kind/keras_version/order_exact/note as recorded
  std::vector<ManifestEntry> tensors;
};

/// Parses `dir`/manifest.json. Error{corrupt} "<dir>/manifest.json: ..." for anything that does
/// not follow the schema (unknown dtype, missing field, a file name escaping the directory).
ManifestData read_manifest(const std::filesystem::path& dir);

/// The "crc32c" of each manifest entry as Source::tensor_checksums() gives them (empty when no
/// entry records one).
std::vector<std::vector<TensorChecksum>> manifest_checksums(const ManifestData& m,
                                                            const std::filesystem::path& dir);

/// True if `dir` holds a keras64 manifest.json whose output.format is `format` (cheap check on
/// the text; read_manifest() validates).
bool has_manifest(const std::filesystem::path& dir, const std::string& format);

/// The files `dir`/weight_{i}`ext` for i = 0..n-1. Error{corrupt} when the numbering has a gap
/// ("weight_2.npy is missing, weight_3.npy exists"); an empty vector if there is none.
std::vector<std::filesystem::path> numbered_files(const std::filesystem::path& dir,
                                                  const std::string& ext);

/// The note every classic (manifest-less) input carries.
inline constexpr const char* kClassicOrderNote =
    "classic numpy files: order is weight_{i} / arr_{i} numbering";

/// Reverses the byte order of `count` elements of `size` bytes at `data`, in place.
void byteswap(void* data, std::size_t count, std::size_t size) noexcept;

/// Checks a parsed .npy header is one keras64 reads. Fortran-order arrays are refused with
/// Error{unsupported} (see docs/design.md: reading them in C order would need a transpose that
/// does not stream); `where` prefixes the message.
void require_c_order(bool fortran_order, const ErrorContext& where);

/// A Source whose tensors each live in a file of their own at a byte offset (the npy and memmap
/// directories): it answers everything a Source is asked; the derived constructor only finds the
/// files, with read_own_manifest() and add(). The last file read stays open, since converters
/// read tensor by tensor; big-endian data is swapped to little-endian.
class PerFileSource : public Source {
 public:
  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override { return checksums_; }
  /// The tensor's file from its offset on, unless its bytes are swapped on reading.
  std::optional<FileExtent> extent(std::size_t index) const override;
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override;

 protected:
  PerFileSource(const std::filesystem::path& dir, SourceKind kind);
  /// The directory's manifest.json, read with read_manifest() and checked to be of output format
  /// `format` (Error{corrupt} otherwise); its recorded source fields and checksums are taken
  /// over. nullopt when there is no manifest.json: classic numpy files, and the note says so.
  std::optional<ManifestData> read_own_manifest(const std::string& format);
  /// Appends tensor `t`, whose data is in t.file from byte `offset`.
  void add(TensorInfo t, std::uint64_t offset, bool big_endian = false);

 private:
  std::filesystem::path dir_;
  SourceInfo info_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::vector<TensorChecksum>> checksums_;
  std::vector<std::uint64_t> offsets_;
  std::vector<bool> swap_;
  File file_;
  std::size_t open_index_ = static_cast<std::size_t>(-1);
};

}  // namespace keras64::detail
