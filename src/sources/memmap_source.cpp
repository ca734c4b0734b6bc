// A directory of raw little-endian C-order files: keras64's --to memmap output (weight_{i}.dat +
// manifest.json with dtype, shape, offset, nbytes) or the classic recipe's
// `w.astype(np.float64).tofile(f"{d}/weight_{i}.dat")` loop, which records no shapes: those come
// from OpenOptions::expected (the model being loaded into) or OpenOptions::model.
#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "sources/numpy_files.hpp"
#include "sources/sources.hpp"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

class MemmapSource final : public PerFileSource {
 public:
  MemmapSource(const fs::path& dir, const OpenOptions& opts)
      : PerFileSource(dir, SourceKind::memmap_dir) {
    if (auto m = read_own_manifest("memmap")) {
      for (auto& e : m->tensors) {
        check_size(e.tensor.file, e.offset + e.nbytes);
        add(e.tensor, e.offset);
      }
      return;
    }
    const std::vector<fs::path> files = numbered_files(dir, ".dat");
    std::vector<TensorInfo> expected = opts.expected;
    if (expected.empty() && !opts.model.empty()) {
      OpenOptions mo;
      mo.model = opts.model;  // harmless for a .keras; gives a bare weights file its order
      expected = open_source(opts.model, mo)->tensors();
    }
    if (expected.empty())
      throw Error(Errc::invalid_argument, {dir.string()},
                  "raw weight_{i}.dat files without manifest.json record no shapes: give the "
                  "model they belong to",
                  0, Hint::model);
    if (files.size() != expected.size())
      throw Error(Errc::mismatch, {dir.string()},
                  std::to_string(files.size()) + " weight_{i}.dat files, the model has " +
                      std::to_string(expected.size()) + " tensors");
    for (std::size_t i = 0; i < files.size(); ++i) {
      TensorInfo t;
      t.name = files[i].stem().string();
      t.file = files[i].string();
      t.shape = expected[i].shape;
      const std::uint64_t n = element_count(t.shape);
      const std::uint64_t size = File::open_read(t.file).size();
      if (size == n * 8) {  // astype(float64), integers included
        t.dtype = DType::f64;
      } else if (size == n * keras64::info(expected[i].dtype).size) {
        t.dtype = expected[i].dtype;
      } else {
        throw Error(Errc::mismatch,
                    t.file + ": " + std::to_string(size) + " bytes do not fit tensor " +
                        std::to_string(i) + " (" + expected[i].name + ") of shape " +
                        shape_string(t.shape) + " as float64 (" + std::to_string(n * 8) +
                        " bytes) or " + std::string(keras64::info(expected[i].dtype).name) + " (" +
                        std::to_string(n * keras64::info(expected[i].dtype).size) + " bytes)");
      }
      add(std::move(t), 0);
    }
  }

 private:
  static void check_size(const std::string& file, std::uint64_t need) {
    const std::uint64_t size = File::open_read(file).size();
    if (size < need)
      throw Error(Errc::corrupt, {file},
                  "truncated: " + std::to_string(size) + " bytes, manifest.json says " +
                      std::to_string(need));
  }
};

}  // namespace

bool probe_memmap_dir(const fs::path& dir) {
  std::error_code ec;
  return has_manifest(dir, "memmap") ||
         (!fs::exists(dir / "manifest.json", ec) && fs::exists(dir / "weight_0.dat", ec));
}

std::unique_ptr<Source> open_memmap_dir(const fs::path& path, const OpenOptions& opts) {
  return std::make_unique<MemmapSource>(path, opts);
}

}  // namespace keras64::detail
