// get_weights() order of a legacy (Keras 1/2, tf.keras, Keras 3 legacy) HDF5 weights layout.
//
// A legacy file lists layers in `layer_names` (model.layers order) and, per layer, the variable
// paths in `weight_names` in the order layer.trainable_weights + layer.non_trainable_weights: all
// trainable variables of the layer *and its sublayers*, then all non-trainable ones. get_weights()
// instead walks owners (the layer, then its sublayers in tracking order) and gives each owner's
// trainable then non-trainable variables. See docs/keras-formats.md §6 and §9.
//
// The file does not record which variables are trainable, so the split point is found from the
// owners: each variable's owner is its path without the last component ("resid/proj/kernel" ->
// "resid/proj"). Owners are ranked in get_weights() (pre-order) order - ancestors before their
// sublayers, nested-model layers in config order - and the one place where the rank goes down in
// the file's list is where the non-trainable part starts; the two parts are then merged by rank.
// Golden `custom`: scale, offset, proj/kernel, proj/bias, calls -> scale, offset, calls,
// proj/kernel, proj/bias.
//
// When owners cannot be ranked for certain (sibling sublayers of an unknown class, or of any
// class without an architecture), the layer keeps its file order and the result says why.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace keras64::detail {

/// "dense/kernel:0" -> "dense/kernel": drops the TensorFlow ":<n>" output suffix, if any.
std::string strip_tf_suffix(const std::string& weight_name);

struct LegacyLayerOrder {
  std::vector<std::size_t>
      order;  ///< positions in the layer's weight_names, in get_weights() order
  bool exact = true;
  std::string note;  ///< why not exact ("" when exact)
};

/// Orders one layer's variables. `layer_name` is the layer's Keras name (its group name in the
/// file, or its config name); `paths` its weight_names with ":0" stripped; `config` the layer's
/// entry in the model config (null when there is no architecture).
LegacyLayerOrder legacy_layer_order(const std::string& layer_name,
                                    const std::vector<std::string>& paths,
                                    const nlohmann::json* config);

/// The layers of a model config in model.layers order (Keras 1/2.0 Sequential configs are a bare
/// list; Sequential's InputLayer is not one of model.layers). Empty for a config without layers.
std::vector<const nlohmann::json*> config_layers(const nlohmann::json& model_config,
                                                 bool* sequential = nullptr);

/// The Keras name of a layer config ("config.name", or the Functional entry's "name"); "" if none.
std::string config_layer_name(const nlohmann::json& layer_config);

/// Pairs each entry of `layer_names` with its layer in `model_config`: by name when every name is
/// found, else by position (Keras loads legacy files topologically). Throws Error{mismatch}
/// "<where>: layer count mismatch: ..." when the counts disagree.
std::vector<const nlohmann::json*> match_config_layers(const nlohmann::json& model_config,
                                                       const std::vector<std::string>& layer_names,
                                                       const std::string& where);

}  // namespace keras64::detail
