#include "sources/weights_tree.hpp"

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

std::string parent_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

}  // namespace

void WeightsTree::add_file(const ErrorContext& where, const std::string& disk_path) {
  add_open(std::make_unique<OpenFile>(OpenFile{where.str(), hdf5::Reader(disk_path, where)}));
}

void WeightsTree::add_member(const ErrorContext& where, const std::string& archive,
                             std::uint64_t offset, std::uint64_t size) {
  add_open(std::make_unique<OpenFile>(
      OpenFile{where.str(), hdf5::Reader(archive, offset, size, where)}));
}

void WeightsTree::add_open(std::unique_ptr<OpenFile> f) {
  files_.push_back(std::move(f));
  groups_.insert("");
  scan(files_.size() - 1, files_.back()->h5.root(), "");
}

void WeightsTree::scan(std::size_t file, const hdf5::Object& group, const std::string& prefix) {
  // Nesting is bounded by the reader (64 levels, no cycles).
  hdf5::Reader& r = files_[file]->h5;
  for (const auto& link : r.links(group)) {
    const std::string path = join(prefix, link.name);
    const hdf5::Object child = r.child(group, link);
    if (child.kind == hdf5::Kind::group) {
      groups_.insert(path);
      scan(file, child, path);
    } else if (child.kind == hdf5::Kind::dataset) {
      DatasetRef ref;
      ref.file = file;
      ref.path = path;
      ref.dataset = r.dataset(child);
      ref.object = child;
      ref.info = ref.dataset.info;
      auto [it, inserted] = datasets_.emplace(path, std::move(ref));
      if (!inserted)
        throw Error(Errc::corrupt, at(file, path),
                    "dataset also present in " + files_[it->second.file]->label);
    }
  }
}

hdf5::Object WeightsTree::group(std::size_t file, const std::string& path) {
  hdf5::Reader& r = files_[file]->h5;
  auto obj = r.find(path);
  if (!obj || obj->kind != hdf5::Kind::group)
    throw Error(Errc::corrupt, at(file, path), "not a group");
  return *obj;
}

const DatasetRef* WeightsTree::dataset(const std::string& path) const {
  auto it = datasets_.find(path);
  return it == datasets_.end() ? nullptr : &it->second;
}

std::vector<std::string> WeightsTree::subgroups(const std::string& path) const {
  std::vector<std::string> out;
  const std::string pre = path.empty() ? "" : path + "/";
  for (auto it = groups_.lower_bound(pre);
       it != groups_.end() && it->compare(0, pre.size(), pre) == 0; ++it)
    if (!it->empty() && *it != path && parent_of(*it) == path)
      out.push_back(it->substr(pre.size()));
  return out;
}

std::vector<std::string> WeightsTree::datasets(const std::string& path) const {
  std::vector<std::string> out;
  const std::string pre = path.empty() ? "" : path + "/";
  for (auto it = datasets_.lower_bound(pre);
       it != datasets_.end() && it->first.compare(0, pre.size(), pre) == 0; ++it)
    if (parent_of(it->first) == path) out.push_back(it->first.substr(pre.size()));
  return out;
}

std::vector<std::vector<TensorChecksum>> WeightsTree::checksums(
    const std::vector<const DatasetRef*>& refs) const {
  std::vector<std::vector<TensorChecksum>> out(refs.size());
  bool any = false;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const DatasetRef& r = *refs[i];
    const std::string where = files_[r.file]->label + ":/" + r.path;
    if (auto a = files_[r.file]->h5.attribute(r.object, "keras64.crc32c")) {
      if (a->type.cls != hdf5::Datatype::integer || a->type.size != 4 || a->type.is_signed ||
          a->space.elements != 1)
        throw Error(Errc::corrupt, at(r.file, r.path),
                    "attribute keras64.crc32c is not one uint32");
      const auto v = files_[r.file]->h5.numbers(r.object, *a);
      out[i].push_back({"crc32c", static_cast<std::uint32_t>(v.at(0)), where});
    }
    for (const auto& f : r.dataset.filters)
      if (f.id == 3) out[i].push_back({"fletcher32", 0, where});
    any = any || !out[i].empty();
  }
  if (!any) out.clear();
  return out;
}

void WeightsTree::read(const DatasetRef& ref, std::uint64_t first, std::uint64_t count, void* dst) {
  // Contiguous data: the reader checked at open that [offset, offset + size) lies in the file.
  files_[ref.file]->h5.read(ref.dataset, first, count, dst);
}

}  // namespace keras64::detail
