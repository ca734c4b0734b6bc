// A directory of .npy files: keras64's --to npy output (weight_{i}.npy + manifest.json) or the
// classic recipe's `np.save(f"{d}/weight_{i}.npy", w)` loop (no manifest). Each file's header is
// parsed with detail::npy_format; data is read in place with pread, byte-swapped when the file is
// big-endian. Layout: docs/output-formats.md, numpy.lib.format.
#include <optional>

#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "keras64/error.hpp"
#include "sources/numpy_files.hpp"
#include "sources/sources.hpp"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

class NpyDirSource final : public PerFileSource {
 public:
  explicit NpyDirSource(const fs::path& dir) : PerFileSource(dir, SourceKind::npy_dir) {
    if (auto m = read_own_manifest("npy")) {
      for (auto& e : m->tensors) add_file(e.tensor, &e);
      return;
    }
    for (const auto& p : numbered_files(dir, ".npy")) {
      TensorInfo t;
      t.name = p.stem().string();
      t.file = p.string();
      add_file(t, nullptr);
    }
  }

 private:
  // Reads the header of one file and checks it against the manifest entry, when there is one.
  void add_file(TensorInfo t, const ManifestEntry* entry) {
    File f = File::open_read(t.file);
    const NpyHeader h = read_npy_header(f);
    require_c_order(h.fortran_order, {t.file});
    if (f.size() < h.data_offset + h.nbytes)
      throw Error(Errc::corrupt, {t.file},
                  "truncated: " + std::to_string(f.size()) + " bytes, the header says " +
                      std::to_string(h.data_offset + h.nbytes));
    if (entry) {
      // bfloat16 is stored as "<u2" bit patterns; the manifest says what they are.
      const bool same_dtype =
          h.dtype == t.dtype || (t.dtype == DType::bf16 && h.dtype == DType::u16);
      if (!same_dtype || h.shape != t.shape || h.data_offset != entry->offset)
        throw Error(Errc::corrupt, {t.file},
                    "does not match manifest.json (" + std::string(keras64::info(h.dtype).name) +
                        " " + shape_string(h.shape) + " at offset " +
                        std::to_string(h.data_offset) + ", manifest says " +
                        std::string(keras64::info(t.dtype).name) + " " + shape_string(t.shape) +
                        " at offset " + std::to_string(entry->offset) + ")");
    } else {
      t.dtype = h.dtype;
      t.shape = h.shape;
    }
    add(std::move(t), h.data_offset, h.big_endian);
  }
};

}  // namespace

bool probe_npy_dir(const fs::path& dir) {
  std::error_code ec;
  return has_manifest(dir, "npy") ||
         (!fs::exists(dir / "manifest.json", ec) && fs::exists(dir / "weight_0.npy", ec));
}

std::unique_ptr<Source> open_npy_dir(const fs::path& path, const OpenOptions&) {
  return std::make_unique<NpyDirSource>(path);
}

}  // namespace keras64::detail
