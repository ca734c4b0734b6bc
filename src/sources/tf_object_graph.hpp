// The object graph of a TF2 checkpoint (`_CHECKPOINTABLE_OBJECT_GRAPH`, a TrackableObjectGraph)
// and, for SavedModels, the `variables` list of saved_model.pb's SavedObjectGraph: what keras64
// needs from them to name, order and classify a bundle's tensors
// (the project brief's shared tf-checkpoint-format.md §7-§9). Node ids are shared by the two
// graphs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keras64::detail::tf {

struct GraphNode {
  std::vector<std::pair<std::string, int>> children;  ///< (local name, node id), stored order
  std::map<std::string, std::string> keys;            ///< attribute name -> checkpoint key
  std::string full_name;                              ///< of the VARIABLE_VALUE attribute
  std::vector<int> slot_variables;                    ///< slot variable node ids (optimizers)
};

struct ObjectGraph {
  std::vector<GraphNode> nodes;  ///< node 0 is the root

  /// Decodes a serialized TrackableObjectGraph; Error{corrupt} (no prefix) if it does not parse
  /// or names a node that does not exist.
  static ObjectGraph parse(const std::string& bytes);

  /// The checkpoint key of node `id`'s variable value, or empty.
  std::string variable_key(int id) const;
  /// Node ids of the variables reachable from `from`, depth first, children in stored order
  /// (creation order for Keras layers), each once.
  std::vector<int> variables_under(int from) const;
  /// The root's child named `name`, or -1.
  int root_child(const std::string& name) const;
};

/// One SavedObjectGraph node's kind, as far as keras64 looks.
struct SavedNode {
  bool variable = false;   ///< a SavedVariable
  bool trainable = false;  ///< its SavedVariable.trainable
  std::string identifier;  ///< a user object's: "_tf_keras_layer", "trackable_list_wrapper", ...
  std::string metadata;    ///< a user object's SavedUserObject.metadata (TF 2.0-2.4: tf-keras's
                           ///< JSON of the object; empty from TF 2.5 on, see keras_metadata.pb)
};

/// What saved_model.pb tells about a SavedModel.
struct SavedModelInfo {
  bool has_object_graph = false;  ///< TF2 (an object graph); false: TF1 (graph names)
  std::string root_identifier;    ///< "_tf_keras_sequential", "_generic_user_object", ...
  std::string tensorflow_version;
  /// The root object's `variables` list (Keras: model.variables, get_weights() order) as node
  /// ids, or nullopt if the root has none.
  std::optional<std::vector<int>> root_variables;
  /// Every SavedObjectGraph node's children (local name, node id), ids checked.
  std::vector<std::vector<std::pair<std::string, int>>> children;
  /// Every SavedObjectGraph node's kind (same indices as `children`).
  std::vector<SavedNode> nodes;

  /// The `variables` list of node `id` (a Keras layer's layer.weights), or nullopt.
  std::optional<std::vector<int>> variables_of(int id) const;
};

/// Decodes a serialized SavedModel; Error{corrupt} prefixed with `where` if it is malformed.
SavedModelInfo parse_saved_model(const std::string& bytes, const std::string& where);
/// Reads and decodes `dir/saved_model.pb`; messages start with `label`.
SavedModelInfo read_saved_model(const std::filesystem::path& dir, const std::string& label);

}  // namespace keras64::detail::tf
