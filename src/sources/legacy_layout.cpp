#include "sources/legacy_layout.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
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

constexpr char kKnown = '\x01';  // marks an owner component whose config index is known

// Sibling orders: owner prefix -> its sublayer components in tracking order.
using SiblingOrders = std::map<std::vector<std::string>, std::vector<std::string>>;

struct SplitOrders {
  SiblingOrders orders;
  bool complete = true;  // false: some siblings' relative order is left open
};

// The sibling orders implied by reading `owner[0, s)` (trainable) and `owner[s, n)`
// (non-trainable) each as a pre-order walk, with the `fixed` orders imposed; nullopt when the
// split is impossible (an owner's variable after its sublayers', a sublayer resumed after a
// sibling, a cycle, or against a fixed order).
std::optional<SplitOrders> sibling_orders(const std::vector<std::vector<std::string>>& owner,
                                          std::size_t s, const SiblingOrders& fixed) {
  // parent -> (members in first-seen order, edges a -> b meaning a before b)
  struct Graph {
    std::vector<std::string> members;
    std::set<std::pair<std::string, std::string>> edges;
    void add(const std::string& m) {
      if (std::find(members.begin(), members.end(), m) == members.end()) members.push_back(m);
    }
  };
  std::map<std::vector<std::string>, Graph> g;
  for (const auto& o : owner)
    for (std::size_t d = 0; d < o.size(); ++d)
      g[std::vector<std::string>(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(d))].add(o[d]);
  for (const auto& [parent, v] : fixed)
    for (std::size_t k = 1; k < v.size(); ++k) g[parent].edges.insert({v[k - 1], v[k]});
  for (std::size_t i = 1; i < owner.size(); ++i) {
    if (i == s) continue;  // the parts are walked separately
    const auto& u = owner[i - 1];
    const auto& v = owner[i];
    std::size_t c = 0;
    while (c < u.size() && c < v.size() && u[c] == v[c]) ++c;
    if (c == u.size()) continue;             // same owner, or down into a sublayer
    if (c == v.size()) return std::nullopt;  // back up to an ancestor's own variable
    g[std::vector<std::string>(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(c))].edges.insert(
        {u[c], v[c]});
  }
  SplitOrders out;
  for (auto& [parent, graph] : g) {
    // Kahn's algorithm in first-seen order; the order is complete when each step has one choice.
    std::map<std::string, int> indegree;
    for (const auto& m : graph.members) indegree[m] = 0;
    for (const auto& [a, b] : graph.edges) ++indegree[b];
    std::vector<std::string> order;
    std::set<std::string> done;
    while (order.size() < graph.members.size()) {
      std::vector<std::string> ready;
      for (const auto& m : graph.members)
        if (!done.count(m) && indegree[m] == 0) ready.push_back(m);
      if (ready.empty()) return std::nullopt;  // a cycle
      if (ready.size() > 1) out.complete = false;
      const std::string& m = ready.front();
      done.insert(m);
      order.push_back(m);
      for (const auto& [a, b] : graph.edges)
        if (a == m) --indegree[b];
    }
    out.orders[parent] = std::move(order);
  }
  return out;
}

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
                                    const std::vector<std::string>& paths, const json* config,
                                    bool keras3) {
  LegacyLayerOrder out;
  const std::size_t n = paths.size();
  out.order.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.order[i] = i;
  if (n < 2) return out;

  // Owner path of each variable below the layer, one component per level: a layer of a nested
  // model found in the config is "\x01<index>" (its tracking order is known), any other sublayer
  // its name ("custom/resid/proj/kernel" in layer resid -> [proj]).
  std::vector<std::vector<std::string>> owner(n);
  std::map<std::vector<std::string>, const json*> node_of;  // config node of an owner prefix
  bool guessed = false;  // Keras 2 sublayers read as a nested model's, without a config
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> comps = split(paths[i]);
    comps.pop_back();
    auto anchor = std::find(comps.begin(), comps.end(), layer_name);
    std::vector<std::string> rel(anchor == comps.end() ? comps.begin() : anchor + 1, comps.end());
    const json* node = config;
    std::vector<std::string>& o = owner[i];
    node_of.emplace(o, node);
    for (const auto& name : rel) {
      int found = -1;
      if (node) {
        std::vector<const json*> sub = config_layers(*node);
        for (std::size_t j = 0; j < sub.size() && found < 0; ++j)
          if (config_layer_name(*sub[j]) == name) {
            found = static_cast<int>(j);
            node = sub[j];
          }
      }
      if (!keras3) {
        // Keras 2: a layer that is not a model lists its sublayers' variables in its own
        // trainable-then-non-trainable lists, as the file does - one owner. Without a config
        // it is not known whether this is such a layer or a nested model.
        if (node && found < 0) break;
        if (!node) guessed = true;
      }
      if (found < 0) node = nullptr;
      o.push_back(found < 0 ? name : std::string(1, kKnown) + std::to_string(found));
      if (node) node_of.emplace(o, node);
    }
  }
  SiblingOrders fixed;  // sibling orders that need no deciding: config order, known classes
  {
    std::map<std::vector<std::string>, std::vector<std::string>> kids;  // first-seen order
    for (const auto& o : owner)
      for (std::size_t d = 0; d < o.size(); ++d) {
        std::vector<std::string> parent(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(d));
        auto& v = kids[parent];
        if (std::find(v.begin(), v.end(), o[d]) == v.end()) v.push_back(o[d]);
      }
    for (auto& [parent, v] : kids) {
      const auto node = node_of.find(parent);
      const bool known_class =
          node != node_of.end() && all_trainable_sublayers().count(class_of(node->second));
      if (known_class) {
        fixed[parent] = v;  // all trainable: the file's first appearance is tracking order
        continue;
      }
      std::vector<std::string> known;
      for (const auto& k : v)
        if (k[0] == kKnown) known.push_back(k);
      std::sort(known.begin(), known.end(), [](const std::string& a, const std::string& b) {
        return std::stoi(a.substr(1)) < std::stoi(b.substr(1));
      });
      if (known.size() > 1) fixed[parent] = known;
    }
  }

  // Keras 2 without a config: a layer with variables of its own is no nested model (those own
  // none), so it lists its sublayers' variables as the file does.
  if (guessed && std::any_of(owner.begin(), owner.end(), [](const auto& o) { return o.empty(); }))
    return out;

  // The file holds the trainable variables (a subsequence of get_weights() order) and then the
  // non-trainable ones (another). Which split is true is not recorded, so every split is tried:
  // each must be a pre-order walk (a layer's own variables before its sublayers', one sublayer
  // after the other) in some order of siblings. The order is decided when every possible split
  // implies the same order of siblings.
  // When every sibling order is fixed already, the first possible split is as good as any.
  bool open_siblings = false;
  {
    std::map<std::vector<std::string>, std::set<std::string>> members;
    for (const auto& o : owner)
      for (std::size_t d = 0; d < o.size(); ++d)
        members[std::vector<std::string>(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(d))]
            .insert(o[d]);
    for (const auto& [parent, m] : members)
      if (m.size() > 1 && (!fixed.count(parent) || fixed.at(parent).size() != m.size()))
        open_siblings = true;
  }
  // Keras 2, no config, no own variables: a nested model (weights layer by layer) or a layer
  // (file order); said so unless both read the same.
  auto model_or_layer = [&] {
    for (std::size_t i = 0; i < n; ++i) out.order[i] = i;
    out.exact = false;
    out.note = "layer '" + layer_name +
               "' holds variables of sublayers, and only the architecture says whether it is a "
               "nested model (weights layer by layer) or a layer (file order, as Keras 2 lists "
               "them); file order used";
    out.hint = Hint::model;
    return out;
  };
  std::optional<SplitOrders> decided;
  bool ambiguous = false;
  for (std::size_t s = 0; s <= n; ++s) {
    auto orders = sibling_orders(owner, s, fixed);
    if (!orders) continue;  // not a possible split
    if (!orders->complete || (decided && decided->orders != orders->orders)) {
      ambiguous = true;
      break;
    }
    decided = std::move(orders);
    if (!open_siblings) break;
  }
  if (guessed && (ambiguous || !decided)) return model_or_layer();
  if (ambiguous) {
    const auto node = node_of.find({});
    const std::string cls = class_of(node == node_of.end() ? nullptr : node->second);
    out.exact = false;
    out.note =
        "layer '" + layer_name + "'" + (cls.empty() ? "" : " (class " + cls + ")") +
        " holds variables of several sublayers and the file does not say which are trainable; "
        "file order used";
    if (!config) out.hint = Hint::model;
    return out;
  }
  if (!decided) {
    out.exact = false;
    out.note = "layer '" + layer_name +
               "': weight_names are in neither get_weights() order nor "
               "trainable-then-non-trainable order; file order used";
    return out;
  }
  // get_weights() order: pre-order over the owners with the decided sibling orders; variables of
  // one owner keep their file order (trainable, then non-trainable).
  std::vector<std::vector<int>> rank(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < owner[i].size(); ++d) {
      const std::vector<std::string> parent(owner[i].begin(),
                                            owner[i].begin() + static_cast<std::ptrdiff_t>(d));
      const auto& sib = decided->orders.at(parent);
      rank[i].push_back(
          static_cast<int>(std::find(sib.begin(), sib.end(), owner[i][d]) - sib.begin()));
    }
  std::stable_sort(out.order.begin(), out.order.end(),
                   [&](std::size_t a, std::size_t b) { return rank[a] < rank[b]; });
  if (guessed && !std::is_sorted(out.order.begin(), out.order.end())) return model_or_layer();
  return out;
}

}  // namespace keras64::detail
