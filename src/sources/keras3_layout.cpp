#include "sources/keras3_layout.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

using json = nlohmann::json;

// Sublayer attributes in tracking (creation) order for classes whose order is not the save order.
const std::map<std::string, std::vector<std::string>>& known_sublayers() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"Bidirectional", {"forward_layer", "backward_layer"}},
      {"MultiHeadAttention", {"query_dense", "key_dense", "value_dense", "output_dense"}},
      {"GroupedQueryAttention", {"query_dense", "key_dense", "value_dense", "output_dense"}},
      {"LSTM", {"cell"}},
      {"GRU", {"cell"}},
      {"SimpleRNN", {"cell"}},
      {"RNN", {"cell"}},
      {"ConvLSTM1D", {"cell"}},
      {"ConvLSTM2D", {"cell"}},
      {"ConvLSTM3D", {"cell"}},
      {"TimeDistributed", {"layer"}},
      {"Wrapper", {"layer"}},
  };
  return table;
}

// config.layers of a model's config, or an empty list. (Never operator[] on a const json: a
// missing key there is undefined behaviour, and config.json comes from the user's file.)
const json& layers_of(const json& cfg) {
  static const json kNone = json::array();
  const auto c = cfg.find("config");
  if (c == cfg.end() || !c->is_object()) return kNone;
  const auto l = c->find("layers");
  return l != c->end() && l->is_array() ? *l : kNone;
}

bool is_model_class(const json& cfg) {
  if (!cfg.is_object()) return false;
  const auto cls = cfg.value("class_name", "");
  if (cls == "Sequential" || cls == "Functional" || cls == "Model") return true;
  const auto it = cfg.find("config");
  return it != cfg.end() && it->is_object() && it->contains("layers") && (*it)["layers"].is_array();
}

std::string class_of(const json* cfg) {
  if (!cfg || !cfg->is_object()) return "";
  const auto it = cfg->find("class_name");
  return it != cfg->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string name_of(const json* cfg) {
  if (!cfg || !cfg->is_object()) return "";
  const auto c = cfg->find("config");
  if (c == cfg->end() || !c->is_object()) return "";
  const auto n = c->find("name");
  return n != c->end() && n->is_string() ? n->get<std::string>() : "";
}

const json* sub_config(const json* cfg, const std::string& attr) {
  if (!cfg || !cfg->is_object() || !cfg->contains("config")) return nullptr;
  const auto ci = cfg->find("config");
  if (ci == cfg->end()) return nullptr;
  const json& c = *ci;
  if (!c.is_object()) return nullptr;
  auto pick = [&](const char* key) -> const json* {
    auto it = c.find(key);
    return it != c.end() && it->is_object() ? &*it : nullptr;
  };
  if (attr == "forward_layer" || attr == "layer") return pick("layer");
  if (attr == "backward_layer") {
    const json* b = pick("backward_layer");
    return b ? b : pick("layer");
  }
  if (attr == "cell") return pick("cell");
  return nullptr;
}

// Save order of sibling groups: by name, names starting with '_' after the rest.
bool save_order_less(const std::string& a, const std::string& b) {
  const bool ua = !a.empty() && a[0] == '_', ub = !b.empty() && b[0] == '_';
  if (ua != ub) return ub;
  return natural_less(a, b);
}

class Walker {
 public:
  Walker(const WeightsTree& tree, Layout& out) : tree_(tree), out_(out) {}

  void inexact(const std::string& why) {
    if (out_.exact) out_.note = why;
    out_.exact = false;
  }

  // Own variables of the object at `path`: vars/0..n-1 in numeric order.
  void own_vars(const std::string& path, const std::string& layer, Role role) {
    const std::string vars = path.empty() ? "vars" : path + "/vars";
    auto names = tree_.datasets(vars);
    std::sort(names.begin(), names.end(), natural_less);
    for (const auto& n : names) out_.entries.push_back({vars + "/" + n, layer, role});
  }

  bool has_weights(const std::string& path) const {
    const std::string pre = path + "/";
    const auto& all = tree_.all_datasets();
    auto it = all.lower_bound(pre);
    return it != all.end() && it->first.compare(0, pre.size(), pre) == 0;
  }

  // One saveable object (layer or model) and everything below it.
  void object(const json* cfg, const std::string& path, const std::string& layer) {
    if (!seen_.insert(path).second) return;
    own_vars(path, layer, Role::model);
    std::set<std::string> done = {"vars"};
    const std::string cls = class_of(cfg);
    if (cfg && is_model_class(*cfg)) {
      layers(layers_of(*cfg), path + "/layers", cls == "Sequential", layer);
      done.insert("layers");
    } else if (auto it = known_sublayers().find(cls); it != known_sublayers().end()) {
      for (const auto& attr : it->second) {
        const std::string sub = path + "/" + attr;
        if (!tree_.has_group(sub)) continue;
        object(sub_config(cfg, attr), sub, layer + "/" + attr);
        done.insert(attr);
      }
    }
    // Sublayers the config does not explain: save order. Their relative get_weights order is
    // only certain when at most one of them holds weights.
    auto rest = tree_.subgroups(path);
    std::sort(rest.begin(), rest.end(), save_order_less);
    int weighted = 0;
    for (const auto& g : rest) {
      if (done.count(g)) continue;
      if (has_weights(path + "/" + g)) ++weighted;
    }
    if (weighted > 1)
      inexact("layer '" + layer + "'" + (cls.empty() ? "" : " (class " + cls + ")") +
              " has several sublayers whose get_weights() order is not recorded; save order used");
    for (const auto& g : rest)
      if (!done.count(g)) object(nullptr, path + "/" + g, layer.empty() ? g : layer + "/" + g);
  }

  void layers(const json& list, const std::string& prefix, bool sequential,
              const std::string& parent) {
    if (!list.is_array()) return;
    std::map<std::string, int> counters;
    for (const auto& l : list) {
      const std::string cls = class_of(&l);
      if (cls.empty())
        throw Error(Errc::corrupt, "config.json: layer without class_name under " + prefix);
      if (sequential && cls == "InputLayer") continue;
      const std::string snake = to_snake_case(cls);
      const int n = counters[snake]++;
      const std::string key = n == 0 ? snake : snake + "_" + std::to_string(n);
      const std::string name = name_of(&l);
      object(&l, prefix + "/" + key, parent.empty() ? name : parent + "/" + name);
    }
    // Layer groups the config does not list (a mismatched --model) stay out of the order; the
    // caller compares the layout with the weights and reports them.
  }

 private:
  const WeightsTree& tree_;
  Layout& out_;
  std::set<std::string> seen_;
};

}  // namespace

std::string to_snake_case(const std::string& in) {
  // re.sub(r"\W+", "", name); re.sub("(.)([A-Z][a-z]+)", r"\1_\2"); re.sub("([a-z])([A-Z])",
  // r"\1_\2"); lower()
  std::string s;
  for (char c : in)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::string a;
  for (std::size_t i = 0; i < s.size(); ++i) {
    // (.)([A-Z][a-z]+): an upper followed by a lower, after any character. The regex skips a
    // match that would overlap the previous one, but that case ends in [a-z] and is then split
    // by the second rule anyway, so the result is the same.
    if (i > 0 && upper(s[i]) && i + 1 < s.size() && lower(s[i + 1])) a += '_';
    a += s[i];
  }
  std::string b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && lower(a[i - 1]) && upper(a[i])) b += '_';
    b += a[i];
  }
  for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t i2 = i, j2 = j;
      while (i2 < a.size() && a[i2] == '0') ++i2;
      while (j2 < b.size() && b[j2] == '0') ++j2;
      std::size_t ie = i2, je = j2;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      if (ie - i2 != je - j2) return ie - i2 < je - j2;
      int c = a.compare(i2, ie - i2, b, j2, je - j2);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

Layout keras3_layout(const nlohmann::json* config, const WeightsTree& tree,
                     bool include_optimizer) {
  Layout out;
  Walker w(tree, out);
  w.own_vars("", "", Role::model);
  if (config && config->is_object() && is_model_class(*config)) {
    w.layers(layers_of(*config), "layers", class_of(config) == "Sequential", "");
  } else {
    w.inexact(config ? "the model is not a Sequential or Functional model; save order used"
                     : "no architecture (config.json) available; save order used");
    if (!config) out.hint = Hint::model;
    auto top = tree.subgroups("layers");
    std::sort(top.begin(), top.end(), save_order_less);
    for (const auto& g : top) w.object(nullptr, "layers/" + g, g);
  }
  if (include_optimizer) {
    auto names = tree.datasets("optimizer/vars");
    std::sort(names.begin(), names.end(), natural_less);
    for (const auto& n : names)
      out.entries.push_back({"optimizer/vars/" + n, "optimizer", Role::optimizer});
  }
  return out;
}

}  // namespace keras64::detail
