// --to weights.h5 and --to legacy-h5: the input's own HDF5 file(s) copied structure for
// structure, with every planned tensor stored in its planned dtype (float64 when converting) and
// everything else - groups, empty vars groups, attributes, datasets not in the plan - unchanged.
// The legacy flavour also rewrites the dtype policies in the root model_config attribute, so the
// file loads as a float64 model. Layouts: docs/output-formats.md; writer: sinks/h5_structure.hpp.
//
// A sharded Keras 3 input becomes one merged .weights.h5 (Keras loads it like the shards).
#include <algorithm>
#include <optional>
#include <string_view>

#include "detail/file.hpp"
#include "detail/output_path.hpp"
#include "detail/policy_rewrite.hpp"
#include "keras64/error.hpp"
#include "sinks/h5_structure.hpp"
#include "sinks/h5_writer_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {

H5StructureWriter::Options hdf5_writer_options(const SinkOptions& options,
                                               std::string_view format) {
  H5StructureWriter::Options o;
  o.compress = options.compress;
  o.threads = options.threads;
  o.level = options.level == -1 ? 1 : options.level;  // ISA-L's fastest, as npz-deflate's
  // A float64 model file holds float64 optimizer and metric state too; a model written back
  // at its own dtypes (keep_config) keeps them.
  o.widen_unplanned = !options.keep_config;
  if (o.level < 0 || o.level > 9)
    throw Error(Errc::invalid_argument, "compression level " + std::to_string(options.level) +
                                            " is out of range for " + std::string(format) +
                                            " (0-9)");
  return o;
}

namespace {

[[noreturn]] void reject_source_kind(const Plan& plan, std::string_view format,
                                     std::string_view instead) {
  throw Error(Errc::unsupported, {plan.source.file},
              "the " + std::string(format) + " format needs " + std::string(instead) + ", not a " +
                  std::string(kind_name(plan.source.kind)) + " input");
}

}  // namespace

void require_source_kind(const Plan& plan, bool (*accepts)(SourceKind) noexcept,
                         std::string_view format, std::string_view instead) {
  if (!accepts(plan.source.kind)) reject_source_kind(plan, format, instead);
}

void require_source_kind(const Plan& plan, std::initializer_list<SourceKind> kinds,
                         std::string_view format, std::string_view instead) {
  if (std::find(kinds.begin(), kinds.end(), plan.source.kind) == kinds.end())
    reject_source_kind(plan, format, instead);
}

namespace {

class H5FileSink final : public H5WriterSink {
 public:
  enum class Flavor { keras3, legacy };

  H5FileSink(std::filesystem::path target, const SinkOptions& options, Flavor flavor)
      : target_(std::move(target)), options_(options), flavor_(flavor) {
    const std::string name = target_.filename().string();
    const std::string_view format = flavor_ == Flavor::keras3 ? "weights.h5" : "legacy-h5";
    writer_options_ = hdf5_writer_options(options_, format);
    // Keras picks its reader by file name (docs/keras-formats.md §0).
    if (flavor_ == Flavor::keras3 && !name.ends_with(".weights.h5"))
      throw Error(Errc::invalid_argument, {target_.string()},
                  "a Keras 3 weights file must be named *.weights.h5 "
                  "(Keras chooses its reader by that suffix)");
    if (flavor_ == Flavor::legacy && name.ends_with(".weights.h5"))
      throw Error(Errc::invalid_argument, {target_.string()},
                  "a legacy .h5 must not be named *.weights.h5 (Keras would "
                  "read it as Keras 3 native weights)");
    check_output_target(target_, options_.force);
    record_crc32c();  // each planned dataset's keras64.crc32c attribute
  }

 private:
  void on_begin() override {
    const SourceKind kind = plan().source.kind;
    if (flavor_ == Flavor::keras3)
      require_source_kind(plan(), keras3_layout, "weights.h5",
                          "a Keras 3 input (.keras, .weights.h5, sharded .weights.json) or a "
                          "tf.keras .keras; legacy-h5 is the format for a legacy .h5");
    else
      require_source_kind(
          plan(), {SourceKind::legacy_h5, SourceKind::legacy_weights_h5, SourceKind::tf_savedmodel},
          "legacy-h5",
          "a legacy .h5 input or a tf-keras SavedModel; weights.h5 and keras are the formats for "
          "Keras 3 files");
    if (kind == SourceKind::tf_savedmodel && !plan().structure.h5_files)
      throw Error(Errc::unsupported, {plan().source.file},
                  "the legacy-h5 format needs a tf-keras SavedModel whose Keras metadata "
                  "(keras_metadata.pb, before TF 2.5 in saved_model.pb) gives the model "
                  "config and places every weight in its layer");
    pending_.emplace(target_, options_.force, PendingOutput::Kind::file);
    // A weights-only input stays weights-only: a --model config is not added to it.
    std::string config;
    if (flavor_ == Flavor::legacy &&
        (kind == SourceKind::legacy_h5 || kind == SourceKind::tf_savedmodel))
      config = plan().structure.config;
    try {
      writer_.emplace(pending_->temp(), target_.string(), plan(), writer_options_);
      if (!config.empty() && !options_.keep_config)
        writer_->set_root_string_attr(
            "model_config",
            rewrite_policies(config, "float64", plan().source.file + ":/: attribute model_config"));
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
  }

  H5StructureWriter& writer() override { return *writer_; }

  void on_commit() override {
    writer_->close();
    writer_.reset();
    // HDF5 wrote the file through its own handle: reopen it to learn its size and fsync it.
    File f;
    try {
      f = File::open_read(pending_->temp());
      bytes_ = f.size();
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    pending_->commit_file(f);
  }

  std::filesystem::path target_;
  SinkOptions options_;
  Flavor flavor_;
  H5StructureWriter::Options writer_options_;
  std::optional<PendingOutput> pending_;  // before writer_: the file closes before its removal
  std::optional<H5StructureWriter> writer_;
};

}  // namespace

std::unique_ptr<Sink> make_weights_h5_sink(const std::filesystem::path& path,
                                           const SinkOptions& options) {
  return std::make_unique<H5FileSink>(path, options, H5FileSink::Flavor::keras3);
}

std::unique_ptr<Sink> make_legacy_h5_sink(const std::filesystem::path& path,
                                          const SinkOptions& options) {
  return std::make_unique<H5FileSink>(path, options, H5FileSink::Flavor::legacy);
}

}  // namespace keras64::detail
