// The output formats, one factory per format. Each is implemented in its own file of this
// directory and listed once in registry.cpp, which is all a new format needs.
#pragma once

#include <filesystem>
#include <initializer_list>
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

/// --to weights.h5: Keras 3 .weights.h5, structure-preserving, float64 (h5_file_sink.cpp).
std::unique_ptr<Sink> make_weights_h5_sink(const std::filesystem::path&, const SinkOptions&);
/// --to keras: .keras with float64 weights and float64 policies in config.json (keras_sink.cpp).
std::unique_ptr<Sink> make_keras_sink(const std::filesystem::path&, const SinkOptions&);
/// --to legacy-h5: legacy .h5 in, legacy .h5 out, float64 (h5_file_sink.cpp).
std::unique_ptr<Sink> make_legacy_h5_sink(const std::filesystem::path&, const SinkOptions&);
/// --to safetensors: F64 tensors by name in plan order, streamed (safetensors_sink.cpp).
std::unique_ptr<Sink> make_safetensors_sink(const std::filesystem::path&, const SinkOptions&);
/// --to tf-checkpoint: TensorBundle PREFIX.index + PREFIX.data-00000-of-00001 from a TF input,
/// float entries as DT_DOUBLE, everything else kept (tf_checkpoint_sink.cpp).
std::unique_ptr<Sink> make_tf_checkpoint_sink(const std::filesystem::path&, const SinkOptions&);

/// Error{unsupported} unless plan.source.kind is one of `kinds`; `instead` says what --to
/// `format` needs (h5_file_sink.cpp).
void require_source_kind(const Plan& plan, std::initializer_list<SourceKind> kinds,
                         std::string_view format, std::string_view instead);
/// The same for the kinds `accepts` (keras3_layout) returns true for.
void require_source_kind(const Plan& plan, bool (*accepts)(SourceKind) noexcept,
                         std::string_view format, std::string_view instead);

}  // namespace keras64::detail
