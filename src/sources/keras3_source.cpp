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
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"
#include "sources/keras3_layout.hpp"
#include "sources/keras_archive.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"
#include "sources/weights_tree.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {
namespace {

class Keras3Source final : public Source {
 public:
  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  SourceStructure structure() const override {
    SourceStructure s;
    s.config = config_text_;
    if (archive_) {
      // A stored model.weights.h5 is given as its byte range of the archive (read in place); a
      // deflated one was extracted at open.
      s.h5_files = [file = archive_->weights_file()] { return std::vector<NativeFile>{file}; };
      s.archive = archive_->label();
      s.archive_members = archive_->member_names();
    } else {
      s.h5_files = [files = native_] { return files; };
    }
    return s;
  }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    checked_read(tensors_, index, first, count);
    if (archive_) archive_->start_weights_crc();
    tree_.read(*refs_[index], first, count, dst);
  }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override {
    return tree_.checksums(refs_);
  }
  void verify_checksums() override {
    if (archive_) archive_->verify_weights_crc();
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
    info_.order_hint = layout.hint;
    for (const auto& e : layout.entries) {
      const DatasetRef* ref = tree_.dataset(e.path);
      if (reference && e.role == Role::model) {
        const DatasetRef* want = reference->dataset(e.path);
        if (!ref)
          throw Error(Errc::mismatch, {info_.file, "", "/" + e.path},
                      "missing dataset (" + reference_label + " has one of shape " +
                          shape_string(want->info.shape) + ")");
        if (ref->info.shape != want->info.shape)
          throw Error(Errc::mismatch, tree_.at(ref->file, e.path),
                      "shape mismatch: " + shape_string(ref->info.shape) + " in file, " +
                          shape_string(want->info.shape) + " in " + reference_label);
      }
      if (!ref) throw Error(Errc::internal, {info_.file, "", "/" + e.path}, "dataset vanished");
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
  std::vector<NativeFile> native_;  // the HDF5 files of a bare or sharded input
  std::string config_text_;
  std::unique_ptr<KerasArchive> archive_;    // the .keras input (its weights are read from it)
  std::unique_ptr<KerasArchive> reference_;  // the --model archive

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
          throw Error(Errc::mismatch, {info_.file, "", "/" + g + "/" + d},
                      "unexpected dataset (not in the architecture)");
  }

  std::vector<TensorInfo> tensors_;
  std::vector<const DatasetRef*> refs_;
};

// Loads the --model architecture: a `.keras` archive whose config and weights describe the model.
std::unique_ptr<KerasArchive> load_architecture(const OpenOptions& opts, WeightsTree& ref_tree) {
  if (opts.model.empty()) return nullptr;
  if (!ZipReader::has_signature(opts.model)) {
    File::open_read(opts.model);  // an io error (missing file) is the more useful message
    throw Error(Errc::invalid_argument, {opts.model.string()},
                "a model architecture must be a .keras archive");
  }
  auto arch = std::make_unique<KerasArchive>(opts.model);
  arch->add_weights_to(ref_tree);
  return arch;
}

void finish_bare(Keras3Source& src, const OpenOptions& opts) {
  WeightsTree ref_tree;
  src.reference_ = load_architecture(opts, ref_tree);
  if (src.reference_) {
    const KerasArchive& ref = *src.reference_;
    src.config_text_ = ref.config_text();
    src.info_.model_name = ref.model_name();
    src.build(&ref.config(), &ref_tree, ref.label(), opts.include_optimizer);
  } else {
    src.build(nullptr, nullptr, "", opts.include_optimizer);
  }
}

void require_keras_layout(const WeightsTree& tree, const std::string& label) {
  if (!tree.has_group("layers") && !tree.has_group("vars") && !tree.has_group("optimizer"))
    throw Error(Errc::unsupported, {label},
                "not a Keras weights file: no layers/, vars/ or optimizer/ group");
}

}  // namespace

std::unique_ptr<Source> open_keras3_zip(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  src->archive_ = std::make_unique<KerasArchive>(path);
  KerasArchive& a = *src->archive_;
  src->info_.file = a.label();
  src->info_.kind = SourceKind::keras3;
  src->info_.keras_version = a.keras_version();
  src->info_.model_name = a.model_name();
  src->config_text_ = a.config_text();
  a.add_weights_to(src->tree_);
  src->build(&a.config(), nullptr, "", opts.include_optimizer);
  return src;
}

std::unique_ptr<Source> open_keras3_weights(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  src->info_.file = path.string();
  src->info_.kind = SourceKind::keras3_weights;
  src->add_file(path.string(), path.string(), path.filename().string());
  require_keras_layout(src->tree_, path.string());
  finish_bare(*src, opts);
  return src;
}

std::unique_ptr<Source> open_keras3_sharded(const fs::path& path, const OpenOptions& opts) {
  auto src = std::make_unique<Keras3Source>();
  const std::string label = path.string();
  src->info_.file = label;
  src->info_.kind = SourceKind::keras3_sharded;
  json index = parse_json(read_text_file(path), label);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(Errc::corrupt, {label}, "not a sharded weights index: no \"weight_map\" object");
  // Every shard named in the map, in name order (shards are numbered _00000, _00001, ...).
  std::set<std::string> shards;
  for (const auto& item : index["weight_map"].items()) {
    const std::string& group = item.key();  // named: clang 14 cannot capture bindings
    const json& files = item.value();
    auto add = [&](const json& f) {
      if (!f.is_string())
        throw Error(Errc::corrupt, {label}, "weight_map[\"" + group + "\"] is not a file name");
      const std::string name = f.get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos ||
          name.find("..") != std::string::npos)
        throw Error(Errc::corrupt, {label},
                    "weight_map[\"" + group + "\"]: unsafe shard name '" + name + "'");
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
  if (shards.empty()) throw Error(Errc::corrupt, {label}, "the index names no shards");
  for (const auto& s : shards) {
    const fs::path p = path.parent_path() / s;
    if (!fs::exists(p))
      throw Error(Errc::io, {p.string()}, "missing shard (listed in " + label + ")", ENOENT);
    src->add_file(p.string(), p.string(), s);
  }
  finish_bare(*src, opts);
  return src;
}

}  // namespace keras64::detail
