// Picks the source for a path from its bytes (never its name) and opens it.
//
// Each format contributes one probe and one factory to the table below; a probe sees a Sniff,
// which holds what can be learnt cheaply and once: the first bytes, the zip member names, the
// HDF5 root attributes and groups.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <set>

#include "detail/file.hpp"
#include "detail/hdf5/reader.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"
#include "sources/numpy_files.hpp"
#include "sources/sniff.hpp"
#include "sources/sources.hpp"

namespace fs = std::filesystem;

namespace keras64 {
namespace detail {
namespace {

const std::vector<SourceFormat>& formats() {
  static const std::vector<SourceFormat> table = {
      {"tfkeras",
       [](const Sniff& s) {
         return s.zip_members.count("config.json") > 0 && is_tfkeras_zip(s.path);
       },
       open_tfkeras_zip},
      {"keras3", [](const Sniff& s) { return s.zip_members.count("config.json") > 0; },
       open_keras3_zip},
      {"keras3-sharded",
       [](const Sniff& s) {
         return s.is_json && s.head.find("\"weight_map\"") != std::string::npos;
       },
       open_keras3_sharded},
      {"legacy-h5",
       [](const Sniff& s) {
         return s.is_hdf5 &&
                (s.h5_root_attrs.count("model_config") || s.h5_root_attrs.count("layer_names") ||
                 s.h5_root_attrs.count("layer_names0") || s.h5_root_groups.count("model_weights"));
       },
       open_legacy_h5},
      {"keras3-weights",
       [](const Sniff& s) {
         return s.is_hdf5 && !s.h5_root_attrs.count("layer_names") &&
                !s.h5_root_attrs.count("model_config");
       },
       open_keras3_weights},
      {"tf-checkpoint", probe_tf_checkpoint, open_tf_checkpoint},
      {"npy-dir", [](const Sniff& s) { return s.is_dir && probe_npy_dir(s.path); }, open_npy_dir},
      {"memmap-dir", [](const Sniff& s) { return s.is_dir && probe_memmap_dir(s.path); },
       open_memmap_dir},
      {"npz", probe_npz, open_npz},
      {"safetensors", probe_safetensors, open_safetensors},
  };
  return table;
}

}  // namespace

Sniff sniff(const fs::path& path) {
  Sniff s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    // A TensorFlow checkpoint is named by its prefix, which is no file: `ckpt-9` for
    // `ckpt-9.index` + `ckpt-9.data-*` (the tf-checkpoint probe checks the index's bytes).
    struct stat ist {};
    if (err == ENOENT && ::stat((path.string() + ".index").c_str(), &ist) == 0 &&
        S_ISREG(ist.st_mode))
      return s;
    throw io_error({path.string()}, "cannot open", err);
  }
  if (S_ISDIR(st.st_mode)) {
    s.is_dir = true;
    return s;
  }
  File f = File::open_read(path);
  s.head.resize(4096);
  s.head.resize(f.pread_some(s.head.data(), s.head.size(), 0));
  s.size = f.size();
  const std::size_t first = s.head.find_first_not_of(" \t\r\n");
  s.is_json = first != std::string::npos && s.head[first] == '{';
  if (ZipReader::has_signature(path)) {
    s.is_zip = true;
    ZipReader zip(path);  // a damaged zip fails here, with the reason
    for (const auto& e : zip.entries()) s.zip_members.insert(e.name);
  } else if (hdf5::has_signature(path.string())) {
    s.is_hdf5 = true;
    hdf5::Reader file(path.string(), path.string());
    const hdf5::Object root = file.root();
    for (const auto& a : file.attributes(root)) s.h5_root_attrs.insert(a.name);
    for (const auto& link : file.links(root))
      if (file.child(root, link).kind == hdf5::Kind::group) s.h5_root_groups.insert(link.name);
  }
  return s;
}

}  // namespace detail

std::unique_ptr<Source> open_source(const fs::path& path, const OpenOptions& opts) {
  using namespace detail;
  Sniff s;
  try {
    s = sniff(path);
  } catch (const Error& e) {
    // Errors from the zip and HDF5 layers already name the file.
    if (!e.file().empty()) throw;
    throw e.within({path.string()});
  }
  for (const auto& f : formats())
    if (f.probe(s)) return f.open(path, opts);
  // A directory with a manifest that no probe accepted: let the manifest reader say what is
  // wrong with it (invalid JSON, another format) rather than claim there is no manifest.
  if (s.is_dir && fs::exists(path / "manifest.json")) read_manifest(path);
  std::string what = s.is_dir    ? "a directory without a keras64 manifest"
                     : s.is_zip  ? "a zip archive that is neither a .keras model nor an .npz"
                     : s.is_hdf5 ? "an HDF5 file without a Keras layout"
                                 : "not a format keras64 reads";
  throw Error(Errc::unsupported, {path.string()}, "unrecognised input: " + what);
}

}  // namespace keras64
