#include "sources/tf_keras_skeleton.hpp"

#include <nlohmann/json.hpp>

#include "detail/file.hpp"
#include "detail/h5.hpp"
#include "keras64/error.hpp"
#include "keras_metadata.pb.h"

namespace keras64::detail::tf {
namespace {

using json = nlohmann::ordered_json;  // keeps the config's key order

constexpr std::uint64_t kMaxMetadata = std::uint64_t{256} << 20;

// tf-keras's KERAS_OBJECT_IDENTIFIERS (tf_keras/src/saving/legacy/saved_model/constants.py).
bool is_keras_object(const std::string& identifier) {
  for (const char* k :
       {"_tf_keras_input_layer", "_tf_keras_layer", "_tf_keras_metric", "_tf_keras_model",
        "_tf_keras_network", "_tf_keras_rnn_layer", "_tf_keras_sequential"})
    if (identifier == k) return true;
  return false;
}

// keras_metadata's JSON encodes tuples as {"class_name": "__tuple__", "items": [...]}; the config
// of a legacy .h5 has plain lists there (tf-keras's json_utils.get_json_type vs model.to_json()).
void untuple(json& j) {
  if (j.is_object()) {
    if (j.size() == 2 && j.contains("class_name") && j["class_name"] == "__tuple__" &&
        j.contains("items") && j["items"].is_array()) {
      json items = std::move(j["items"]);
      j = std::move(items);
      untuple(j);
      return;
    }
    for (auto& [k, v] : j.items()) untuple(v);
  } else if (j.is_array()) {
    for (auto& v : j) untuple(v);
  }
}

h5::Id checked(hid_t id, const char* what) {
  return h5::Id(h5::check(id, what, Errc::io));
}

void string_attr(hid_t obj, const char* name, const std::string& value) {
  h5::Id ty = checked(H5Tcopy(H5T_C_S1), "H5Tcopy");
  h5::check(H5Tset_size(ty.get(), H5T_VARIABLE), "H5Tset_size", Errc::internal);
  H5Tset_cset(ty.get(), H5T_CSET_UTF8);
  h5::Id space = checked(H5Screate(H5S_SCALAR), "H5Screate");
  h5::Id a = checked(H5Acreate2(obj, name, ty.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     "cannot create attribute");
  const char* p = value.c_str();
  h5::check(H5Awrite(a.get(), ty.get(), &p), "cannot write attribute", Errc::io);
}

// A list of names as Keras 2 writes `layer_names` / `weight_names`: variable-length strings (an
// empty list: an empty float64 array, as h5py stores np.array([])).
void names_attr(hid_t obj, const char* name, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  h5::Id space = checked(H5Screate_simple(1, &n, nullptr), "H5Screate_simple");
  if (values.empty()) {
    h5::Id a = checked(H5Acreate2(obj, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       "cannot create attribute");
    return;
  }
  h5::Id ty = checked(H5Tcopy(H5T_C_S1), "H5Tcopy");
  h5::check(H5Tset_size(ty.get(), H5T_VARIABLE), "H5Tset_size", Errc::internal);
  H5Tset_cset(ty.get(), H5T_CSET_UTF8);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  h5::Id a = checked(H5Acreate2(obj, name, ty.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     "cannot create attribute");
  h5::check(H5Awrite(a.get(), ty.get(), ptrs.data()), "cannot write attribute", Errc::io);
}

h5::Id group(hid_t parent, const std::string& name) {
  h5::Id lcpl = checked(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate");
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return checked(H5Gcreate2(parent, name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create group");
}

// Each Keras object's JSON by SavedObjectGraph node id, and the file it was read from:
// keras_metadata.pb (TF >= 2.5), or, in a SavedModel without that file, each Keras object's
// SavedUserObject.metadata in saved_model.pb (TF 2.0-2.4), read as tf-keras reads it
// (tf_keras/src/saving/legacy/saved_model/load.py, _read_legacy_metadata: the nodes whose
// identifier is a Keras object's and whose metadata is set).
std::map<int, json> keras_objects(const std::filesystem::path& dir, const SavedModelInfo& sm,
                                  const std::string& label, std::string& file) {
  std::map<int, json> by_node;
  auto add = [&](int id, const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_object()) by_node[id] = std::move(j);
  };
  std::error_code ec;
  const auto path = dir / "keras_metadata.pb";
  if (!std::filesystem::is_regular_file(path, ec)) {
    file = "saved_model.pb";
    for (std::size_t id = 0; id < sm.nodes.size(); ++id)
      if (is_keras_object(sm.nodes[id].identifier) && !sm.nodes[id].metadata.empty())
        add(static_cast<int>(id), sm.nodes[id].metadata);
    return by_node;
  }
  file = "keras_metadata.pb";
  std::string bytes;
  try {
    bytes = read_text_file(path, kMaxMetadata);
  } catch (const Error& e) {
    throw e.within({label});
  }
  tfproto::SavedMetadata pb;
  if (!pb.ParseFromString(bytes))
    throw Error(Errc::corrupt, {label, "keras_metadata.pb"}, "does not parse");
  for (const auto& n : pb.nodes()) add(n.node_id(), n.metadata());
  return by_node;
}

}  // namespace

std::optional<KerasModelMetadata> read_keras_metadata(const std::filesystem::path& dir,
                                                      const SavedModelInfo& sm,
                                                      const std::string& label) {
  std::string file;
  std::map<int, json> by_node = keras_objects(dir, sm, label, file);
  auto root = by_node.find(0);
  if (root == by_node.end() || !root->second.contains("config") ||
      !root->second.contains("class_name") || !root->second["class_name"].is_string())
    return std::nullopt;
  KerasModelMetadata out;
  out.file = file;
  json config = {{"class_name", root->second["class_name"]}, {"config", root->second["config"]}};
  untuple(config);
  out.model_config = config.dump();
  if (root->second.contains("keras_version") && root->second["keras_version"].is_string())
    out.keras_version = root->second["keras_version"].get<std::string>();
  // model.layers: the root's `layer-<i>` children, in i order (tf-keras tracks each layer so).
  if (sm.children.empty()) return std::nullopt;
  std::map<std::size_t, int> layer_nodes;
  for (const auto& [name, id] : sm.children[0])
    if (name.starts_with("layer-") && name.size() > 6 && name.size() < 16 &&
        name.find_first_not_of("0123456789", 6) == std::string::npos)
      layer_nodes[std::stoul(name.substr(6))] = id;
  for (const auto& [i, id] : layer_nodes) {
    auto it = by_node.find(id);
    // keras_metadata.pb has no checksum: one that does not describe this model's layers gives
    // no structure, but does not stop the weights from being read.
    if (it == by_node.end() || !it->second.contains("name") || !it->second["name"].is_string())
      return std::nullopt;
    SkeletonLayer l;
    l.name = it->second["name"].get<std::string>();
    l.node = id;
    if (auto v = sm.variables_of(id)) {
      l.variables = *v;
      l.listed = true;
    }
    out.layers.push_back(std::move(l));
  }
  for (const auto& [id, j] : by_node)
    if (j.contains("trainable") && j["trainable"].is_boolean())
      out.trainable[id] = j["trainable"].get<bool>();
  return out;
}

void write_legacy_skeleton(const std::filesystem::path& file, const KerasModelMetadata& meta,
                           const std::vector<SkeletonWeight>& weights) {
  h5::silence();
  const h5::Id fapl = h5::file_access();
  h5::Id f = checked(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                     "cannot create HDF5 file");
  string_attr(f.get(), "backend", "tensorflow");
  string_attr(f.get(), "keras_version", meta.keras_version);
  string_attr(f.get(), "model_config", meta.model_config);
  h5::Id mw = group(f.get(), "model_weights");
  std::vector<std::string> layer_names;
  for (const auto& l : meta.layers) layer_names.push_back(l.name);
  names_attr(mw.get(), "layer_names", layer_names);
  string_attr(mw.get(), "backend", "tensorflow");
  string_attr(mw.get(), "keras_version", meta.keras_version);
  for (const auto& l : meta.layers) {
    h5::Id g = group(mw.get(), l.name);
    std::vector<std::string> names;
    for (const auto& w : weights)
      if (w.layer == l.name) {
        names.push_back(w.name);
        std::vector<hsize_t> dims(w.shape.begin(), w.shape.end());
        h5::Id space = checked(
            dims.empty() ? H5Screate(H5S_SCALAR)
                         : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
            "H5Screate");
        // Never written: late allocation keeps it out of the file; only its shape is copied.
        h5::Id lcpl = checked(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate");
        H5Pset_create_intermediate_group(lcpl.get(), 1);
        checked(H5Dcreate2(g.get(), w.name.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(),
                           H5P_DEFAULT, H5P_DEFAULT),
                "cannot create dataset");
      }
    names_attr(g.get(), "weight_names", names);
  }
  h5::check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), "H5Fflush", Errc::io);
}

}  // namespace keras64::detail::tf
