// A `.keras` archive (Keras 3, or tf.keras 2.13+), opened and checked by one reader for every
// use: the Keras 3 and tf.keras sources (keras3_source.cpp, tfkeras_zip_source.cpp), the
// architecture of a bare weights file (`--model ARCH.keras`, keras3_source.cpp and
// legacy_h5_source.cpp). Layout: docs/keras-formats.md §1.
//
// One strictness rule, whatever the use (all Error{corrupt} unless said):
//  - the zip itself passes ZipReader's checks (directory, local headers, sizes within the file,
//    safe names, stored or deflated members);
//  - config.json, metadata.json and model.weights.h5 each appear at most once
//    ("<archive>:<name>: appears twice in the archive": zip readers disagree on which one wins);
//  - config.json is present ("<archive>: not a .keras archive: no config.json member"), at most
//    64 MiB, its CRC-32 right, and a JSON object ("<archive>:config.json: invalid JSON: ..." /
//    ": not a JSON object");
//  - metadata.json may be absent (Keras's loader does not read it); when present it is at most
//    1 MiB, its CRC-32 right, a JSON object whose keras_version, if any, is a string
//    ("<archive>:metadata.json: ...");
//  - model.weights.h5 is required by every use that reads weights (weights()); an archive
//    holding only an architecture (config.json) serves `--model` for a legacy weights-only .h5.
//    Its absence is "<archive>: not a .keras archive: no model.weights.h5 member", or
//    Error{unsupported} when Keras's npz weights store (model.weights.npz) is there instead.
//    Stored (as Keras writes it) it is read in place and its CRC-32 checked by a background pass
//    (ZipCrcCheck, verify_weights_crc()); deflated it is extracted, CRC checked, to a temporary
//    file;
//  - every other member (assets/..., anything else) is listed, not read: --to keras carries it
//    over, checking its CRC-32 as it is copied.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "detail/temp_file.hpp"
#include "detail/zip_crc_check.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/source.hpp"

namespace keras64::detail {

class WeightsTree;

// The implicit destructor destroys a nlohmann::json, whose destructor may allocate (it flattens
// nested values onto a std::vector); only std::bad_alloc can escape, ending the process anyway.
// NOLINTNEXTLINE(bugprone-exception-escape)
class KerasArchive {
 public:
  /// Opens `path` and checks it by the rule above; `path` as given names it in messages.
  explicit KerasArchive(const std::filesystem::path& path);

  const std::string& label() const { return label_; }
  const std::string& config_text() const { return config_text_; }
  const nlohmann::json& config() const { return config_; }
  /// metadata.json's keras_version, or "" (no metadata.json, no keras_version).
  const std::string& keras_version() const { return keras_version_; }
  /// The model's name (config.json's config.name), or "".
  std::string model_name() const;
  /// Every member name, in archive order.
  std::vector<std::string> member_names() const;

  /// The model.weights.h5 member; throws as the rule says when there is none.
  const ZipEntry& weights() const;
  /// Adds model.weights.h5 to `tree`, labelled "<archive>:model.weights.h5": in place when
  /// stored (its CRC-32 is then checked by verify_weights_crc()), else extracted (once).
  void add_weights_to(WeightsTree& tree);
  /// The weights as a native HDF5 file: the archive's byte range, or the extracted file.
  NativeFile weights_file();
  /// The CRC-32 pass over a stored model.weights.h5 read in place: start_weights_crc() begins it
  /// in the background (a source's first read()), verify_weights_crc() waits for it and throws
  /// the mismatch. Both do nothing when nothing is read in place.
  void start_weights_crc();
  void verify_weights_crc();

 private:
  const std::filesystem::path& extracted();

  std::string label_;
  ZipReader zip_;
  std::string config_text_;
  nlohmann::json config_;
  std::string keras_version_;
  std::optional<ZipEntry> weights_;
  std::unique_ptr<TempFile> extracted_;     // a deflated model.weights.h5, made on demand
  std::unique_ptr<ZipCrcCheck> crc_check_;  // a stored one read in place
};

}  // namespace keras64::detail
