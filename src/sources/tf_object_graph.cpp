#include "sources/tf_object_graph.hpp"

#include <algorithm>
#include <set>

#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "saved_model.pb.h"
#include "trackable_object_graph.pb.h"

namespace keras64::detail::tf {
namespace {

constexpr std::uint64_t kMaxSavedModel = std::uint64_t{1} << 30;  // protobuf's own cap is 2 GiB

// A list object's children are named "0", "1", ...: returns them in index order, or nullopt.
std::optional<std::vector<int>> list_items(const std::vector<std::pair<std::string, int>>& ch) {
  std::vector<std::pair<std::size_t, int>> items;
  for (const auto& [name, id] : ch) {
    if (name.empty() || name.size() > 9 ||
        name.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    items.emplace_back(std::stoul(name), id);
  }
  std::sort(items.begin(), items.end());
  std::vector<int> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].first != i) return std::nullopt;
    out.push_back(items[i].second);
  }
  return out;
}

}  // namespace

ObjectGraph ObjectGraph::parse(const std::string& bytes) {
  tfproto::TrackableObjectGraph pb;
  if (!pb.ParseFromString(bytes)) throw Error(Errc::corrupt, "object graph does not parse");
  ObjectGraph g;
  const int n = pb.nodes_size();
  auto check = [n](int id) {
    if (id < 0 || id >= n)
      throw Error(Errc::corrupt,
                  "object graph: node " + std::to_string(id) + " of " + std::to_string(n));
    return id;
  };
  for (const auto& node : pb.nodes()) {
    GraphNode gn;
    for (const auto& c : node.children())
      gn.children.emplace_back(c.local_name(), check(c.node_id()));
    for (const auto& a : node.attributes()) {
      gn.keys[a.name()] = a.checkpoint_key();
      if (a.name() == "VARIABLE_VALUE") gn.full_name = a.full_name();
    }
    for (const auto& s : node.slot_variables()) {
      check(s.original_variable_node_id());
      gn.slot_variables.push_back(check(s.slot_variable_node_id()));
    }
    g.nodes.push_back(std::move(gn));
  }
  if (g.nodes.empty()) throw Error(Errc::corrupt, "object graph has no root");
  return g;
}

std::string ObjectGraph::variable_key(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= nodes.size()) return {};
  auto it = nodes[static_cast<std::size_t>(id)].keys.find("VARIABLE_VALUE");
  return it == nodes[static_cast<std::size_t>(id)].keys.end() ? std::string() : it->second;
}

std::vector<int> ObjectGraph::variables_under(int from) const {
  std::vector<int> out;
  std::set<int> seen;
  std::vector<int> stack{from};
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (!seen.insert(id).second) continue;
    const GraphNode& node = nodes[static_cast<std::size_t>(id)];
    if (!variable_key(id).empty()) out.push_back(id);
    for (auto it = node.children.rbegin(); it != node.children.rend(); ++it)
      stack.push_back(it->second);
  }
  return out;
}

int ObjectGraph::root_child(const std::string& name) const {
  for (const auto& [n, id] : nodes[0].children)
    if (n == name) return id;
  return -1;
}

std::optional<std::vector<int>> SavedModelInfo::variables_of(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= children.size()) return std::nullopt;
  for (const auto& [name, list] : children[static_cast<std::size_t>(id)])
    if (name == "variables") return list_items(children[static_cast<std::size_t>(list)]);
  return std::nullopt;
}

SavedModelInfo read_saved_model(const std::filesystem::path& dir, const std::string& label) {
  std::string bytes;
  try {
    bytes = read_text_file(dir / "saved_model.pb", kMaxSavedModel);
  } catch (const Error& e) {
    throw e.within({label});
  }
  return parse_saved_model(bytes, label + ":saved_model.pb");
}

SavedModelInfo parse_saved_model(const std::string& bytes, const std::string& where) {
  tfproto::SavedModel pb;
  if (!pb.ParseFromString(bytes)) throw Error(Errc::corrupt, where + ": does not parse");
  if (pb.meta_graphs_size() == 0) throw Error(Errc::corrupt, where + ": no meta graph");
  // Several meta graphs share one variables/ bundle: the first (TF2 writes one) describes it.
  const auto& mg = pb.meta_graphs(0);
  SavedModelInfo info;
  info.tensorflow_version = mg.meta_info_def().tensorflow_version();
  if (!mg.has_object_graph_def() || mg.object_graph_def().nodes_size() == 0) return info;
  info.has_object_graph = true;
  const auto& nodes = mg.object_graph_def().nodes();
  const auto& root = nodes[0];
  if (root.has_user_object()) info.root_identifier = root.user_object().identifier();
  for (const auto& n : nodes) {
    auto& node = info.nodes.emplace_back();
    if (n.has_user_object()) {
      node.identifier = n.user_object().identifier();
      node.metadata = n.user_object().metadata();
    } else if (n.has_variable()) {
      node.variable = true;
      node.trainable = n.variable().trainable();
    }
    auto& ch = info.children.emplace_back();
    for (const auto& c : n.children()) {
      if (c.node_id() < 0 || c.node_id() >= nodes.size())
        throw Error(Errc::corrupt, where + ": a child is node " + std::to_string(c.node_id()) +
                                       " of " + std::to_string(nodes.size()));
      ch.emplace_back(c.local_name(), c.node_id());
    }
  }
  for (const auto& c : root.children()) {
    if (c.local_name() != "variables") continue;
    if (c.node_id() < 0 || c.node_id() >= nodes.size())
      throw Error(Errc::corrupt, where + ": the root's variables list is node " +
                                     std::to_string(c.node_id()) + " of " +
                                     std::to_string(nodes.size()));
    std::vector<std::pair<std::string, int>> ch;
    for (const auto& v : nodes[c.node_id()].children()) {
      if (v.node_id() < 0 || v.node_id() >= nodes.size() || !nodes[v.node_id()].has_variable())
        throw Error(Errc::corrupt, where + ": the root's variables list holds node " +
                                       std::to_string(v.node_id()) + ", not a variable");
      ch.emplace_back(v.local_name(), v.node_id());
    }
    info.root_variables = list_items(ch);
    if (!info.root_variables)
      throw Error(Errc::corrupt, where + ": the root's variables list is not numbered 0..n-1");
  }
  return info;
}

}  // namespace keras64::detail::tf
