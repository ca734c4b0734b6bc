// Legacy HDF5 models: `model.save("x.h5")` (full model) and `save_weights("x.h5")` (weights only)
// of Keras 1.x, Keras 2.x, tf.keras and Keras 3's legacy writer. Layout: docs/keras-formats.md
// §6-§7.
//
//   /                          attrs model_config (JSON), keras_version, backend, training_config
//   /model_weights             attrs layer_names (or layer_names0, layer_names1, ... when large)
//   /model_weights/<layer>     attr weight_names; datasets at <layer>/<weight name>, where the
//                              name's '/' make nested groups ("dense/mlp/dense/kernel")
//   /optimizer_weights         attr weight_names; datasets at optimizer_weights/<weight name>
// A weights-only file has the model_weights content at its root.
//
// Tensor order: layer_names x weight_names, each layer reordered into get_weights() order by
// sources/legacy_layout.hpp with the help of the model config (the file's own model_config, or
// the --model archive's config.json for a weights-only file).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "detail/hdf5/reader.hpp"
#include "detail/json_util.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"
#include "sources/keras_archive.hpp"
#include "sources/legacy_layout.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"
#include "sources/weights_tree.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {
namespace {

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

// The implicit destructor destroys a nlohmann::json, whose destructor may allocate (it flattens
// nested values onto a std::vector); only std::bad_alloc can escape, ending the process anyway.
// NOLINTNEXTLINE(bugprone-exception-escape)
class LegacyH5Source final : public Source {
 public:
  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  SourceStructure structure() const override {
    SourceStructure s;
    s.h5_files = [file = NativeFile{label_, label_, fs::path(label_).filename().string()}] {
      return std::vector<NativeFile>{file};
    };
    s.config = config_text_;
    return s;
  }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    checked_read(tensors_, index, first, count);
    tree_.read(*refs_[index], first, count, dst);
  }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override {
    return tree_.checksums(refs_);
  }

  void open(const fs::path& path, const OpenOptions& opts) {
    label_ = path.string();
    info_.file = label_;
    tree_.add_file(label_, label_);
    const hdf5::Object root = tree_.group(0, "");
    const bool full = tree_.has_group("model_weights") && !has_names(root, "layer_names");
    info_.kind = full ? SourceKind::legacy_h5 : SourceKind::legacy_weights_h5;
    base_ = full ? "model_weights" : "";
    const hdf5::Object wg = full ? tree_.group(0, "model_weights") : root;

    info_.keras_version = string_attr(root, "keras_version");
    if (info_.keras_version.empty() && full) info_.keras_version = string_attr(wg, "keras_version");
    if (full) {
      config_text_ = string_attr(root, "model_config");
      if (!config_text_.empty())
        config_ = parse_json(config_text_, label_ + ":/: attribute model_config");
    } else if (!opts.model.empty()) {
      load_architecture(opts.model);
    }
    if (config_.is_object() && config_.contains("config") && config_["config"].is_object())
      info_.model_name = config_["config"].value("name", "");

    if (!has_names(wg, "layer_names"))
      throw Error(Errc::corrupt, {label_, "", "/" + base_}, "no layer_names attribute");
    const std::vector<std::string> layers = names(wg, "layer_names");
    std::vector<const json*> layer_cfg(layers.size(), nullptr);
    if (!config_.is_null()) {
      const std::string where =
          label_ + ":/" + base_ +
          (model_label_.empty() ? "" : " (architecture: " + model_label_ + ")");
      layer_cfg = match_config_layers(config_, layers, where);
    }

    info_.order_exact = true;
    // The model's own variables (Keras 3 subclassed models), saved apart from the layers; in
    // get_weights() they come first.
    const std::string top = join(base_, "top_level_model_weights");
    if (tree_.has_group(top) &&
        !std::count(layers.begin(), layers.end(), "top_level_model_weights") &&
        has_names(tree_.group(0, top), "weight_names"))
      add_layer("top_level_model_weights", "", nullptr, Role::model);
    std::set<std::string> seen;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (!seen.insert(layers[i]).second)
        throw Error(Errc::corrupt, {label_, "", "/" + base_},
                    "layer_names lists '" + layers[i] + "' twice");
      add_layer(layers[i], layers[i], layer_cfg[i], Role::model);
    }
    if (!model_label_.empty() && info_.order_exact) check_against_model(opts.model);
    if (opts.include_optimizer && tree_.has_group("optimizer_weights")) add_optimizer();
  }

 private:
  // A weights-only file loaded against --model: Keras pairs the weights with the model's by
  // position and requires equal shapes, so a file that does not fit is refused here, naming the
  // first weight that differs, rather than converted into something that will not load.
  // An architecture file without weights (a bare config in a zip) gives no shapes to check.
  void check_against_model(const fs::path& model) {
    std::unique_ptr<Source> ref;
    try {
      ref = open_source(model);
    } catch (const Error&) {
      return;  // its config was read already; whatever else is wrong with it is not ours to say
    }
    std::vector<const TensorInfo*> want;
    for (const auto& t : ref->tensors())
      if (t.role == Role::model) want.push_back(&t);
    if (want.size() != tensors_.size())
      throw Error(Errc::mismatch, {label_},
                  std::to_string(tensors_.size()) + " weights in file, " +
                      std::to_string(want.size()) + " in " + model_label_);
    for (std::size_t i = 0; i < want.size(); ++i)
      if (tensors_[i].shape != want[i]->shape)
        throw Error(Errc::mismatch, {tensors_[i].file, "", tensors_[i].dataset},
                    "shape mismatch: " + shape_string(tensors_[i].shape) + " in file, " +
                        shape_string(want[i]->shape) + " in " + model_label_ + " (" +
                        want[i]->name + ")");
  }

  // Keras 2 splits attributes over 64512 bytes into name0, name1, ...
  // (save_attributes_to_hdf5_group).
  bool has_attr(const hdf5::Object& obj, const std::string& name) {
    return tree_.reader(0).attribute(obj, name).has_value();
  }
  bool has_names(const hdf5::Object& obj, const std::string& name) {
    return has_attr(obj, name) || has_attr(obj, name + "0");
  }

  // The reader names the file and object in its errors.
  std::vector<std::string> names(const hdf5::Object& obj, const std::string& name) {
    hdf5::Reader& r = tree_.reader(0);
    if (has_attr(obj, name)) return r.string_array_attr(obj, name);
    std::vector<std::string> out;
    for (int chunk = 0; has_attr(obj, name + std::to_string(chunk)); ++chunk)
      for (auto& s : r.string_array_attr(obj, name + std::to_string(chunk)))
        out.push_back(std::move(s));
    return out;
  }

  std::string string_attr(const hdf5::Object& obj, const std::string& name) {
    return tree_.reader(0).string_attr(obj, name).value_or("");
  }

  void load_architecture(const fs::path& model) {
    model_label_ = model.string();
    if (ZipReader::has_signature(model)) {
      const KerasArchive arch(model);  // only its config: the weights are the file's own
      config_text_ = arch.config_text();
      config_ = arch.config();
    } else if (hdf5::has_signature(model.string())) {
      hdf5::Reader f(model.string(), model_label_);
      auto text = f.string_attr(f.root(), "model_config");
      if (!text)
        throw Error(Errc::invalid_argument, {model_label_},
                    "the model architecture HDF5 file has no model_config "
                    "attribute");
      config_text_ = *text;
      config_ = parse_json(config_text_, model_label_ + ":/: attribute model_config");
    } else {
      detail::File::open_read(model);  // a missing file is an io error
      throw Error(Errc::invalid_argument, {model_label_},
                  "a model architecture must be a .keras archive or a full-model .h5");
    }
  }

  void add_layer(const std::string& group, const std::string& layer, const json* cfg, Role role) {
    const std::string gpath = join(base_, group);
    if (!tree_.has_group(gpath))
      throw Error(Errc::corrupt, {label_, "", "/" + gpath},
                  "missing group for layer '" + group + "' (listed in layer_names)");
    const hdf5::Object g = tree_.group(0, gpath);
    if (!has_names(g, "weight_names"))
      throw Error(Errc::corrupt, {label_, "", "/" + gpath},
                  "layer '" + group + "' has no weight_names attribute");
    const std::vector<std::string> weights = names(g, "weight_names");
    std::vector<std::string> paths;
    std::vector<const DatasetRef*> refs;
    std::set<std::string> seen;
    for (const auto& w : weights) {
      const std::string dpath = join(gpath, w);
      const DatasetRef* ref = tree_.dataset(dpath);
      if (!ref)
        throw Error(
            Errc::corrupt, {label_, "", "/" + dpath},
            "missing dataset: layer '" + group + "' lists weight '" + w + "' in weight_names");
      if (!seen.insert(w).second)
        throw Error(Errc::corrupt, {label_, "", "/" + dpath},
                    "layer '" + group + "' lists weight '" + w + "' twice");
      paths.push_back(strip_tf_suffix(w));
      refs.push_back(ref);
    }
    const std::string name = cfg ? config_layer_name(*cfg) : "";
    LegacyLayerOrder order = legacy_layer_order(name.empty() ? group : name, paths, cfg,
                                                info_.keras_version.starts_with("3."));
    if (!order.exact && info_.order_exact) {
      info_.order_exact = false;
      info_.note = order.note;
      info_.order_hint = order.hint;
    }
    for (std::size_t k : order.order) {
      TensorInfo t;
      t.name = join(group, weights[k]);
      t.dtype = refs[k]->info.dtype;
      t.shape = refs[k]->info.shape;
      t.role = role;
      t.file = label_;
      t.dataset = "/" + refs[k]->path;
      t.layer = layer;
      t.keras_path = paths[k];
      tensors_.push_back(std::move(t));
      refs_.push_back(refs[k]);
    }
  }

  void add_optimizer() {
    const hdf5::Object g = tree_.group(0, "optimizer_weights");
    if (!has_names(g, "weight_names"))
      throw Error(Errc::corrupt, {label_, "", "/optimizer_weights"}, "no weight_names attribute");
    for (const auto& w : names(g, "weight_names")) {
      const std::string dpath = join("optimizer_weights", w);
      const DatasetRef* ref = tree_.dataset(dpath);
      if (!ref)
        throw Error(Errc::corrupt, {label_, "", "/" + dpath},
                    "missing dataset: optimizer_weights lists weight '" + w + "' in weight_names");
      TensorInfo t;
      t.name = dpath;
      t.dtype = ref->info.dtype;
      t.shape = ref->info.shape;
      t.role = Role::optimizer;
      t.file = label_;
      t.dataset = "/" + dpath;
      t.layer = "optimizer";
      t.keras_path = strip_tf_suffix(w);
      tensors_.push_back(std::move(t));
      refs_.push_back(ref);
    }
  }

  SourceInfo info_;
  WeightsTree tree_;
  std::string label_;
  std::string base_;  // "model_weights" or "" (weights-only)
  std::string config_text_;
  json config_;
  std::string model_label_;  // the model file (OpenOptions::model), when it gave the architecture
  std::vector<TensorInfo> tensors_;
  std::vector<const DatasetRef*> refs_;
};

}  // namespace

std::unique_ptr<Source> open_legacy_h5(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<LegacyH5Source>();
  src->open(path, opts);
  return src;
}

}  // namespace keras64::detail
