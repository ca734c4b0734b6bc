#include "sources/weights_tree.hpp"

#include "detail/h5_member.hpp"
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

void WeightsTree::add_file(const std::string& label, const std::string& disk_path) {
  auto f = std::make_unique<OpenFile>();
  f->label = label;
  try {
    f->h5 = h5::open_file(disk_path);
    f->raw = File::open_read(disk_path);
  } catch (const Error& e) {
    throw e.with_context(label);
  }
  add_open(std::move(f));
}

void WeightsTree::add_member(const std::string& label, const std::string& archive,
                             std::uint64_t offset, std::uint64_t size) {
  auto f = std::make_unique<OpenFile>();
  f->label = label;
  f->base = offset;
  f->limit = size;
  try {
    f->h5 = h5::open_member(archive, offset, size);
    f->raw = File::open_read(archive);
  } catch (const Error& e) {
    throw e.with_context(label);
  }
  add_open(std::move(f));
}

void WeightsTree::add_open(std::unique_ptr<OpenFile> f) {
  files_.push_back(std::move(f));
  groups_.insert("");
  scan(files_.size() - 1, files_.back()->h5.get(), "", 0);
}

void WeightsTree::scan(std::size_t file, hid_t group, const std::string& prefix, int depth) {
  // Keras nests a few levels per layer; 64 is far beyond any real model and stops cycles made of
  // hard links in hostile files.
  if (depth > 64)
    throw Error(Errc::corrupt, files_[file]->label + ":/" + prefix + ": groups nested too deeply");
  for (const auto& c : h5::children(group)) {
    const std::string path = join(prefix, c.name);
    if (c.kind == h5::ObjKind::group) {
      groups_.insert(path);
      h5::Id g = h5::open_group(group, c.name);
      scan(file, g.get(), path, depth + 1);
    } else if (c.kind == h5::ObjKind::dataset) {
      DatasetRef ref;
      ref.file = file;
      ref.path = path;
      try {
        h5::Id d = h5::open_dataset(group, c.name);
        ref.info = h5::dataset_info(d.get());
      } catch (const Error& e) {
        throw e.with_context(files_[file]->label + ":/" + path);
      }
      auto [it, inserted] = datasets_.emplace(path, std::move(ref));
      if (!inserted)
        throw Error(Errc::corrupt, files_[file]->label + ":/" + path +
                                       ": dataset also present in " +
                                       files_[it->second.file]->label);
    }
  }
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
    try {
      h5::Id d = h5::open_dataset(files_[r.file]->h5.get(), r.path);
      if (auto v = h5::read_u32_attr(d.get(), "keras64.crc32c"))
        out[i].push_back({"crc32c", *v, where});
      if (h5::has_fletcher32(d.get())) out[i].push_back({"fletcher32", 0, where});
    } catch (const Error& e) {
      throw e.with_context(where);
    }
    any = any || !out[i].empty();
  }
  if (!any) out.clear();
  return out;
}

void WeightsTree::read(const DatasetRef& ref, std::uint64_t first, std::uint64_t count, void* dst) {
  const std::size_t size = info(ref.info.dtype).size;
  try {
    if (ref.info.raw_offset) {
      const OpenFile& f = *files_[ref.file];
      const std::uint64_t end = *ref.info.raw_offset + (first + count) * size;
      if (end > f.limit || end < *ref.info.raw_offset)
        throw Error(Errc::corrupt, "truncated: data ends at " + std::to_string(end) +
                                       ", beyond the member's " + std::to_string(f.limit) +
                                       " bytes");
      f.raw.pread_all(dst, count * size, f.base + *ref.info.raw_offset + first * size);
      return;
    }
    if (open_ref_ != &ref) {
      open_dset_ = h5::open_dataset(files_[ref.file]->h5.get(), ref.path);
      open_ref_ = &ref;
    }
    h5::read_elements(open_dset_.get(), ref.info, first, count, dst);
  } catch (const Error& e) {
    throw e.with_context(files_[ref.file]->label + ":/" + ref.path);
  }
}

}  // namespace keras64::detail
