#include <array>
#include <string>

#include "keras64/error.hpp"
#include "keras64/sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64 {
namespace detail {
namespace {

constexpr std::array kFormats = {
    SinkFormat{"npy", "directory of weight_{i}.npy files + manifest.json", &make_npy_dir_sink},
    SinkFormat{"npz", "one .npz (stored zip, like np.savez)", &make_npz_sink},
    SinkFormat{"npz-deflate", "one .npz (deflated, like np.savez_compressed)",
               &make_npz_deflate_sink},
    SinkFormat{"memmap", "directory of raw float64 weight_{i}.dat files + manifest.json",
               &make_memmap_sink},
    SinkFormat{"weights.h5", "Keras 3 .weights.h5, input structure kept, floats as float64",
               &make_weights_h5_sink},
    SinkFormat{"keras", ".keras model that Keras loads as float64 (weights and dtype policies)",
               &make_keras_sink},
    SinkFormat{"legacy-h5", "legacy .h5 from a legacy .h5, structure kept, floats as float64",
               &make_legacy_h5_sink},
    SinkFormat{"safetensors", "one .safetensors file (F64 tensors by name, get_weights order)",
               &make_safetensors_sink},
    SinkFormat{"tf-checkpoint",
               "TensorFlow checkpoint OUT.index + OUT.data-00000-of-00001 from a TF input, "
               "floats as DT_DOUBLE",
               &make_tf_checkpoint_sink},
};

}  // namespace

std::span<const SinkFormat> sink_table() {
  return kFormats;
}

}  // namespace detail

std::vector<std::string> sink_formats() {
  std::vector<std::string> names;
  for (const auto& f : detail::sink_table()) names.emplace_back(f.name);
  return names;
}

std::unique_ptr<Sink> open_sink(std::string_view format, const std::filesystem::path& path,
                                const SinkOptions& options) {
  for (const auto& f : detail::sink_table())
    if (f.name == format) return f.make(path, options);
  std::string valid;
  for (const auto& f : detail::sink_table()) {
    if (!valid.empty()) valid += ", ";
    valid += f.name;
  }
  throw Error(Errc::invalid_argument,
              "unknown output format '" + std::string(format) + "' (valid: " + valid + ")");
}

}  // namespace keras64
