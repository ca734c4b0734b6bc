// get_weights() order of a legacy (Keras 1/2, tf.keras, Keras 3 legacy) HDF5 weights layout.
//
// A legacy file lists layers in `layer_names` (model.layers order) and, per layer, the variable
// paths in `weight_names` in the order layer.trainable_weights + layer.non_trainable_weights: all
// trainable variables of the layer *and its sublayers*, then all non-trainable ones.
// See docs/keras-formats.md §6 and §9.
//
// get_weights() order depends on the framework that wrote the file (keras_version):
//   - Keras 3: a layer's weights are its own (trainable, then non-trainable), then each
//     sublayer's, recursively, in tracking order;
//   - Keras 1/2 and tf.keras: a layer that is not a model lists the variables of its sublayers
//     in its own trainable-then-non-trainable lists, as the file does; only a model (a nested
//     Sequential/Functional, whose layers are in the config) gives its layers' weights layer by
//     layer.
// The file does not record which variables are trainable, so the order is rebuilt from the
// owners: each variable's owner is its path without the last component ("resid/proj/kernel" ->
// "resid/proj"). Layers of nested models are placed by the config; other sublayers (Keras 3)
// by what the file implies: every split of the list into a trainable then a non-trainable part
// that reads both parts as walks of the owner tree (own variables first, one sublayer after the
// other) is tried, and the order of sibling sublayers is decided when every such split implies
// the same one - typically when each sibling has a trainable variable and the layer's own
// non-trainable variable marks where the second part starts.
// Golden `custom`: scale, offset, proj/kernel, proj/bias, calls -> scale, offset, calls,
// proj/kernel, proj/bias.
//
// When the names do not decide (a sibling that may hold only non-trainable variables could come
// before the others), the layer keeps its file order and the result says why.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "keras64/error.hpp"

namespace keras64::detail {

/// "dense/kernel:0" -> "dense/kernel": drops the TensorFlow ":<n>" output suffix, if any.
std::string strip_tf_suffix(const std::string& weight_name);

struct LegacyLayerOrder {
  std::vector<std::size_t>
      order;  ///< positions in the layer's weight_names, in get_weights() order
  bool exact = true;
  std::string note;        ///< why not exact ("" when exact)
  Hint hint = Hint::none;  ///< Hint::model when the architecture would make it exact
};

/// Orders one layer's variables. `layer_name` is the layer's Keras name (its group name in the
/// file, or its config name); `paths` its weight_names with ":0" stripped; `config` the layer's
/// entry in the model config (null when there is no architecture); `keras3` whether the file
/// was written by Keras 3 (its keras_version), whose get_weights() order it follows.
LegacyLayerOrder legacy_layer_order(const std::string& layer_name,
                                    const std::vector<std::string>& paths,
                                    const nlohmann::json* config, bool keras3);

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
