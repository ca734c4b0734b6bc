// --to keras: a `.keras` archive that keras.saving.load_model() returns as a float64 model.
//
//   metadata.json      carried over from the input archive (or written: keras_version, date)
//   config.json        the input's config with every float dtype policy rewritten to float64
//                      (detail/policy_rewrite.hpp)
//   model.weights.h5   the input's weights structure with float datasets as float64
//                      (sinks/h5_structure.hpp), written to a temporary file first - HDF5 cannot
//                      write into a zip stream - then streamed into the archive
//   assets/..., ...    any other member of the input archive, carried over
// Members keep the input's order and are stored (not deflated), as Keras writes them.
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <vector>

#include "detail/error_path.hpp"
#include "detail/file.hpp"
#include "detail/output_path.hpp"
#include "detail/policy_rewrite.hpp"
#include "detail/zip_reader.hpp"
#include "detail/zip_writer.hpp"
#include "keras64/error.hpp"
#include "sinks/h5_structure.hpp"
#include "sinks/ordered_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {
namespace {

// A scratch file beside the output, removed when destroyed.
struct Scratch {
  std::filesystem::path path;
  ~Scratch() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
  }
};

std::string metadata_json(const std::string& keras_version) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tm);
  nlohmann::ordered_json m;
  if (!keras_version.empty()) m["keras_version"] = keras_version;
  m["date_saved"] = date;
  return m.dump();
}

class KerasSink final : public OrderedSink {
 public:
  KerasSink(std::filesystem::path target, const SinkOptions& options)
      : target_(std::move(target)), options_(options) {
    writer_options_.compress = options_.compress;
    writer_options_.level = hdf5_deflate_level(options_, "keras");
    writer_options_.page_window = false;  // the temporary weights file is read back at once
    if (!target_.filename().string().ends_with(".keras"))
      throw Error(Errc::invalid_argument, target_.string() +
                                              ": a Keras model file must be named *.keras "
                                              "(keras.saving.load_model requires it)");
    check_output_target(target_, options_.force);
  }

 private:
  void on_begin() override {
    require_source_kind(plan(), "keras3", "keras",
                        "a Keras 3 input (.keras, or .weights.h5 / sharded weights with --model)");
    const std::string config_text = plan().origin->config_json();
    if (config_text.empty())
      throw Error(Errc::invalid_argument,
                  plan().source.file +
                      ": --to keras needs the model's config.json: convert the "
                      ".keras file, or give --model ARCH.keras");
    config_ =
        options_.keep_config
            ? config_text
            : rewrite_policies(config_text, "float64",
                               (plan().source.kind == "keras3" ? plan().source.file + ":config.json"
                                                               : std::string("config.json")));
    if (plan().source.kind == "keras3") input_archive_ = plan().source.file;
    keras_version_ = plan().source.keras_version;
    pending_.emplace(target_, options_.force, PendingOutput::Kind::file);
    weights_.path = pending_->temp().string() + ".model.weights.h5";
    try {
      writer_.emplace(weights_.path, target_.string() + ":model.weights.h5", plan(),
                      writer_options_);
    } catch (const Error& e) {
      throw replace_context(e, weights_.path.string(), target_.string() + ":model.weights.h5");
    }
  }

  void on_open(std::size_t index) override { writer_->open(index); }
  void on_append(const void* data, std::size_t n) override {
    writer_->append(data, n);
    bytes_ += n;
  }
  void on_close(std::size_t) override { writer_->close_tensor(); }

  void on_commit() override {
    writer_->close();
    writer_.reset();
    File out;
    try {
      out = File::create(pending_->temp());
    } catch (const Error& e) {
      throw replace_context(e, pending_->temp().string(), target_.string());
    }
    ZipWriter zip(out, target_.string(), ZipWriter::kZip64Limit, options_.threads);
    auto put_text = [&](const std::string& name, const std::string& text) {
      zip.begin_member(name, text.size(), ZipWriter::Method::stored);
      zip.write(text.data(), text.size());
      zip.end_member();
    };
    if (input_archive_.empty()) {
      put_text("metadata.json", metadata_json(keras_version_));
      put_text("config.json", config_);
      put_weights(zip);
    } else {
      ZipReader in(input_archive_);
      bool have_weights = false;
      for (const ZipEntry& e : in.entries()) {
        if (e.name == "config.json") {
          put_text(e.name, config_);
        } else if (e.name == "model.weights.h5") {
          put_weights(zip);
          have_weights = true;
        } else {
          zip.begin_member(e.name, e.size, ZipWriter::Method::stored);
          in.read(e, [&](const void* p, std::size_t n) { zip.write(p, n); });
          zip.end_member();
        }
      }
      if (!have_weights) put_weights(zip);
    }
    zip.finish();
    bytes_ = zip.bytes_written();
    pending_->commit_file(out);
  }

  void put_weights(ZipWriter& zip) {
    File h5;
    std::uint64_t size = 0;
    try {
      h5 = File::open_read(weights_.path);
      size = h5.size();
    } catch (const Error& e) {
      throw replace_context(e, weights_.path.string(), target_.string() + ":model.weights.h5");
    }
    zip.begin_member("model.weights.h5", size, ZipWriter::Method::stored);
    std::vector<char> buf(std::size_t{1} << 20);
    for (std::uint64_t off = 0; off < size;) {
      const std::size_t n = h5.pread_some(buf.data(), buf.size(), off);
      if (n == 0)
        throw Error(Errc::io, target_.string() + ":model.weights.h5: temporary file shrank");
      zip.write(buf.data(), n);
      off += n;
    }
    zip.end_member();
  }

  std::filesystem::path target_;
  SinkOptions options_;
  H5StructureWriter::Options writer_options_;
  std::string config_;
  std::string input_archive_;  // the input .keras, whose other members are carried over
  std::string keras_version_;
  std::optional<PendingOutput> pending_;  // destroyed last: after the scratch file is closed
  Scratch weights_;
  std::optional<H5StructureWriter> writer_;
};

}  // namespace

std::unique_ptr<Sink> make_keras_sink(const std::filesystem::path& path,
                                      const SinkOptions& options) {
  return std::make_unique<KerasSink>(path, options);
}

}  // namespace keras64::detail
