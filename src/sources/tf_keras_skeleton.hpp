// A tf-keras SavedModel as the structure of a legacy `.h5` (issue #15.3): its model config
// (keras_metadata.pb, tf_keras/protobuf/saved_metadata.proto) and each top-level layer's
// weights (the layer's `variables` list in saved_model.pb), written as an HDF5 skeleton in the
// layout `model.save("x.h5")` gives (root attributes `model_config`, `keras_version`, `backend`;
// `/model_weights` with `layer_names`; one group per layer with `weight_names`; a dataset per
// weight at `/model_weights/<layer>/<weight name>`, shaped but never written, so it takes no
// space). The legacy-h5 sink copies that skeleton as it copies a legacy input's tree, filling
// each dataset with the widened tensor.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keras64/tensor.hpp"
#include "sources/tf_object_graph.hpp"

namespace keras64::detail::tf {

struct SkeletonLayer {
  std::string name;
  int node = -1;               ///< its SavedObjectGraph node
  std::vector<int> variables;  ///< SavedObjectGraph node ids, in layer.weights order
  bool listed = false;         ///< `variables` is the layer's own `variables` list (save_traces)
};

/// What tf-keras recorded about the Keras objects of a SavedModel - in keras_metadata.pb (TF
/// >= 2.5) or, when `dir` has no such file, in each Keras object's SavedUserObject.metadata
/// (TF 2.0-2.4) - or nullopt when there is none, the root records no model config or a layer of the
/// root has no entry. Error{corrupt} prefixed with `label` if keras_metadata.pb does not parse.
struct KerasModelMetadata {
  std::string file;          ///< where it was read: "keras_metadata.pb" or "saved_model.pb"
  std::string model_config;  ///< {"class_name", "config"} JSON, tuples as lists
  std::string keras_version;
  std::vector<SkeletonLayer> layers;  ///< model.layers in order (weightless ones too)
  std::map<int, bool> trainable;      ///< each Keras object's "trainable", by node id
};
std::optional<KerasModelMetadata> read_keras_metadata(const std::filesystem::path& dir,
                                                      const SavedModelInfo& sm,
                                                      const std::string& label);

/// One weight of the skeleton: its layer, its legacy weight name ("dense/kernel:0"), shape and
/// dtype.
struct SkeletonWeight {
  std::string layer;
  std::string name;
  Shape shape;
  DType dtype;
};

/// Writes the skeleton to `file` (created). The legacy dataset path of a weight is
/// "/model_weights/<layer>/<name>".
void write_legacy_skeleton(const std::filesystem::path& file, const KerasModelMetadata& meta,
                           const std::vector<SkeletonWeight>& weights);

}  // namespace keras64::detail::tf
