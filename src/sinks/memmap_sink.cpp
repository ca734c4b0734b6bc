// --to memmap: a directory of raw little-endian C-order weight_{i}.dat + manifest.json, for
// `np.memmap(f, dtype=m["dtype"], mode="r", shape=tuple(m["shape"]))` (scalars included:
// shape=() maps an 8-byte file).
//
// numpy cannot map an empty file ("cannot mmap an empty file"), so a zero-element tensor is
// written as an empty .dat with "nbytes": 0, and output.note lists those files; readers build
// them with np.zeros(shape, dtype) instead.
#include "sinks/dir_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {
namespace {

class MemmapSink final : public DirSink {
 public:
  MemmapSink(const std::filesystem::path& target, const SinkOptions& options)
      : DirSink(target, options, "memmap", ".dat") {}

 private:
  std::string note() const override {
    std::string empty;
    for (std::size_t i = 0; i < plan().tensors.size(); ++i) {
      if (plan().tensors[i].nbytes() != 0) continue;
      empty += (empty.empty() ? "" : ", ") + ("weight_" + std::to_string(i) + ".dat");
    }
    if (empty.empty()) return {};
    return "empty files, which np.memmap cannot map (use np.zeros(shape, dtype)): " + empty;
  }
};

}  // namespace

std::unique_ptr<Sink> make_memmap_sink(const std::filesystem::path& path,
                                       const SinkOptions& options) {
  return std::make_unique<MemmapSink>(path, options);
}

}  // namespace keras64::detail
