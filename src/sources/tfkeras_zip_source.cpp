// `.keras` archives written by tf.keras 2.13-2.15 (metadata.json keras_version "2.x").
//
// Same zip members as Keras 3 (metadata.json, config.json, model.weights.h5), but the weights
// file follows tf.keras's object walk: each object's variables sit in `<path>/vars/0..n-1` as in
// Keras 3, while the layers of a model may sit under `_layer_checkpoint_dependencies/<key>` (a
// dict holding every weighted layer twice, so keys skip numbers: dense, dense_2, ...) rather than
// `layers/<key>`, and files written on Windows have '\' instead of '/' inside group names
// ("layers\dense" is one HDF5 group). Paths are normalised to '/' for names; datasets are read
// at their real path.
//
// Order: the model's layers are paired with the weighted layer groups of their class, in config
// order (the k-th Dense of the config with the k-th weighted dense* group); inside a layer its own
// vars come first, then its weighted sublayer subtrees: a nested model's layers paired with its
// config the same way; the sublayers of MultiHeadAttention and Bidirectional in their tf-keras
// get_weights() order (tf-keras saves attributes sorted by name: _key_dense before _query_dense,
// backward_layer before forward_layer); at most one other weighted sublayer. Anything else
// (several unknown weighted sublayers, counts that do not pair up) keeps file order and says so.
// The metrics/ group (metric state after compile(metrics) + fit) is left out, as get_weights()
// leaves it out.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "keras64/error.hpp"
#include "sources/keras3_layout.hpp"
#include "sources/keras_archive.hpp"
#include "sources/legacy_layout.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"
#include "sources/weights_tree.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {
namespace {

bool save_order_less(const std::string& a, const std::string& b) {
  const bool ua = !a.empty() && a[0] == '_', ub = !b.empty() && b[0] == '_';
  if (ua != ub) return ub;
  return natural_less(a, b);
}

// "dense_2" is a key of class snake name "dense"; so is "dense".
bool key_of_class(const std::string& key, const std::string& snake) {
  if (key == snake) return true;
  if (key.size() <= snake.size() + 1 || key.compare(0, snake.size(), snake) != 0 ||
      key[snake.size()] != '_')
    return false;
  return std::all_of(key.begin() + static_cast<std::ptrdiff_t>(snake.size()) + 1, key.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// The implicit destructor destroys a nlohmann::json, whose destructor may allocate (it flattens
// nested values onto a std::vector); only std::bad_alloc can escape, ending the process anyway.
// NOLINTNEXTLINE(bugprone-exception-escape)
class TfKerasZipSource final : public Source {
 public:
  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  SourceStructure structure() const override {
    SourceStructure s;
    s.h5_files = [file = archive_->weights_file()] { return std::vector<NativeFile>{file}; };
    s.config = config_text_;
    s.archive = archive_->label();
    s.archive_members = archive_->member_names();
    return s;
  }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    checked_read(tensors_, index, first, count);
    archive_->start_weights_crc();
    tree_.read(*refs_[index], first, count, dst);
  }
  void verify_checksums() override { archive_->verify_weights_crc(); }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override {
    return tree_.checksums(refs_);
  }

  void open(const fs::path& path, const OpenOptions& opts) {
    archive_ = std::make_unique<KerasArchive>(path);
    info_.file = archive_->label();
    info_.kind = SourceKind::tfkeras;  // a .keras archive written by tf.keras 2.x
    info_.keras_version = archive_->keras_version();
    info_.model_name = archive_->model_name();
    config_text_ = archive_->config_text();
    config_ = archive_->config();
    member_ = info_.file + ":model.weights.h5";
    archive_->add_weights_to(tree_);
    for (const auto& [real, ref] : tree_.all_datasets()) {
      std::string norm = real;
      std::replace(norm.begin(), norm.end(), '\\', '/');
      if (!by_norm_.emplace(norm, &ref).second)
        throw Error(Errc::corrupt, member_ + ":/" + real +
                                       ": dataset path clashes with another after '\\' -> '/'");
    }
    info_.order_exact = true;
    build();
    if (opts.include_optimizer)
      for (const auto& p : vars_of("optimizer")) add(p, "optimizer", Role::optimizer);
  }

 private:
  void inexact(const std::string& why) {
    if (info_.order_exact) info_.note = why;
    info_.order_exact = false;
  }

  // Datasets "<group>/vars/<n>" in numeric order.
  std::vector<std::string> vars_of(const std::string& group) const {
    std::vector<std::string> out;
    const std::string pre = group.empty() ? "vars/" : group + "/vars/";
    for (auto it = by_norm_.lower_bound(pre);
         it != by_norm_.end() && it->first.compare(0, pre.size(), pre) == 0; ++it)
      if (it->first.find('/', pre.size()) == std::string::npos) out.push_back(it->first);
    std::sort(out.begin(), out.end(), natural_less);
    return out;
  }

  // Child group names of `group` that hold datasets somewhere below, in save order.
  std::vector<std::string> weighted_children(const std::string& group) const {
    std::set<std::string> kids;
    const std::string pre = group.empty() ? "" : group + "/";
    for (auto it = by_norm_.lower_bound(pre);
         it != by_norm_.end() && it->first.compare(0, pre.size(), pre) == 0; ++it) {
      const auto slash = it->first.find('/', pre.size());
      if (slash != std::string::npos) kids.insert(it->first.substr(pre.size(), slash - pre.size()));
    }
    kids.erase("vars");
    std::vector<std::string> out(kids.begin(), kids.end());
    std::sort(out.begin(), out.end(), save_order_less);
    return out;
  }

  void add(const std::string& norm, const std::string& layer, Role role) {
    if (!listed_.insert(norm).second) return;
    const DatasetRef* ref = by_norm_.at(norm);
    TensorInfo t;
    t.name = norm;
    t.dtype = ref->info.dtype;
    t.shape = ref->info.shape;
    t.role = role;
    t.file = member_;
    t.dataset = "/" + ref->path;
    t.layer = layer;
    tensors_.push_back(std::move(t));
    refs_.push_back(ref);
  }

  // Sublayer groups of tf-keras layers with several weighted sublayers, in get_weights() order.
  static const std::vector<std::string>* known_sublayers(const std::string& cls) {
    static const std::map<std::string, std::vector<std::string>> table = {
        {"MultiHeadAttention", {"_query_dense", "_key_dense", "_value_dense", "_output_dense"}},
        {"Bidirectional", {"forward_layer", "backward_layer"}},
    };
    const auto it = table.find(cls);
    return it == table.end() ? nullptr : &it->second;
  }

  // The group under `group` that holds a model's layer groups, or "".
  std::string layers_container(const std::string& group) const {
    const std::string pre = group.empty() ? "" : group + "/";
    for (const char* c : {"layers", "_layer_checkpoint_dependencies", "_self_tracked_trackables"})
      if (!weighted_children(pre + c).empty()) return pre + c;
    return "";
  }

  // One object (`cfg`: its layer config, or null): own vars, then its weighted sublayer subtrees.
  void object(const std::string& group, const std::string& layer, const json* cfg = nullptr) {
    for (const auto& p : vars_of(group)) add(p, layer, Role::model);
    const auto kids = weighted_children(group);
    if (cfg && !config_layers(*cfg).empty()) {  // a nested model: its layers by its config
      const std::string container = layers_container(group);
      if (kids.size() == 1 && container == group + "/" + kids.front()) {
        model_layers(container, *cfg, layer);
        return;
      }
    }
    if (kids.size() > 1 && cfg)
      if (const auto* order = known_sublayers(cfg->value("class_name", ""))) {
        std::vector<std::string> known;
        for (const auto& k : *order)
          if (std::find(kids.begin(), kids.end(), k) != kids.end()) known.push_back(k);
        if (known.size() == kids.size()) {
          for (const auto& k : known) object(group + "/" + k, layer);
          return;
        }
      }
    if (kids.size() > 1)
      inexact("layer '" + layer +
              "' has several sublayers whose get_weights() order tf.keras does not record; save "
              "order used");
    for (const auto& k : kids) object(group + "/" + k, layer);
  }

  // Pairs the layers of the model config `cfg` with the weighted layer groups under `container`
  // (all named `layer` when given: a nested model's tensors belong to its outer layer).
  void model_layers(const std::string& container, const json& cfg, const std::string& layer = "") {
    const auto keys = weighted_children(container);
    std::vector<const json*> layers = config_layers(cfg);
    // Pair config layers with weighted groups class by class.
    std::map<std::string, std::vector<std::string>> groups_of;  // snake class -> weighted keys
    std::vector<std::pair<std::string, const json*>> plan;      // (key, layer config)
    std::set<std::string> used;
    bool paired = !container.empty() && !layers.empty();
    std::map<std::string, std::size_t> next;
    for (const json* l : layers) {
      const std::string cls = l->value("class_name", "");
      if (cls == "InputLayer") continue;
      const std::string snake = to_snake_case(cls);
      if (!groups_of.count(snake)) {
        auto& g = groups_of[snake];
        for (const auto& k : keys)
          if (key_of_class(k, snake)) g.push_back(k);
        std::sort(g.begin(), g.end(), natural_less);
      }
      auto& g = groups_of[snake];
      std::size_t& i = next[snake];
      if (i < g.size()) {
        plan.emplace_back(g[i], l);
        used.insert(g[i]);
        ++i;
      }
    }
    for (const auto& [snake, g] : groups_of)
      if (next[snake] != g.size()) paired = false;
    if (used.size() != keys.size()) paired = false;
    if (!paired) {
      inexact(container.empty() ? "no layer groups found in model.weights.h5; save order used"
                                : "the weighted layer groups under " + container +
                                      "/ do not pair up with the config's layers; save order used");
      for (const auto& k : keys) object(container + "/" + k, layer.empty() ? k : layer);
      return;
    }
    for (const auto& [key, l] : plan)
      object(container + "/" + key, layer.empty() ? config_layer_name(*l) : layer, l);
  }

  void build() {
    const std::string container = layers_container("");
    for (const auto& p : vars_of("")) add(p, info_.model_name, Role::model);
    model_layers(container, config_);
    // Anything not reached (other top-level groups) follows in save order. Metric state
    // (compile(metrics=...) then fit: metrics/mean/vars, totals and counts) is never part of
    // get_weights(); structure-preserving outputs carry it with the rest of the file.
    for (const auto& k : weighted_children(""))
      if (k != container && k != "vars" && k != "optimizer" && k != "metrics") object(k, k);
  }

  SourceInfo info_;
  WeightsTree tree_;
  std::unique_ptr<KerasArchive> archive_;
  std::string member_;
  std::string config_text_;
  json config_;
  std::map<std::string, const DatasetRef*> by_norm_;
  std::set<std::string> listed_;
  std::vector<TensorInfo> tensors_;
  std::vector<const DatasetRef*> refs_;
};

}  // namespace

bool is_tfkeras_zip(const fs::path& path) {
  try {
    return KerasArchive(path).keras_version().starts_with("2.");
  } catch (const Error&) {
    return false;  // the Keras 3 source reports a damaged archive (the same reader, the same rule)
  }
}

std::unique_ptr<Source> open_tfkeras_zip(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<TfKerasZipSource>();
  src->open(path, opts);
  return src;
}

}  // namespace keras64::detail
