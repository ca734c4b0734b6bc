#include "sources/legacy_layout.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

using json = nlohmann::json;

// Classes whose sublayers hold only variables created trainable, so their file order (trainable
// first) is already get_weights() order even though the sublayers are siblings.
const std::set<std::string>& all_trainable_sublayers() {
  static const std::set<std::string> classes = {
      "Bidirectional",
      "MultiHeadAttention",
      "GroupedQueryAttention",
      "RNN",
      "LSTM",
      "GRU",
      "SimpleRNN",
      "ConvLSTM1D",
      "ConvLSTM2D",
      "ConvLSTM3D",
      "StackedRNNCells",
  };
  return classes;
}

std::string class_of(const json* cfg) {
  if (!cfg || !cfg->is_object()) return "";
  auto it = cfg->find("class_name");
  return it != cfg->end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = s.find('/', pos);
    out.push_back(s.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return out;
}

bool is_prefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

struct Rank {
  std::vector<int> key;  // positions of nested-model layers, from the config (pre-order)
  int sub = 0;           // depth (chain) or first appearance (known class) below that layer
  bool operator<(const Rank& o) const { return key != o.key ? key < o.key : sub < o.sub; }
};

}  // namespace

std::string strip_tf_suffix(const std::string& w) {
  const auto colon = w.rfind(':');
  if (colon == std::string::npos || colon + 1 == w.size()) return w;
  for (std::size_t i = colon + 1; i < w.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(w[i]))) return w;
  return w.substr(0, colon);
}

std::string config_layer_name(const json& l) {
  if (!l.is_object()) return "";
  if (auto c = l.find("config"); c != l.end() && c->is_object())
    if (auto n = c->find("name"); n != c->end() && n->is_string()) return n->get<std::string>();
  if (auto n = l.find("name"); n != l.end() && n->is_string()) return n->get<std::string>();
  return "";
}

std::vector<const json*> config_layers(const json& model, bool* sequential) {
  std::vector<const json*> out;
  if (sequential) *sequential = false;
  if (!model.is_object()) return out;
  auto c = model.find("config");
  if (c == model.end()) return out;
  const json* list = nullptr;
  if (c->is_array())
    list = &*c;  // Keras 1.x / 2.0-2.2 Sequential
  else if (c->is_object())
    if (auto l = c->find("layers"); l != c->end() && l->is_array()) list = &*l;
  if (!list) return out;
  const bool seq = class_of(&model) == "Sequential";
  if (sequential) *sequential = seq;
  for (const auto& l : *list) out.push_back(&l);
  return out;
}

std::vector<const json*> match_config_layers(const json& model,
                                             const std::vector<std::string>& names,
                                             const std::string& where) {
  bool sequential = false;
  std::vector<const json*> all = config_layers(model, &sequential);
  std::vector<const json*> listed;  // model.layers: a Sequential's InputLayer is not one of them
  for (const json* l : all)
    if (!(sequential && class_of(l) == "InputLayer")) listed.push_back(l);
  const std::vector<const json*>* use = nullptr;
  if (listed.size() == names.size())
    use = &listed;
  else if (all.size() == names.size())
    use = &all;  // a Sequential given an explicit InputLayer
  else
    throw Error(Errc::mismatch, where + ": layer count mismatch: layer_names lists " +
                                    std::to_string(names.size()) +
                                    " layers, the model config has " +
                                    std::to_string(listed.size()));
  std::map<std::string, const json*> by_name;
  for (const json* l : *use) by_name.emplace(config_layer_name(*l), l);
  std::vector<const json*> out;
  for (const auto& n : names) {
    auto it = by_name.find(n);
    if (it == by_name.end()) return *use;  // renamed layers: Keras pairs them by position
    out.push_back(it->second);
  }
  return out;
}

LegacyLayerOrder legacy_layer_order(const std::string& layer_name,
                                    const std::vector<std::string>& paths, const json* config) {
  LegacyLayerOrder out;
  const std::size_t n = paths.size();
  out.order.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.order[i] = i;
  if (n < 2) return out;

  // Owner of each variable, relative to the layer: the components after the layer's own name
  // ("mlp/dense/kernel" in layer dense -> [], "custom/resid/proj/kernel" in resid -> [proj]).
  struct Owner {
    std::vector<int> key;
    const json* node = nullptr;
    std::vector<std::string> rest;
  };
  std::vector<Owner> owners(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> comps = split(paths[i]);
    comps.pop_back();
    auto anchor = std::find(comps.begin(), comps.end(), layer_name);
    std::vector<std::string> rel(anchor == comps.end() ? comps.begin() : anchor + 1, comps.end());
    // Descend through nested models by layer name: their layer order is in the config.
    Owner& o = owners[i];
    o.node = config;
    std::size_t k = 0;
    for (; k < rel.size() && o.node; ++k) {
      std::vector<const json*> sub = config_layers(*o.node);
      int found = -1;
      for (std::size_t j = 0; j < sub.size(); ++j)
        if (config_layer_name(*sub[j]) == rel[k]) {
          found = static_cast<int>(j);
          break;
        }
      if (found < 0) break;
      o.key.push_back(found);
      o.node = sub[static_cast<std::size_t>(found)];
    }
    o.rest.assign(rel.begin() + static_cast<std::ptrdiff_t>(k), rel.end());
  }

  // Below each config node, owners must form a chain (ancestors first) unless the node's class
  // is known to have only trainable sublayer variables.
  std::vector<Rank> rank(n);
  std::map<std::vector<int>, std::vector<std::vector<std::string>>>
      rests;  // distinct, first-seen order
  for (const auto& o : owners) {
    auto& v = rests[o.key];
    if (std::find(v.begin(), v.end(), o.rest) == v.end()) v.push_back(o.rest);
  }
  for (const auto& [key, list] : rests) {
    bool chain = true;
    for (std::size_t a = 0; a < list.size() && chain; ++a)
      for (std::size_t b = a + 1; b < list.size() && chain; ++b)
        chain = is_prefix(list[a], list[b]) || is_prefix(list[b], list[a]);
    if (chain) continue;
    const json* node = nullptr;
    for (const auto& o : owners)
      if (o.key == key) {
        node = o.node;
        break;
      }
    const std::string cls = class_of(node);
    if (all_trainable_sublayers().count(cls)) continue;
    out.exact = false;
    out.note =
        "layer '" + layer_name + "'" + (cls.empty() ? "" : " (class " + cls + ")") +
        " holds variables of several sublayers and the file does not say which are trainable; "
        "file order used" +
        (config ? "" : " - pass --model ARCH.keras for get_weights() order");
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& list = rests[owners[i].key];
    rank[i].key = owners[i].key;
    const auto pos = std::find(list.begin(), list.end(), owners[i].rest) - list.begin();
    // In a chain the depth orders ancestors first; for a known class, first appearance.
    bool chain = true;
    for (const auto& r : list)
      chain = chain && (is_prefix(r, owners[i].rest) || is_prefix(owners[i].rest, r));
    rank[i].sub = chain ? static_cast<int>(owners[i].rest.size()) : static_cast<int>(pos);
  }

  // The trainable part and the non-trainable part are each in rank order; the first step down
  // is where the second starts.
  std::size_t split_at = n;
  for (std::size_t i = 1; i < n; ++i)
    if (rank[i] < rank[i - 1]) {
      split_at = i;
      break;
    }
  if (split_at == n) return out;  // already get_weights() order
  for (std::size_t i = split_at + 1; i < n; ++i)
    if (rank[i] < rank[i - 1]) {
      out.exact = false;
      out.note = "layer '" + layer_name +
                 "': weight_names are in neither get_weights() order nor "
                 "trainable-then-non-trainable order; file order used";
      return out;
    }
  std::vector<std::size_t> merged;
  std::size_t a = 0, b = split_at;
  while (a < split_at || b < n) {
    // Ties (same owner) take the trainable one first: own trainable, then own non-trainable.
    if (b == n || (a < split_at && !(rank[b] < rank[a])))
      merged.push_back(a++);
    else
      merged.push_back(b++);
  }
  out.order = std::move(merged);
  return out;
}

}  // namespace keras64::detail
