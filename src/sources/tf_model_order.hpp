// get_weights() order for a tf-keras `save_weights` checkpoint from `--model`: another file of the
// same model (a legacy `.h5`, a SavedModel, a tf-keras `.keras`) opened as a Source, whose tensors
// are paired with the checkpoint's variables and whose order is taken.
//
// Pairing, by what the model file records:
//  - a TF variable name (legacy `.h5` weight names, SavedModel and TF1 graph names:
//    TensorInfo::keras_path) against the checkpoint's object graph `full_name` (TF1: the key);
//  - a tf-keras `.keras` layout path (`layers/<layer>/<attr>/vars/<i>`) walked through the
//    checkpoint's object graph: the model's k-th weighted layer is the root's
//    `layer_with_weights-k` (nested models likewise), an attribute is the child edge of that
//    name, `vars/<i>` the node's i-th own variable.
// Every tensor must pair with exactly one checkpoint variable of the same shape and every
// checkpoint variable with one tensor; otherwise Error{mismatch} naming both sides.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "keras64/tensor.hpp"
#include "sources/tf_object_graph.hpp"

namespace keras64::detail::tf {

/// One model variable of the checkpoint, as the source found it.
struct CheckpointVariable {
  std::string key;
  std::string tf_name;  ///< the object graph's full_name; TF1: the key; may be empty
  Shape shape;
};

struct ModelOrder {
  std::vector<std::string> keys;  ///< the checkpoint's keys in the model's order
  bool exact = false;             ///< the model file's own order is get_weights() order
  std::string note;               ///< why not, when !exact
};

/// Opens `model` and pairs its model tensors with `vars`. `graph` may be null (TF1 checkpoint).
/// `label` prefixes messages (the checkpoint as the user named it).
ModelOrder order_from_model(const std::filesystem::path& model, const ObjectGraph* graph,
                            const std::vector<CheckpointVariable>& vars, const std::string& label);

}  // namespace keras64::detail::tf
