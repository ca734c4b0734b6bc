// tf-keras's weight order for a SavedModel saved with `save_traces=False`, which records no
// `variables` lists (neither the root's, model.variables, nor each layer's, layer.weights):
// rebuilt from what such a SavedModel does record - the object graph (each layer's own variables
// and sublayers as tracked, each variable's SavedVariable.trainable) and the Keras metadata
// (each layer's and model's `trainable`) - by tf-keras's own rules (tf_keras/src/engine/
// base_layer.py and training.py, 2.21):
//
//  - a layer's weights = trainable_weights + non_trainable_weights. If the layer is trainable:
//    trainable = own trainable variables, then each sublayer's trainable_weights; non-trainable =
//    own non-trainable, then each sublayer's non_trainable_weights. If not: trainable = [];
//    non-trainable = own trainable, own non-trainable, then each sublayer's weights. Own
//    variables in creation order, sublayers in tracking order (_flatten_modules(recursive=False):
//    a list of layers is expanded in place; metrics are not sublayers);
//  - a model's (Functional, Sequential) weights = each of model.layers' weights, then its own;
//    its trainable_weights / non_trainable_weights likewise layer by layer (a model that is not
//    trainable: the layers' trainable, own trainable, the layers' non-trainable, own
//    non-trainable);
//  - every list deduplicated, first occurrence kept (a shared layer counts once).
//
// The object graph lists a layer's children in tracking order (variables as add_weight creates
// them, sublayers as they are assigned), which is the order of `_trainable_weights`,
// `_non_trainable_weights` and `_self_tracked_trackables`. What the graph cannot place is refused
// with the reason: variables held by a non-Keras object or a list (tf.Module semantics, or
// variables appended after assignment), a dict of layers (its order is not the graph's), a
// subclassed model, a Keras object without metadata, a cycle.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sources/tf_keras_skeleton.hpp"
#include "sources/tf_object_graph.hpp"

namespace keras64::detail::tf {

/// get_weights() of the model (node ids, in order) and each of `meta.layers`' layer.weights, or
/// nullopt with `why` set (a sentence naming the node path) when the graph holds something the
/// rules above do not place. The root must be a Functional or Sequential model.
struct RebuiltWeights {
  std::vector<int> model;
  std::vector<std::vector<int>> layers;  ///< parallel to meta.layers
};
std::optional<RebuiltWeights> rebuild_weights(const SavedModelInfo& sm,
                                              const KerasModelMetadata& meta, std::string& why);

}  // namespace keras64::detail::tf
