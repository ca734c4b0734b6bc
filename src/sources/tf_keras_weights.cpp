#include "sources/tf_keras_weights.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace keras64::detail::tf {
namespace {

using Ids = std::vector<int>;

constexpr int kMaxDepth = 64;  // nesting of layers; a deeper graph is hostile or cyclic

bool is_model(const std::string& identifier) {
  return identifier == "_tf_keras_network" || identifier == "_tf_keras_sequential";
}

bool is_layer(const std::string& identifier) {
  return is_model(identifier) || identifier == "_tf_keras_layer" ||
         identifier == "_tf_keras_rnn_layer" || identifier == "_tf_keras_input_layer";
}

// The objects tf-keras attaches to a layer only when it saves traces (base_serialization.py
// trackable_children returns none without; serialized_attributes.py LayerAttributes and
// CommonEndpoints, plus the `keras_api` holder): not part of the layer's own tracking.
bool traced_only(const std::string& name) {
  for (const char* n : {"keras_api", "variables", "trainable_variables", "non_trainable_variables",
                        "regularization_losses", "layers", "metrics", "layer_regularization_losses",
                        "layer_metrics"})
    if (name == n) return true;
  return false;
}

struct Refused {
  std::string why;
};

Ids dedup(const Ids& v) {
  Ids out;
  std::set<int> seen;
  for (int id : v)
    if (seen.insert(id).second) out.push_back(id);
  return out;
}

void append(Ids& to, const Ids& more) {
  to.insert(to.end(), more.begin(), more.end());
}

class Rebuilder {
 public:
  Rebuilder(const SavedModelInfo& sm, const KerasModelMetadata& meta) : sm_(sm), meta_(meta) {
    // Node paths as tf-keras names them (load.py _generate_object_paths), for messages.
    paths_[0] = "root";
    Ids stack{0};
    while (!stack.empty()) {
      const int id = stack.back();
      stack.pop_back();
      for (const auto& [name, child] : sm_.children[static_cast<std::size_t>(id)])
        if (paths_.emplace(child, paths_[id] + "." + name).second) stack.push_back(child);
    }
  }

  enum class Part { all, trainable, non_trainable };

  // layer.weights / .trainable_weights / .non_trainable_weights of Keras layer or model `id`.
  Ids weights(int id, Part part, int depth = 0) {
    if (depth > kMaxDepth)
      throw Refused{path(id) + " nests layers deeper than " + std::to_string(kMaxDepth) +
                    " (a cycle?)"};
    const auto key = std::pair(id, static_cast<int>(part));
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    Ids out = compute(id, part, depth);
    memo_[key] = out;
    return out;
  }

  std::string path(int id) const {
    auto it = paths_.find(id);
    return it == paths_.end() ? "node " + std::to_string(id) : it->second;
  }

 private:
  struct Parts {
    bool model = false;
    Ids own_trainable, own_non_trainable;  // creation order
    Ids sublayers;                         // tracking order (models: model.layers)
  };

  Ids compute(int id, Part part, int depth) {
    const Parts& p = parts(id);
    // A layer without weights (an InputLayer records no `trainable`) has nothing to order.
    if (p.own_trainable.empty() && p.own_non_trainable.empty() && p.sublayers.empty()) return {};
    const bool trainable = is_trainable(id);
    auto each = [&](Part which) {
      Ids out;
      for (int l : p.sublayers) append(out, weights(l, which, depth + 1));
      return out;
    };
    Ids out;
    if (p.model) {
      // training.py Model.weights, .trainable_weights, .non_trainable_weights: layers first.
      if (part == Part::all) {
        out = each(Part::all);
        append(out, p.own_trainable);
        append(out, p.own_non_trainable);
      } else if (part == Part::trainable) {
        if (trainable) {
          out = each(Part::trainable);
          append(out, p.own_trainable);
        }
      } else if (trainable) {
        out = each(Part::non_trainable);
        append(out, p.own_non_trainable);
      } else {
        out = each(Part::trainable);
        append(out, p.own_trainable);
        append(out, each(Part::non_trainable));
        append(out, p.own_non_trainable);
      }
      return dedup(out);
    }
    // base_layer.py Layer.weights = trainable_weights + non_trainable_weights: own first.
    if (part == Part::all) {
      out = weights(id, Part::trainable, depth);
      append(out, weights(id, Part::non_trainable, depth));
      return out;
    }
    if (part == Part::trainable) {
      if (!trainable) return {};
      out = p.own_trainable;
      append(out, each(Part::trainable));
    } else if (trainable) {
      out = p.own_non_trainable;
      append(out, each(Part::non_trainable));
    } else {
      out = p.own_trainable;
      append(out, p.own_non_trainable);
      append(out, each(Part::all));
    }
    return dedup(out);
  }

  const SavedNode& node(int id) const { return sm_.nodes[static_cast<std::size_t>(id)]; }
  const std::vector<std::pair<std::string, int>>& children(int id) const {
    return sm_.children[static_cast<std::size_t>(id)];
  }

  bool is_trainable(int id) const {
    auto it = meta_.trainable.find(id);
    if (it == meta_.trainable.end())
      throw Refused{path(id) + " (" + node(id).identifier + ") has no Keras metadata"};
    return it->second;
  }

  bool holds_variables(int from) const {
    std::set<int> seen;
    Ids stack{from};
    while (!stack.empty()) {
      const int id = stack.back();
      stack.pop_back();
      if (!seen.insert(id).second) continue;
      if (node(id).variable) return true;
      for (const auto& [name, child] : children(id)) stack.push_back(child);
    }
    return false;
  }

  const Parts& parts(int id) {
    if (auto it = parts_.find(id); it != parts_.end()) return it->second;
    const std::string& identifier = node(id).identifier;
    if (!is_layer(identifier))
      throw Refused{path(id) + " (" + identifier +
                    ") is not a Keras layer or Functional/"
                    "Sequential model"};
    Parts p;
    p.model = is_model(identifier);
    const bool traced = std::any_of(children(id).begin(), children(id).end(),
                                    [](const auto& c) { return c.first == "keras_api"; });
    std::set<int> seen;
    if (p.model) {
      // model.layers: the `layer-<i>` edges in i order (functional.py tracks each layer so);
      // own variables: the model's direct variable children.
      std::map<std::size_t, int> layers;
      for (const auto& [name, child] : children(id)) {
        if (name.starts_with("layer-") && name.size() > 6 && name.size() < 16 &&
            name.find_first_not_of("0123456789", 6) == std::string::npos)
          layers[std::stoul(name.substr(6))] = child;
        else if (node(child).variable && !(traced && traced_only(name)) &&
                 seen.insert(child).second)
          (node(child).trainable ? p.own_trainable : p.own_non_trainable).push_back(child);
      }
      for (const auto& [i, child] : layers)
        if (seen.insert(child).second) p.sublayers.push_back(child);
      return parts_[id] = std::move(p);
    }
    for (const auto& [name, child] : children(id))
      if (!(traced && traced_only(name))) add(p, child, false, seen);
    return parts_[id] = std::move(p);
  }

  // One tracked child of a layer (base_layer.py __setattr__ / add_weight; _flatten_modules).
  void add(Parts& p, int id, bool in_list, std::set<int>& seen) {
    if (!seen.insert(id).second) return;
    const SavedNode& n = node(id);
    if (n.variable) {
      if (in_list)
        throw Refused{path(id) +
                      ": a variable in a list (tf-keras may or may not count it as "
                      "the layer's own)"};
      (n.trainable ? p.own_trainable : p.own_non_trainable).push_back(id);
    } else if (n.identifier == "_tf_keras_metric") {
      // Metrics are no sublayers, and their state is no weight.
    } else if (is_layer(n.identifier)) {
      p.sublayers.push_back(id);
    } else if (n.identifier == "trackable_list_wrapper" ||
               n.identifier == "trackable_tuple_wrapper") {
      // A list of layers is expanded in place, items in index order.
      std::map<std::size_t, int> items;
      for (const auto& [name, child] : children(id)) {
        if (name.empty() || name.size() > 9 ||
            name.find_first_not_of("0123456789") != std::string::npos)
          throw Refused{path(id) + ": a list with an item named '" + name + "'"};
        items[std::stoul(name)] = child;
      }
      for (const auto& [i, child] : items) add(p, child, true, seen);
    } else if (holds_variables(id)) {
      throw Refused{path(id) + " (" + (n.identifier.empty() ? "not a user object" : n.identifier) +
                    ") holds variables, but is no Keras layer or list of layers"};
    }
  }

  const SavedModelInfo& sm_;
  const KerasModelMetadata& meta_;
  std::map<int, std::string> paths_;
  std::map<int, Parts> parts_;
  std::map<std::pair<int, int>, Ids> memo_;  // (node, Part) -> its list
};

}  // namespace

std::optional<RebuiltWeights> rebuild_weights(const SavedModelInfo& sm,
                                              const KerasModelMetadata& meta, std::string& why) {
  if (sm.nodes.empty() || sm.nodes.size() != sm.children.size()) {
    why = "saved_model.pb has no object graph";
    return std::nullopt;
  }
  Rebuilder r(sm, meta);
  try {
    if (!is_model(sm.nodes[0].identifier))
      throw Refused{"root (" + sm.nodes[0].identifier +
                    ") is not a Functional or Sequential model"};
    RebuiltWeights out;
    out.model = r.weights(0, Rebuilder::Part::all);
    for (const auto& l : meta.layers) {
      if (l.node < 0 || static_cast<std::size_t>(l.node) >= sm.nodes.size())
        throw Refused{"layer '" + l.name + "' has no node"};
      out.layers.push_back(r.weights(l.node, Rebuilder::Part::all));
    }
    return out;
  } catch (const Refused& e) {
    why = e.why;
    return std::nullopt;
  }
}

}  // namespace keras64::detail::tf
