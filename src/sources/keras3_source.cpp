// Keras 3 native formats: `.keras` (zip), `.weights.h5`, sharded `.weights.json` + shards.
// Layouts: docs/keras-formats.md §1-§4. Order: sources/keras3_layout.hpp.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "detail/file.hpp"
#include "detail/json_util.hpp"
#include "detail/temp_file.hpp"
#include "detail/zip_crc_check.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"
#include "sources/keras3_layout.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"
#include "sources/weights_tree.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {
namespace {

// The parts of a `.keras` archive keras64 uses. Keras stores `model.weights.h5` uncompressed: it
// is then read in place (WeightsTree::add_member: keras64's HDF5 reader over its byte range). A
// deflated member, which Keras never writes, is extracted to a temporary file.
struct KerasArchive {
  std::string label;  // the archive path as the user gave it
  std::string config_text;
  json config;
  std::string keras_version;
  ZipEntry weights_entry;
  mutable std::unique_ptr<TempFile> weights;  // the extracted member, made on demand

  explicit KerasArchive(const fs::path& path) : label(path.string()) {
    ZipReader zip(path);
    const ZipEntry* cfg = zip.find("config.json");
    if (!cfg) throw Error(Errc::corrupt, label + ": not a .keras archive: no config.json member");
    config_text = zip.read_all(*cfg);
    config = parse_json(config_text, label + ":config.json");
    if (const ZipEntry* meta = zip.find("metadata.json")) {
      json m = parse_json(zip.read_all(*meta, 1 << 20), label + ":metadata.json");
      if (m.is_object() && m.contains("keras_version") && m["keras_version"].is_string())
        keras_version = m["keras_version"].get<std::string>();
    }
    const ZipEntry* w = zip.find("model.weights.h5");
    if (!w) {
      if (zip.find("model.weights.npz"))
        throw Error(Errc::unsupported, label +
                                           ":model.weights.npz: the npz weights store holds "
                                           "pickled objects and is not supported");
      throw Error(Errc::corrupt, label + ": not a .keras archive: no model.weights.h5 member");
    }
    weights_entry = *w;
  }

  bool stored() const { return weights_entry.method == 0; }

  // The member as a file of its own: extracted (once) to a temporary file.
  const fs::path& extracted_weights() const {
    if (!weights) {
      auto tmp = std::make_unique<TempFile>("weights");
      ZipReader zip(label);
      const ZipEntry* w = zip.find("model.weights.h5");
      if (!w)
        throw Error(Errc::corrupt, label + ": not a .keras archive: no model.weights.h5 member");
      File out = File::create_truncate(tmp->path());
      zip.read(*w, [&](const void* p, std::size_t n) { out.write_all(p, n); });
      out.close();
      weights = std::move(tmp);
    }
    return weights->path();
  }

  void add_weights_to(WeightsTree& tree) const {
    const std::string member = label + ":model.weights.h5";
    if (stored())
      tree.add_member(member, label, weights_entry.data_offset, weights_entry.size);
    else
      tree.add_file(member, extracted_weights().string());
  }
};

class Keras3Source final : public Source {
 public:
  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string config_json() const override { return config_text_; }
  std::vector<NativeFile> native_files() const override {
    // A stored `.keras` member is given as its byte range of the archive (read in place); a
    // deflated one is extracted, once, when first asked for.
    if (archive_ && native_.empty()) {
      const KerasArchive& a = *archive_;
      const std::string label = a.label + ":model.weights.h5";
      if (a.stored())
        native_.push_back({a.label, label, "model.weights.h5", a.weights_entry.data_offset,
                           a.weights_entry.size});
      else
        native_.push_back({a.extracted_weights(), label, "model.weights.h5"});
    }
    return native_;
  }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    checked_read(tensors_, index, first, count);
    if (crc_check_) crc_check_->start();
    tree_.read(*refs_[index], first, count, dst);
  }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override {
    return tree_.checksums(refs_);
  }
  void verify_checksums() override {
    if (crc_check_) crc_check_->finish();
  }

  // Builds the tensor list. `config` guides the order; `reference` (the --model archive's own
  // weights) fixes the expected datasets and shapes, so that a weights file that does not match
  // its architecture fails here, naming the dataset, rather than producing a wrong model.
  void build(const json* config, const WeightsTree* reference, const std::string& reference_label,
             bool include_optimizer) {
    const WeightsTree& guide = reference ? *reference : tree_;
    Layout layout = keras3_layout(config, guide, include_optimizer && !reference);
    if (reference && include_optimizer) {
      // The optimizer of a bare weights file is its own: the architecture says nothing about it.
      Layout opt = keras3_layout(nullptr, tree_, true);
      for (auto& e : opt.entries)
        if (e.role == Role::optimizer) layout.entries.push_back(e);
    }
    info_.order_exact = layout.exact;
    info_.note = layout.note;
    for (const auto& e : layout.entries) {
      const DatasetRef* ref = tree_.dataset(e.path);
      if (reference && e.role == Role::model) {
        const DatasetRef* want = reference->dataset(e.path);
        if (!ref)
          throw Error(Errc::mismatch, info_.file + ":/" + e.path + ": missing dataset (" +
                                          reference_label + " has one of shape " +
                                          shape_string(want->info.shape) + ")");
        if (ref->info.shape != want->info.shape)
          throw Error(Errc::mismatch, tree_.label(ref->file) + ":/" + e.path +
                                          ": shape mismatch: " + shape_string(ref->info.shape) +
                                          " in file, " + shape_string(want->info.shape) + " in " +
                                          reference_label);
      }
      if (!ref) throw Error(Errc::internal, info_.file + ":/" + e.path + ": dataset vanished");
      TensorInfo t;
      t.name = e.path;
      t.dtype = ref->info.dtype;
      t.shape = ref->info.shape;
      t.role = e.role;
      t.file = tree_.label(ref->file);
      t.dataset = "/" + e.path;
      t.layer = e.layer;
      tensors_.push_back(std::move(t));
      refs_.push_back(ref);
    }
    if (reference) check_no_extra(layout);
  }

  // Adds one HDF5 file of this source's own layout (not of the --model reference).
  void add_file(const std::string& label, const std::string& disk_path, const std::string& name) {
    tree_.add_file(label, disk_path);
    native_.push_back({disk_path, label, name});
  }

  SourceInfo info_;
  WeightsTree tree_;
  mutable std::vector<NativeFile> native_;
  std::string config_text_;
  std::unique_ptr<KerasArchive> archive_;    // keeps an extracted member alive
  std::unique_ptr<KerasArchive> reference_;  // the --model archive
  // The CRC-32 of a stored model.weights.h5, which HDF5 reads in place (a deflated member is
  // checked as it is extracted).
  std::unique_ptr<ZipCrcCheck> crc_check_;

 private:
  // A vars group of the architecture with more datasets than the architecture has: Keras refuses
  // to load it ("expected 2 variables, but received 3"), so do we.
  void check_no_extra(const Layout& layout) {
    std::set<std::string> listed, groups;
    for (const auto& e : layout.entries) {
      listed.insert(e.path);
      groups.insert(e.path.substr(0, e.path.rfind('/')));
    }
    for (const auto& g : groups)
      for (const auto& d : tree_.datasets(g))
        if (!listed.count(g + "/" + d))
          throw Error(Errc::mismatch, info_.file + ":/" + g + "/" + d +
                                          ": unexpected dataset (not in the architecture)");
  }

  std::vector<TensorInfo> tensors_;
  std::vector<const DatasetRef*> refs_;
};

std::string model_name(const json& config) {
  if (config.is_object() && config.contains("config") && config["config"].is_object()) {
    const auto& c = config["config"];
    if (c.contains("name") && c["name"].is_string()) return c["name"].get<std::string>();
  }
  return "";
}

// Loads the --model architecture: a `.keras` archive whose config and weights describe the model.
std::unique_ptr<KerasArchive> load_architecture(const OpenOptions& opts, WeightsTree& ref_tree) {
  if (opts.model.empty()) return nullptr;
  if (!ZipReader::has_signature(opts.model)) {
    File::open_read(opts.model);  // an io error (missing file) is the more useful message
    throw Error(Errc::invalid_argument, opts.model.string() + ": --model must be a .keras archive");
  }
  auto arch = std::make_unique<KerasArchive>(opts.model);
  arch->add_weights_to(ref_tree);
  return arch;
}

void finish_bare(Keras3Source& src, const OpenOptions& opts) {
  WeightsTree ref_tree;
  src.reference_ = load_architecture(opts, ref_tree);
  if (src.reference_) {
    src.config_text_ = src.reference_->config_text;
    src.info_.model_name = model_name(src.reference_->config);
    src.build(&src.reference_->config, &ref_tree, src.reference_->label, opts.include_optimizer);
  } else {
    src.build(nullptr, nullptr, "", opts.include_optimizer);
  }
}

void require_keras_layout(const WeightsTree& tree, const std::string& label) {
  if (!tree.has_group("layers") && !tree.has_group("vars") && !tree.has_group("optimizer"))
    throw Error(Errc::unsupported,
                label + ": not a Keras weights file: no layers/, vars/ or optimizer/ group");
}

}  // namespace

std::unique_ptr<Source> open_keras3_zip(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  src->archive_ = std::make_unique<KerasArchive>(path);
  const KerasArchive& a = *src->archive_;
  src->info_.file = a.label;
  src->info_.kind = "keras3";
  src->info_.keras_version = a.keras_version;
  src->info_.model_name = model_name(a.config);
  src->config_text_ = a.config_text;
  a.add_weights_to(src->tree_);  // native_files() extracts the member only if asked
  if (a.stored())
    src->crc_check_ =
        std::make_unique<ZipCrcCheck>(a.label, a.label, std::vector<ZipEntry>{a.weights_entry});
  src->build(&a.config, nullptr, "", opts.include_optimizer);
  return src;
}

std::unique_ptr<Source> open_keras3_weights(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  src->info_.file = path.string();
  src->info_.kind = "keras3-weights";
  src->add_file(path.string(), path.string(), path.filename().string());
  require_keras_layout(src->tree_, path.string());
  finish_bare(*src, opts);
  return src;
}

std::unique_ptr<Source> open_keras3_sharded(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  const std::string label = path.string();
  src->info_.file = label;
  src->info_.kind = "keras3-sharded";
  json index = parse_json(read_text_file(path), label);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(Errc::corrupt, label + ": not a sharded weights index: no \"weight_map\" object");
  // Every shard named in the map, in name order (shards are numbered _00000, _00001, ...).
  std::set<std::string> shards;
  for (const auto& item : index["weight_map"].items()) {
    const std::string& group = item.key();  // named: clang 14 cannot capture bindings
    const json& files = item.value();
    auto add = [&](const json& f) {
      if (!f.is_string())
        throw Error(Errc::corrupt, label + ": weight_map[\"" + group + "\"] is not a file name");
      const std::string name = f.get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos ||
          name.find("..") != std::string::npos)
        throw Error(Errc::corrupt,
                    label + ": weight_map[\"" + group + "\"]: unsafe shard name '" + name + "'");
      shards.insert(name);
    };
    if (files.is_array())
      for (const auto& f : files) add(f);
    else
      add(files);
  }
  // Shards holding only empty groups are not in the map: take every consecutive shard too.
  std::string base = path.filename().string();
  for (const char* ext : {".weights.json", ".json"})
    if (base.size() > std::strlen(ext) && base.ends_with(ext)) {
      base.resize(base.size() - std::strlen(ext));
      break;
    }
  for (int i = 0;; ++i) {
    char num[16];
    std::snprintf(num, sizeof num, "_%05d", i);
    const std::string name = base + num + ".weights.h5";
    if (!fs::exists(path.parent_path() / name)) break;
    shards.insert(name);
  }
  if (shards.empty()) throw Error(Errc::corrupt, label + ": the index names no shards");
  for (const auto& s : shards) {
    const fs::path p = path.parent_path() / s;
    if (!fs::exists(p))
      throw Error(Errc::io, p.string() + ": missing shard (listed in " + label + ")", ENOENT);
    src->add_file(p.string(), p.string(), s);
  }
  finish_bare(*src, opts);
  return src;
}

}  // namespace keras64::detail
