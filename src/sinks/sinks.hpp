// The output formats, one factory per format. Each is implemented in its own file of this
// directory and listed once in registry.cpp, which is all a new format needs.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "keras64/sink.hpp"

namespace keras64::detail {

/// Makes a sink writing to `path`. Throws what open_sink() documents (an existing output
/// without force, a missing parent directory, a bad option value).
using SinkFactory = std::unique_ptr<Sink> (*)(const std::filesystem::path& path,
                                              const SinkOptions& options);

struct SinkFormat {
  std::string_view name;         ///< what --to takes
  std::string_view description;  ///< one line, for --help
  SinkFactory make;
};

/// Every output format, in the order --help lists them.
std::span<const SinkFormat> sink_table();

/// --to npy: directory of weight_{i}.npy + manifest.json (npy_dir_sink.cpp).
std::unique_ptr<Sink> make_npy_dir_sink(const std::filesystem::path&, const SinkOptions&);
/// --to npz: stored ZIP of weight_{i}.npy, like np.savez (npz_sink.cpp).
std::unique_ptr<Sink> make_npz_sink(const std::filesystem::path&, const SinkOptions&);
/// --to npz-deflate: deflated ZIP, like np.savez_compressed; honours level/threads (npz_sink.cpp).
std::unique_ptr<Sink> make_npz_deflate_sink(const std::filesystem::path&, const SinkOptions&);
/// --to memmap: directory of raw weight_{i}.dat + manifest.json (memmap_sink.cpp).
std::unique_ptr<Sink> make_memmap_sink(const std::filesystem::path&, const SinkOptions&);

}  // namespace keras64::detail
