// Factories of the input formats (one .cpp each) and the registry that picks one by content.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "keras64/source.hpp"

namespace keras64::detail {

/// `.keras` zip archive (config.json + model.weights.h5).
std::unique_ptr<Source> open_keras3_zip(const std::filesystem::path& path, const OpenOptions& opts);
/// Keras 3 native weights in one HDF5 file (`.weights.h5`).
std::unique_ptr<Source> open_keras3_weights(const std::filesystem::path& path,
                                            const OpenOptions& opts);
/// Sharded Keras 3 weights: a `.weights.json` index and its shards.
std::unique_ptr<Source> open_keras3_sharded(const std::filesystem::path& path,
                                            const OpenOptions& opts);

/// Legacy HDF5 (Keras 1/2, tf.keras, Keras 3 legacy writer): full model (`model_weights/` +
/// `model_config`) or weights only (`layer_names` at the root).
std::unique_ptr<Source> open_legacy_h5(const std::filesystem::path& path, const OpenOptions& opts);

/// `.keras` archive written by tf.keras 2.13-2.15 (metadata.json keras_version 2.x), whose
/// model.weights.h5 follows tf.keras's object layout.
bool is_tfkeras_zip(const std::filesystem::path& path);
std::unique_ptr<Source> open_tfkeras_zip(const std::filesystem::path& path,
                                         const OpenOptions& opts);

/// Directory of .npy files: keras64's --to npy output, or np.save per tensor (npy_dir_source.cpp).
bool probe_npy_dir(const std::filesystem::path& dir);
std::unique_ptr<Source> open_npy_dir(const std::filesystem::path& path, const OpenOptions& opts);
/// Directory of raw .dat files: --to memmap output, or tofile() per tensor (memmap_source.cpp).
bool probe_memmap_dir(const std::filesystem::path& dir);
std::unique_ptr<Source> open_memmap_dir(const std::filesystem::path& path, const OpenOptions& opts);
/// .npz: --to npz / npz-deflate output, np.savez, np.savez_compressed (npz_source.cpp).
struct Sniff;
bool probe_npz(const Sniff& s);
std::unique_ptr<Source> open_npz(const std::filesystem::path& path, const OpenOptions& opts);
/// .safetensors (safetensors_source.cpp).
bool probe_safetensors(const Sniff& s);
std::unique_ptr<Source> open_safetensors(const std::filesystem::path& path,
                                         const OpenOptions& opts);

/// TensorFlow checkpoint or SavedModel (tf_checkpoint_source.cpp): a bundle prefix, its
/// `.index`, a folder with a `checkpoint` state file, or a SavedModel directory.
bool probe_tf_checkpoint(const Sniff& s);
std::unique_ptr<Source> open_tf_checkpoint(const std::filesystem::path& path,
                                           const OpenOptions& opts);

}  // namespace keras64::detail
