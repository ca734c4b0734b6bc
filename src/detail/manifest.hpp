// manifest.json: what a directory output (npy, memmap) holds, so that scripts need not guess.
//
//   {"format": "keras64", "version": 1,
//    "source": {"file", "kind", "keras_version", "order_exact", "note"},
//    "output": {"format": "npy"[, "note": "..."]},
//    "tensors": [{"index", "name", "layer", "keras_path", "role", "file", "dtype",
//                 "source_dtype", "shape", "byte_order", "offset", "nbytes", "crc32c"[, "key"]},
//                ...]}
//
// "tensors" is in plan (get_weights()) order; "index" is the position and the {i} of the file
// names. "dtype" is the numpy name of what the file holds ("float64"; "bfloat16" for bfloat16
// stored as "<u2" bit patterns); "offset" is where the data starts in "file" (the header size
// of a .npy, 0 for a raw .dat); "nbytes" is the size of the data. All data is little-endian.
// "crc32c" is the CRC32C of those nbytes (8 lower-case hex digits; `keras64 verify` checks it).
// "key" (TensorFlow inputs only) is the tensor's checkpoint key (TensorInfo::key).
// The file is written one tensor per line, so it diffs and greps well.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keras64/sink.hpp"

namespace keras64::detail {

/// Where one planned tensor's data lives in a directory output.
struct ManifestFile {
  std::string file;          ///< name relative to the directory ("weight_0.npy")
  std::uint64_t offset = 0;  ///< byte offset of the data in that file
  std::uint32_t crc32c = 0;  ///< CRC32C of the data (detail/crc32c.hpp)
};

/// Version of the manifest schema written (the "version" field).
inline constexpr int kManifestVersion = 1;

/// The manifest.json text (UTF-8, ending in '\n') for `plan` written as `output_format` ("npy",
/// "memmap"). `files` has one entry per planned tensor (Error{internal} otherwise). A non-empty
/// `note` becomes "output.note". Invalid UTF-8 in names is replaced by U+FFFD, never an error.
std::string make_manifest(const Plan& plan, std::string_view output_format,
                          const std::vector<ManifestFile>& files, std::string_view note = {});

}  // namespace keras64::detail
