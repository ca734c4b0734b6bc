// TensorFlow checkpoints (TF1 Saver V2, TF2 object checkpoints, tf-keras save_weights in TF
// format) and SavedModel directories, read without TensorFlow.
//
// Inputs, told apart by bytes and layout: a bundle prefix (`ckpt-9`: no such file, but
// `ckpt-9.index` is one), the `.index` file itself (ending in the table magic), a folder holding a
// `checkpoint` state file (its `model_checkpoint_path`, relative to the folder, is followed), or a
// SavedModel directory (`saved_model.pb` + `variables/variables.index`). The bundle layer
// (detail/tf_bundle.hpp) checks every block and tensor CRC (a tensor's as its bytes pass, once;
// verify_checksums() checks what was not read to its end); this file decides names, order and
// roles:
//
//  - name: the variable's TF name (the object graph's `full_name`, e.g. `seq/dense/kernel`) when
//    the graph has one and it is unique, else the key; TensorInfo::key is always the key.
//  - order: a SavedModel whose root has a `variables` list (Keras: model.variables) is in that
//    order, exact; so is a tf-keras SavedModel saved with save_traces=False (no such lists),
//    its order rebuilt from the object graph and the Keras metadata by tf-keras's rules
//    (tf_keras_weights.hpp) where they place every weight; a tf-keras save_weights checkpoint (root
//    edges `layer_with_weights-<j>`) is in layer order, each layer's variables in creation order
//    (best effort, not exact); anything else in key order. With --model (a legacy .h5, SavedModel
//    or tf-keras .keras of the same model), a checkpoint takes that file's order, every variable
//    paired and its shape checked (tf_model_order.hpp); exact when that file's order is.
//  - optimizer: variables under the root's `optimizer` edge or any node holding slot variables,
//    and the slots themselves; listed after the model's only with --include-optimizer.
//  - never converted, listed in SourceInfo::skipped: strings, resources, variants and other
//    types keras64 has no dtype for, Keras metric state (`keras_api/metrics/...`), and in a
//    SavedModel with a root `variables` list, the variables outside it.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "detail/file.hpp"
#include "detail/temp_file.hpp"
#include "detail/tf_bundle.hpp"
#include "keras64/error.hpp"
#include "sources/sniff.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"
#include "sources/tf_keras_skeleton.hpp"
#include "sources/tf_keras_weights.hpp"
#include "sources/tf_model_order.hpp"
#include "sources/tf_object_graph.hpp"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

constexpr char kTableMagic[8] = {'\x57', '\xfb', '\x80', '\x8b', '\x24', '\x75', '\x47', '\xdb'};
constexpr const char* kGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";
constexpr std::uint64_t kMaxGraph = std::uint64_t{256} << 20;

bool has_table_magic(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return false;
  try {
    File f = File::open_read(p);
    const std::uint64_t n = f.size();
    if (n < 48) return false;
    char tail[8];
    f.pread_all(tail, 8, n - 8);
    return std::memcmp(tail, kTableMagic, 8) == 0;
  } catch (const Error&) {
    return false;
  }
}

// The quoted value of `model_checkpoint_path` in a text-format CheckpointState, C escapes
// undone; empty if there is none.
std::string checkpoint_state_path(const std::string& text) {
  const std::string field = "model_checkpoint_path:";
  std::size_t at = 0;
  while ((at = text.find(field, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') break;
    at += field.size();
  }
  if (at == std::string::npos) return {};
  std::size_t p = text.find('"', at + field.size());
  if (p == std::string::npos) return {};
  std::string out;
  for (++p; p < text.size() && text[p] != '"'; ++p) {
    if (text[p] != '\\' || p + 1 >= text.size()) {
      out += text[p];
      continue;
    }
    const char c = text[++p];
    if (c >= '0' && c <= '7') {
      int v = 0;
      for (int k = 0; k < 3 && p < text.size() && text[p] >= '0' && text[p] <= '7'; ++k, ++p)
        v = v * 8 + (text[p] - '0');
      --p;
      out += static_cast<char>(v);
    } else {
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    }
  }
  return out;
}

// Where the bundle of an input is: its prefix, and whether the input is a SavedModel.
struct Located {
  fs::path prefix;
  bool saved_model = false;
};

// Which input is a TensorFlow one is decided by layout where the layout says it (a SavedModel
// folder, a `checkpoint` state file naming an existing index, a prefix that is no file but has an
// index), so that a damaged index in such a layout is reported as corrupt (exit 4), not as an
// unknown format; a lone `.index` file must also carry the table magic.
std::optional<Located> locate(const fs::path& path) {
  std::error_code ec;
  auto has_index = [&](const fs::path& prefix) {
    return fs::is_regular_file(prefix.string() + ".index", ec);
  };
  if (fs::is_directory(path, ec)) {
    if (fs::is_regular_file(path / "saved_model.pb", ec) &&
        has_index(path / "variables" / "variables"))
      return Located{path / "variables" / "variables", true};
    if (!fs::is_regular_file(path / "checkpoint", ec)) return std::nullopt;
    std::string target;
    try {
      target = checkpoint_state_path(read_text_file(path / "checkpoint", 1 << 20));
    } catch (const Error&) {
      return std::nullopt;
    }
    if (target.empty()) return std::nullopt;
    fs::path t = fs::path(target).is_absolute() ? fs::path(target) : path / target;
    // A folder copied elsewhere keeps the writer's absolute paths: look next to the file too.
    if (!has_index(t)) t = path / fs::path(target).filename();
    if (!has_index(t)) return std::nullopt;
    return Located{t, false};
  }
  if (fs::is_regular_file(path, ec)) {
    const std::string s = path.string();
    if (s.size() > 6 && s.ends_with(".index") && has_table_magic(path))
      return Located{s.substr(0, s.size() - 6), false};
    return std::nullopt;
  }
  if (!fs::exists(path, ec) && has_index(path)) return Located{path, false};
  return std::nullopt;
}

class TfCheckpointSource final : public Source {
 public:
  TfCheckpointSource(const fs::path& path, const Located& where, const OpenOptions& opts)
      : bundle_(where.prefix, path.string()), prefix_(where.prefix) {
    info_.file = path.string();
    info_.kind = where.saved_model ? SourceKind::tf_savedmodel : SourceKind::tf_checkpoint;
    std::optional<tf::SavedModelInfo> sm;
    if (where.saved_model) sm = tf::read_saved_model(path, info_.file);

    const auto& entries = bundle_.entries();
    std::optional<tf::ObjectGraph> graph;
    if (const tf::BundleEntry* g = bundle_.find(kGraphKey)) {
      const auto idx = static_cast<std::size_t>(g - entries.data());
      const auto strings = bundle_.read_strings(idx, kMaxGraph);
      if (strings.size() != 1)
        throw Error(Errc::corrupt, {info_.file, "", kGraphKey}, "not a scalar string");
      try {
        graph = tf::ObjectGraph::parse(strings[0]);
      } catch (const Error& e) {
        throw e.within({info_.file, "", kGraphKey});
      }
    }

    // Classify every entry that is a tensor of its own. Small entries that are never converted
    // (strings, metric state) still have their checksums verified: damage anywhere in a
    // checkpoint's data is reported, not only in the tensors converted.
    std::map<std::string, std::size_t> candidates;  // key -> entry index
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const tf::BundleEntry& e = entries[i];
      if (e.is_slice || e.key == kGraphKey) continue;
      if (!tf::to_dtype(e.dtype)) {
        info_.skipped.push_back({e.key, tf::tf_type_name(e.dtype)});
        if (e.dtype == tf::kString && e.slices.empty()) bundle_.read_strings(i, kMaxGraph);
      } else if (e.key.starts_with("keras_api/metrics/")) {
        info_.skipped.push_back({e.key, "Keras metric state"});
        if (e.slices.empty()) bundle_.verify(i);
      } else {
        candidates[e.key] = i;
      }
    }

    // The model's weights in get_weights() order, as node ids: the root's `variables` list, or,
    // in a tf-keras SavedModel saved without traces (no such lists), rebuilt from the object
    // graph and the Keras metadata (tf_keras_weights.hpp); `unplaced` says why not.
    std::optional<std::vector<int>> model_vars;
    std::optional<tf::KerasModelMetadata> meta;
    std::string unplaced;
    if (sm && graph) {
      model_vars = sm->root_variables;
      meta = tf::read_keras_metadata(path, *sm, info_.file);
      if (meta && !model_vars)
        if (auto r = tf::rebuild_weights(*sm, *meta, unplaced)) {
          model_vars = std::move(r->model);
          for (std::size_t l = 0; l < meta->layers.size(); ++l)
            meta->layers[l].variables = std::move(r->layers[l]);
        }
    }

    std::set<std::string> optimizer_keys;
    std::map<std::string, std::string> full_names;
    // The TF variable name: the graph's full_name; a TF1 checkpoint's keys are the graph names.
    auto tf_name = [&](const std::string& k) -> std::string {
      if (!graph) return k;
      auto it = full_names.find(k);
      return it == full_names.end() ? std::string() : it->second;
    };
    std::vector<std::string> model_order;  // keys, model tensors first
    if (graph) {
      for (const auto& n : graph->nodes)
        if (auto it = n.keys.find("VARIABLE_VALUE"); it != n.keys.end() && !n.full_name.empty())
          full_names[it->second] = n.full_name;
      // Optimizer state: below the root's `optimizer` edge or a node that owns slot variables.
      std::vector<int> opt_roots;
      if (int o = graph->root_child("optimizer"); o >= 0) opt_roots.push_back(o);
      for (std::size_t id = 0; id < graph->nodes.size(); ++id)
        if (!graph->nodes[id].slot_variables.empty()) {
          opt_roots.push_back(static_cast<int>(id));
          for (int s : graph->nodes[id].slot_variables)
            optimizer_keys.insert(graph->variable_key(s));
        }
      for (int r : opt_roots)
        for (int v : graph->variables_under(r)) optimizer_keys.insert(graph->variable_key(v));

      if (model_vars) {
        for (int id : *model_vars) {
          const std::string k = graph->variable_key(id);
          if (k.empty() || !candidates.count(k))
            throw Error(Errc::corrupt,
                        info_.file + ": saved_model.pb: variable node " + std::to_string(id) +
                            " of the model's " +
                            (sm->root_variables ? "root variables list" : "weights") +
                            " has no tensor");
          model_order.push_back(k);
        }
        info_.order_exact = true;
      } else if (graph->root_child("layer_with_weights-0") >= 0) {
        for (int j = 0;; ++j) {
          const int layer = graph->root_child("layer_with_weights-" + std::to_string(j));
          if (layer < 0) break;
          for (int v : graph->variables_under(layer)) model_order.push_back(graph->variable_key(v));
        }
        info_.note = (!sm    ? std::string("tf-keras checkpoint without its model")
                      : meta ? "tf-keras SavedModel without variables lists (save_traces=False) "
                               "whose weights cannot all be placed (" +
                                   unplaced + ")"
                             : std::string("tf-keras SavedModel without a root variables list or "
                                           "Keras metadata")) +
                     ": layers in layer_with_weights order, each layer's variables in creation "
                     "order, which is not get_weights() order for layers that create a "
                     "non-trainable variable before a trainable one";
      }
    }
    // --model: the order of another file of the same model (a SavedModel that records its own
    // order does not need one).
    if (!opts.model.empty() && !model_vars) {
      std::vector<tf::CheckpointVariable> vars;
      for (const auto& [k, i] : candidates)
        if (!optimizer_keys.count(k)) vars.push_back({k, tf_name(k), entries[i].shape});
      auto mo = tf::order_from_model(opts.model, graph ? &*graph : nullptr, vars, info_.file);
      model_order = std::move(mo.keys);
      info_.order_exact = mo.exact;
      info_.note = mo.note;
    }
    if (info_.note.empty() && !info_.order_exact)
      info_.note = graph ? "TensorFlow object checkpoint: key order (it records no get_weights() "
                           "order)"
                         : "TensorFlow checkpoint without an object graph (TF1): key order";

    // Model tensors in the order found, then the rest in key order; optimizer state last.
    std::vector<std::string> order;
    std::set<std::string> placed;
    auto place = [&](const std::string& k) {
      if (candidates.count(k) && !optimizer_keys.count(k) && placed.insert(k).second)
        order.push_back(k);
    };
    for (const auto& k : model_order) place(k);
    for (const auto& [k, i] : candidates) {
      // With the root's variables list (or the weights rebuilt), that list is the model:
      // anything else that is neither optimizer nor metric state (Keras 3 export tracks each
      // variable a second time under `_all_variables`) is not a model weight.
      if (model_vars && !optimizer_keys.count(k) && !placed.count(k)) {
        info_.skipped.push_back({k, sm->root_variables ? "not in the root's variables list"
                                                       : "not one of the model's weights"});
        bundle_.verify(i);
        continue;
      }
      place(k);
    }
    std::size_t model_count = order.size();
    for (const auto& [k, i] : candidates)
      if (optimizer_keys.count(k)) {
        if (opts.include_optimizer)
          order.push_back(k);
        else
          info_.skipped.push_back({k, "optimizer state (not included)"});
      }

    // Names: full_name where it is unique among the listed tensors, else the key.
    std::map<std::string, int> uses;
    for (const auto& k : order)
      if (auto it = full_names.find(k); it != full_names.end()) ++uses[it->second];
    std::set<std::string> names;
    for (std::size_t n = 0; n < order.size(); ++n) {
      const std::string& k = order[n];
      const tf::BundleEntry& e = entries[candidates[k]];
      TensorInfo t;
      auto fn = full_names.find(k);
      t.name = fn != full_names.end() && uses[fn->second] == 1 && !candidates.count(fn->second)
                   ? fn->second
                   : k;
      if (!names.insert(t.name).second) t.name = k;
      t.key = k;
      t.keras_path = tf_name(k);
      t.dtype = *tf::to_dtype(e.dtype);
      t.shape = e.shape;
      t.role = n < model_count ? Role::model : Role::optimizer;
      t.file = info_.file;
      t.dataset = k;
      tensors_.push_back(std::move(t));
      entry_of_.push_back(candidates[k]);
    }
    if (model_vars && meta) plan_skeleton(*graph, full_names, std::move(*meta));
  }

  // The bundle for --to tf-checkpoint. A tf-keras SavedModel also gives the structure of a
  // legacy .h5 (--to legacy-h5, issue #15.3): an HDF5 skeleton written from its Keras metadata
  // (keras_metadata.pb; before TF 2.5, saved_model.pb's SavedUserObject.metadata:
  // tf_keras_skeleton.hpp) when the legacy-h5 sink asks for it, never for other outputs.
  SourceStructure structure() const override {
    SourceStructure s;
    s.tf_bundle = prefix_;
    if (!keras_) return s;
    s.h5_files = [this] { return skeleton(); };
    s.config = keras_->model_config;
    return s;
  }

  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  // read() checks each entry's CRC when its last byte passes; what was not read to its end is
  // checked here (a no-op after a whole conversion).
  void verify_checksums() override {
    for (std::size_t i : entry_of_) {
      const tf::BundleEntry& e = bundle_.entries()[i];
      if (e.slices.empty()) bundle_.verify(i);
      for (std::size_t s : e.slice_entries) bundle_.verify(s);
    }
  }

  // TensorFlow's masked CRC32C of each stored entry (every slice of a partitioned tensor), for
  // verify(): read() checks them as the bytes pass, the way HDF5 checks fletcher32.
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override {
    std::vector<std::vector<TensorChecksum>> out;
    for (std::size_t i : entry_of_) {
      const tf::BundleEntry& e = bundle_.entries()[i];
      std::vector<TensorChecksum> sums;
      auto add = [&](const tf::BundleEntry& x) {
        sums.push_back({"tf-crc32c", x.crc, bundle_.label() + ":" + x.key});
      };
      if (e.slices.empty()) add(e);
      for (std::size_t s : e.slice_entries) add(bundle_.entries()[s]);
      out.push_back(std::move(sums));
    }
    return out;
  }

  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    const TensorInfo& t = checked_read(tensors_, index, first, count);
    const std::size_t size = keras64::info(t.dtype).size;
    const tf::BundleEntry& e = bundle_.entries()[entry_of_[index]];
    if (e.slices.empty())
      bundle_.read(entry_of_[index], first * size, count * size, dst);
    else
      read_sliced(e, first, count, size, static_cast<char*>(dst));
    if (bundle_.big_endian() && size > 1) {
      auto* p = static_cast<unsigned char*>(dst);
      for (std::uint64_t i = 0; i < count; ++i, p += size) std::reverse(p, p + size);
    }
  }

 private:
  // Each model tensor's place in a legacy .h5 of the model: its top-level layer and legacy
  // weight name (the variable's TF name + ":0"), as TensorInfo::layer and ::dataset. Only when
  // every model tensor has exactly one place; otherwise there is no skeleton.
  void plan_skeleton(const tf::ObjectGraph& g, const std::map<std::string, std::string>& full_names,
                     tf::KerasModelMetadata meta) {
    std::map<std::string, std::size_t> by_key;
    for (std::size_t i = 0; i < tensors_.size(); ++i)
      if (tensors_[i].role == Role::model) by_key[tensors_[i].key] = i;
    std::vector<bool> done(tensors_.size(), false);
    std::vector<tf::SkeletonWeight> weights;  // layer by layer, each in layer.weights order
    std::vector<std::size_t> index;
    for (const auto& l : meta.layers)
      for (int v : l.variables) {
        const std::string k = g.variable_key(v);
        auto it = by_key.find(k);
        auto fn = full_names.find(k);
        if (it == by_key.end() || fn == full_names.end() || done[it->second]) return;
        done[it->second] = true;
        const TensorInfo& t = tensors_[it->second];
        weights.push_back({l.name, fn->second + ":0", t.shape, t.dtype});
        index.push_back(it->second);
      }
    if (weights.size() != by_key.size()) return;
    for (std::size_t w = 0; w < weights.size(); ++w) {
      tensors_[index[w]].layer = weights[w].layer;
      tensors_[index[w]].dataset = "/model_weights/" + weights[w].layer + "/" + weights[w].name;
    }
    skeleton_weights_ = std::move(weights);
    keras_ = std::move(meta);
  }

  // Elements [first, first + count) of a partitioned tensor, from the slices that hold them.
  void read_sliced(const tf::BundleEntry& e, std::uint64_t first, std::uint64_t count,
                   std::size_t size, char* dst) {
    while (count > 0) {
      tf::SliceRun r;
      try {
        r = tf::slice_run(e, first, count);
      } catch (const Error& err) {
        throw err.within({bundle_.label()});
      }
      bundle_.read(e.slice_entries[r.slice], r.at * size, r.length * size, dst);
      dst += r.length * size;
      first += r.length;
      count -= r.length;
    }
  }

  // The skeleton's file, written on the first call (single-threaded: sinks call it from begin()).
  std::vector<NativeFile> skeleton() const {
    if (!skeleton_) {
      auto t = std::make_unique<TempFile>("skeleton");
      tf::write_legacy_skeleton(t->path(), *keras_, skeleton_weights_);
      skeleton_ = std::move(t);
    }
    return {{skeleton_->path(), info_.file + ":" + keras_->file, keras_->file}};
  }

  tf::Bundle bundle_;
  fs::path prefix_;                              // the bundle's prefix, for --to tf-checkpoint
  std::optional<tf::KerasModelMetadata> keras_;  // a tf-keras SavedModel's, when it has a skeleton
  std::vector<tf::SkeletonWeight> skeleton_weights_;
  mutable std::unique_ptr<TempFile> skeleton_;
  SourceInfo info_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::size_t> entry_of_;
};

}  // namespace

bool probe_tf_checkpoint(const Sniff& s) {
  return locate(s.path).has_value();
}

std::unique_ptr<Source> open_tf_checkpoint(const fs::path& path, const OpenOptions& opts) {
  const auto where = locate(path);
  if (!where)
    throw Error(Errc::unsupported, path.string() + ": not a TensorFlow checkpoint or SavedModel");
  return std::make_unique<TfCheckpointSource>(path, *where, opts);
}

}  // namespace keras64::detail
