// get_weights() order of a Keras 3 native weights layout.
//
// The file does not record the order: it follows from config.json (the order of model.layers and
// each layer's class) plus each class's variable-tracking order. See docs/keras-formats.md §3 and
// §9. The rules, in short:
//   - a Sequential/Functional lists `layers/<snake_class>[_n]` in config order (Sequential skips
//     its InputLayer), numbering repeats of a class per list;
//   - an object's own variables `vars/0..n-1` come first, then its sublayers in tracking order:
//     known classes have a table (Bidirectional: forward_layer, backward_layer; MultiHeadAttention:
//     query, key, value, output dense; RNNs: cell; wrappers: layer); any other sublayer groups
//     follow in save order (sorted by name, "_"-names last);
//   - a group reached twice is listed once.
// When the order cannot be known (no config, or a layer of unknown class with more than one
// weighted sublayer) the walk still lists every dataset, marks the layout inexact and says why.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/tensor.hpp"
#include "sources/weights_tree.hpp"

namespace keras64::detail {

struct LayoutEntry {
  std::string path;   ///< dataset path in the layout, "layers/dense/vars/0"
  std::string layer;  ///< Keras layer name(s), "dense", "ffn/dense", "mha/query_dense"
  Role role = Role::model;
};

struct Layout {
  std::vector<LayoutEntry> entries;
  bool exact = true;
  std::string note;        ///< why the order is not exact ("" when exact)
  Hint hint = Hint::none;  ///< Hint::model when the architecture would make it exact
};

/// Walks `tree` guided by `config` (the parsed config.json; null for none). Optimizer variables
/// (`optimizer/vars/*`) are appended when `include_optimizer`.
Layout keras3_layout(const nlohmann::json* config, const WeightsTree& tree, bool include_optimizer);

/// Keras's naming.to_snake_case: "MultiHeadAttention" -> "multi_head_attention", "Conv2D" ->
/// "conv2d", "GlobalAveragePooling1D" -> "global_average_pooling1d".
std::string to_snake_case(const std::string& class_name);

/// Sorts names with embedded numbers by value ("2" before "10", "dense_2" before "dense_10").
bool natural_less(const std::string& a, const std::string& b);

}  // namespace keras64::detail
