// keras64/verify.hpp - checking a file against the checksums it carries.
//
// verify() reads every tensor of any file keras64 reads and checks it against each checksum the
// file records (Source::tensor_checksums()), then, for a zip archive (.keras, .npz), the CRC-32
// of every member. What is checked, per checksum kind:
//
//   "crc32c"      keras64's CRC32C of each tensor's bytes as written (little-endian): the
//                 "crc32c" field of manifest.json (npy, memmap directories), the "keras64.crc32c"
//                 list in a safetensors __metadata__, the "keras64.crc32c" uint32 attribute of
//                 the datasets of weights.h5 / keras / legacy-h5 outputs
//   "fletcher32"  HDF5's fletcher32 filter, which HDF5 checks as each chunk is read
//   "tf-crc32c"   TensorFlow's masked CRC32C of every checkpoint entry (each slice of a
//                 partitioned variable), checked as the entry's bytes are read; table block
//                 CRCs are checked when the checkpoint is opened
//   "zip-crc32"   the CRC-32 of every member of a zip archive (config.json, model.weights.h5,
//                 assets, npz members), stored or deflated
//
// Extension point: a source that knows another per-tensor checksum lists it in
// tensor_checksums() with its own kind, and verify.cpp's `computed()` learns to compute it
// (issue #14: TensorFlow checkpoints record a masked CRC32C per tensor).
//
// Files that carry no checksum at all (a .weights.h5 or legacy .h5 saved by Keras, a directory of
// np.save files, a safetensors file from another writer) are not an error: the report says so
// (VerifyReport::checked() is false) and the CLI exits 0 with "no checksums to verify". Bytes no
// checksum covers cannot be verified by anyone; docs/reliability.md lists which formats those are.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "keras64/convert.hpp"
#include "keras64/source.hpp"

namespace keras64 {

struct VerifyOptions {
  /// Bytes read per step; memory use is one buffer of this size.
  std::size_t chunk_bytes = std::size_t{2} << 20;
  /// Called after every chunk of tensor data checked (bytes of tensors with a checksum).
  std::function<void(const Progress&)> on_progress;
  /// When set and true, verify() stops with Error{interrupted}.
  const std::atomic<bool>* cancel = nullptr;
};

struct VerifyReport {
  SourceInfo source;
  std::size_t tensors = 0;          ///< tensors in the file, optimizer variables included
  std::size_t tensors_checked = 0;  ///< of which covered by at least one checksum
  std::uint64_t bytes_checked = 0;  ///< tensor bytes read and checked against a per-tensor sum
  std::size_t zip_members = 0;      ///< zip members whose CRC-32 was checked
  std::uint64_t zip_bytes = 0;      ///< their uncompressed bytes
  /// The checksum kinds found and checked, in the order above ("crc32c", "fletcher32",
  /// "tf-crc32c", "zip-crc32").
  std::vector<std::string> kinds;
  /// Tensors no checksum covers (by name): their bytes could not be verified.
  std::vector<std::string> unchecked;
  /// False when the file carries no checksum at all ("no checksums to verify").
  bool checked() const { return !kinds.empty(); }
};

/// Verifies `path` (any input keras64 reads; format from its bytes). Returns the report when
/// every checksum matches. Throws Error{corrupt} naming the first damaged tensor
/// ("<file>[:<dataset>]: tensor <i> '<name>': CRC32C mismatch: computed 0x..., <where> records
/// 0x...") or zip member ("<archive>:<member>: CRC-32 mismatch: ..."), and the errors of
/// open_source() for files that cannot be read at all. Per-tensor checksums are checked first,
/// so damage inside a tensor of a .keras written by keras64 names the tensor, not only the member.
VerifyReport verify(const std::filesystem::path& path, const VerifyOptions& options = {});

}  // namespace keras64
