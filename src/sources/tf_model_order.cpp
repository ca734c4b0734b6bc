#include "sources/tf_model_order.hpp"

#include <map>
#include <memory>
#include <set>

#include "keras64/error.hpp"
#include "keras64/source.hpp"

namespace keras64::detail::tf {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t slash; (slash = s.find('/', at)) != std::string::npos; at = slash + 1)
    out.push_back(s.substr(at, slash - at));
  out.push_back(s.substr(at));
  return out;
}

int child(const ObjectGraph& g, int node, const std::string& name) {
  for (const auto& [n, id] : g.nodes[static_cast<std::size_t>(node)].children)
    if (n == name) return id;
  return -1;
}

// The checkpoint variable a tf-keras `.keras` layout path names, or -1. `layers_seen` numbers the
// layers of each (nested) model in the order the model file lists them: the k-th is the
// model's `layer_with_weights-k`.
int walk_layout(const ObjectGraph& g, const std::string& path,
                std::map<std::string, std::vector<std::string>>& layers_seen) {
  const auto seg = split(path);
  int node = 0;
  std::string at;
  for (std::size_t i = 0; i < seg.size() && node >= 0; ++i) {
    const std::string& s = seg[i];
    if ((s == "layers" || s == "_layer_checkpoint_dependencies") && i + 1 < seg.size()) {
      auto& seen = layers_seen[at];
      std::size_t k = 0;
      while (k < seen.size() && seen[k] != seg[i + 1]) ++k;
      if (k == seen.size()) seen.push_back(seg[i + 1]);
      node = child(g, node, "layer_with_weights-" + std::to_string(k));
      at += "/" + s + "/" + seg[++i];
    } else if (s == "vars" && i + 2 == seg.size()) {
      std::vector<int> own;  // the node's own variables, in stored (creation) order
      for (const auto& [n, id] : g.nodes[static_cast<std::size_t>(node)].children)
        if (!g.variable_key(id).empty()) own.push_back(id);
      const std::string& idx = seg[++i];
      if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos)
        return -1;
      const std::size_t v = std::stoul(idx);
      node = v < own.size() ? own[v] : -1;
    } else {
      node = child(g, node, s);
      at += "/" + s;
    }
  }
  return node;
}

}  // namespace

ModelOrder order_from_model(const std::filesystem::path& model, const ObjectGraph* graph,
                            const std::vector<CheckpointVariable>& vars, const std::string& label) {
  const std::string m = model.string();
  std::unique_ptr<Source> src = open_source(model);
  const SourceInfo& info = src->info();
  const bool layout = info.kind == SourceKind::tfkeras;
  if (!layout && info.kind != SourceKind::legacy_h5 && info.kind != SourceKind::legacy_weights_h5 &&
      info.kind != SourceKind::tf_savedmodel)
    throw Error(Errc::invalid_argument, {m},
                "a model architecture for a TensorFlow checkpoint must be a legacy .h5, a "
                "SavedModel or a tf-keras .keras of the same model, not " +
                    std::string(kind_name(info.kind)));
  if (layout && !graph)
    throw Error(Errc::mismatch, label +
                                    ": a checkpoint without an object graph (TF1) cannot be "
                                    "paired with the .keras layout of " +
                                    m);
  const std::string ctx = label + ": architecture " + m + ": ";

  std::map<std::string, std::size_t> by_name, by_key;
  std::set<std::string> twice;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    by_key[vars[i].key] = i;
    if (!vars[i].tf_name.empty() && !by_name.emplace(vars[i].tf_name, i).second)
      twice.insert(vars[i].tf_name);
  }
  ModelOrder out;
  std::vector<bool> used(vars.size(), false);
  std::map<std::string, std::vector<std::string>> layers_seen;
  for (const TensorInfo& t : src->tensors()) {
    if (t.role != Role::model) continue;
    std::size_t v = vars.size();
    if (layout) {
      const int node = walk_layout(*graph, t.name, layers_seen);
      if (node >= 0)
        if (auto it = by_key.find(graph->variable_key(node)); it != by_key.end()) v = it->second;
    } else if (twice.count(t.keras_path)) {
      throw Error(Errc::mismatch, ctx + "the checkpoint has several variables named '" +
                                      t.keras_path + "'; pair them with a SavedModel instead");
    } else if (auto it = by_name.find(t.keras_path); it != by_name.end()) {
      v = it->second;
    }
    if (v == vars.size())
      throw Error(Errc::mismatch, ctx + t.name + " has no variable in the checkpoint");
    if (used[v])
      throw Error(Errc::mismatch,
                  ctx + t.name + " and another tensor pair with the checkpoint's " + vars[v].key);
    if (vars[v].shape != t.shape)
      throw Error(Errc::mismatch, ctx + "shape mismatch: " + t.name + " is " +
                                      shape_string(t.shape) + ", the checkpoint's " + vars[v].key +
                                      " is " + shape_string(vars[v].shape));
    used[v] = true;
    out.keys.push_back(vars[v].key);
  }
  for (std::size_t v = 0; v < vars.size(); ++v)
    if (!used[v])
      throw Error(Errc::mismatch,
                  ctx + "the checkpoint's " + vars[v].key +
                      (vars[v].tf_name.empty() ? "" : " (" + vars[v].tf_name + ")") +
                      " is no weight of the model");
  out.exact = info.order_exact;
  if (!out.exact) out.note = "order of the architecture " + m + ": " + info.note;
  return out;
}

}  // namespace keras64::detail::tf
