// --to npz / npz-deflate: a ZIP of weight_{i}.npy members in plan (get_weights()) order and
// nothing else, so `[data[k] for k in data.files]` is get_weights() (np.load lists members in
// central-directory order and strips ".npy"). Stored like np.savez, or deflated like
// np.savez_compressed; ZIP64 fields appear only where a size or offset needs them.
#include <optional>

#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "detail/output_path.hpp"
#include "detail/zip_writer.hpp"
#include "keras64/error.hpp"
#include "sinks/ordered_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {
namespace {

class NpzSink final : public OrderedSink {
 public:
  NpzSink(std::filesystem::path target, const SinkOptions& options, ZipWriter::Method method)
      : target_(std::move(target)), options_(options), method_(method) {
    if (method_ == ZipWriter::Method::deflate && (options_.level < -1 || options_.level > 9))
      throw Error(Errc::invalid_argument, "compression level " + std::to_string(options_.level) +
                                              " is out of range for npz-deflate (0-9)");
    check_output_target(target_, options_.force);
  }

 private:
  void on_begin() override {
    pending_.emplace(target_, options_.force, PendingOutput::Kind::file);
    try {
      file_ = File::create(pending_->temp());
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    zip_.emplace(file_, target_.string(), ZipWriter::kZip64Limit, options_.threads);
  }

  void on_open(std::size_t index) override {
    const PlannedTensor& t = plan().tensors[index];
    const std::string header = npy_header(t.dtype, t.source.shape);
    zip_->begin_member("weight_" + std::to_string(index) + ".npy", header.size() + t.nbytes(),
                       method_, options_.level);
    zip_->write(header.data(), header.size());
    bytes_ = zip_->bytes_written();
  }

  void on_append(const void* data, std::size_t n) override {
    zip_->write(data, n);
    bytes_ = zip_->bytes_written();
  }

  std::span<unsigned char> on_lend(std::size_t n) override { return zip_->lend(n); }

  void on_close(std::size_t) override {
    zip_->end_member();
    bytes_ = zip_->bytes_written();
  }

  void on_commit() override {
    zip_->finish();
    bytes_ = zip_->bytes_written();
    pending_->commit_file(file_);
  }

  std::filesystem::path target_;
  SinkOptions options_;
  ZipWriter::Method method_;
  std::optional<PendingOutput> pending_;  // declared before file_ and zip_: destroyed last
  File file_;
  std::optional<ZipWriter> zip_;
};

}  // namespace

std::unique_ptr<Sink> make_npz_sink(const std::filesystem::path& path, const SinkOptions& options) {
  return std::make_unique<NpzSink>(path, options, ZipWriter::Method::stored);
}

std::unique_ptr<Sink> make_npz_deflate_sink(const std::filesystem::path& path,
                                            const SinkOptions& options) {
  return std::make_unique<NpzSink>(path, options, ZipWriter::Method::deflate);
}

}  // namespace keras64::detail
