// --to npy: a directory of weight_{i}.npy (i = get_weights() position) + manifest.json, so the
// classic `[np.load(f"{d}/weight_{i}.npy") for i in range(n)]` loop works unchanged. Each file is
// byte-identical to what np.save writes for the same array.
#include "detail/npy_format.hpp"
#include "sinks/dir_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {
namespace {

class NpyDirSink final : public DirSink {
 public:
  NpyDirSink(const std::filesystem::path& target, const SinkOptions& options)
      : DirSink(target, options, "npy", ".npy") {}

 private:
  std::string header(std::size_t index) const override {
    const PlannedTensor& t = plan().tensors[index];
    return npy_header(t.dtype, t.source.shape);
  }
};

}  // namespace

std::unique_ptr<Sink> make_npy_dir_sink(const std::filesystem::path& path,
                                        const SinkOptions& options) {
  return std::make_unique<NpyDirSink>(path, options);
}

}  // namespace keras64::detail
