// SourceKind's stable names (keras64/source.hpp): what manifests, --json, safetensors metadata
// and Python have always shown, so files written before the kind was typed still read the same.
#include <array>
#include <utility>

#include "keras64/source.hpp"

namespace keras64 {
namespace {

constexpr std::array<std::pair<SourceKind, std::string_view>, 14> kNames = {{
    {SourceKind::unknown, "unknown"},
    {SourceKind::keras3, "keras3"},
    {SourceKind::keras3_weights, "keras3-weights"},
    {SourceKind::keras3_sharded, "keras3-sharded"},
    {SourceKind::tfkeras, "tfkeras"},
    {SourceKind::legacy_h5, "legacy-h5"},
    {SourceKind::legacy_weights_h5, "legacy-weights-h5"},
    {SourceKind::npy_dir, "npy-dir"},
    {SourceKind::npz, "npz"},
    {SourceKind::memmap_dir, "memmap-dir"},
    {SourceKind::safetensors, "safetensors"},
    {SourceKind::tf_checkpoint, "tf-checkpoint"},
    {SourceKind::tf_savedmodel, "tf-savedmodel"},
    {SourceKind::python, "python"},
}};

}  // namespace

std::string_view kind_name(SourceKind kind) noexcept {
  for (const auto& [k, name] : kNames)
    if (k == kind) return name;
  return "unknown";
}

std::optional<SourceKind> source_kind(std::string_view name) noexcept {
  for (const auto& [k, n] : kNames)
    if (n == name) return k;
  return std::nullopt;
}

bool keras3_layout(SourceKind kind) noexcept {
  return kind == SourceKind::keras3 || kind == SourceKind::keras3_weights ||
         kind == SourceKind::keras3_sharded || kind == SourceKind::tfkeras;
}

}  // namespace keras64
