// --to keras: a `.keras` archive that keras.saving.load_model() returns as a float64 model.
//
//   metadata.json      carried over from the input archive (or written: keras_version, date)
//   config.json        the input's config with every float dtype policy rewritten to float64
//                      (detail/policy_rewrite.hpp)
//   model.weights.h5   the input's weights structure with float datasets as float64
//                      (sinks/h5_structure.hpp). HDF5 cannot write into a zip stream, so it
//                      builds the structure in a small temporary file (the tensors' space
//                      allocated, not written); uncompressed, that skeleton is copied into the
//                      archive as a stored member and each tensor is written at its dataset's
//                      offset inside the member as it arrives (ZipWriter::begin_member_in_place),
//                      so the weights are written once. With --compress HDF5 writes the chunks
//                      into the temporary file, which is then copied into the archive.
//   assets/..., ...    any other member of the input archive, carried over
// Members keep the input's order and are stored (not deflated), as Keras writes them.
#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <vector>

#include "detail/file.hpp"
#include "detail/output_path.hpp"
#include "detail/policy_rewrite.hpp"
#include "detail/zip_reader.hpp"
#include "detail/zip_writer.hpp"
#include "keras64/error.hpp"
#include "sinks/h5_structure.hpp"
#include "sinks/h5_writer_sink.hpp"
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

class KerasSink final : public H5WriterSink {
 public:
  KerasSink(std::filesystem::path target, const SinkOptions& options)
      : target_(std::move(target)), options_(options) {
    writer_options_ = hdf5_writer_options(options_, "keras");
    if (!target_.filename().string().ends_with(".keras"))
      throw Error(Errc::invalid_argument, {target_.string()},
                  "a Keras model file must be named *.keras "
                  "(keras.saving.load_model requires it)");
    check_output_target(target_, options_.force);
    record_crc32c();  // each planned dataset's keras64.crc32c attribute
  }

 private:
  void on_begin() override {
    require_source_kind(plan(), keras3_layout, "keras",
                        "a Keras 3 input (.keras, or .weights.h5 / sharded weights with the model) "
                        "or a tf.keras .keras");
    const std::string& config_text = plan().structure.config;
    if (config_text.empty())
      throw Error(Errc::invalid_argument, {plan().source.file},
                  "the keras format needs the model's config.json: convert the .keras file, or "
                  "give the model's architecture",
                  0, Hint::model);
    config_ = options_.keep_config
                  ? config_text
                  : rewrite_policies(config_text, "float64",
                                     (from_archive() ? plan().source.file + ":config.json"
                                                     : std::string("config.json")));
    members_ = member_list();
    pending_.emplace(target_, options_.force, PendingOutput::Kind::file);
    weights_.path = pending_->temp().string() + ".model.weights.h5";
    try {
      writer_.emplace(weights_.path, target_.string() + ":model.weights.h5", plan(),
                      writer_options_);
    } catch (const Error& e) {
      throw e.renamed(weights_.path.string(), {target_.string(), "model.weights.h5"});
    }
    if (!writer_->raw()) return;  // compressed: all of the archive at the end
    // Uncompressed: the archive up to the weights now, the weights in place as they arrive.
    open_archive();
    const std::uint64_t size = writer_->file_size();
    while (next_ < members_.size() && !members_[next_].weights) put_member(members_[next_++]);
    ++next_;
    const std::uint64_t base = zip_->begin_member_in_place("model.weights.h5", size);
    writer_->embed(zip_->writer(), base, out_.path());
  }

  H5StructureWriter& writer() override { return *writer_; }

  void on_commit() override {
    writer_->close();
    if (zip_) {
      zip_->end_member_in_place(writer_->crc());
    } else {
      open_archive();
    }
    writer_.reset();
    for (; next_ < members_.size(); ++next_) {
      if (members_[next_].weights)
        copy_weights();
      else
        put_member(members_[next_]);
    }
    zip_->finish();
    bytes_ = zip_->bytes_written();
    pending_->commit_file(out_);
  }

  // A .keras input (Keras 3 or tf.keras 2.13+), whose members are carried over.
  bool from_archive() const { return !plan().structure.archive.empty(); }

  // The output's members in order: the input archive's with config.json replaced, or
  // metadata.json, config.json, model.weights.h5 for bare weights with --model.
  struct Member {
    std::string name;
    bool weights = false;
    std::string text;                 // written as it is, when not copied from the input
    std::optional<ZipEntry> carried;  // copied from the input archive
  };
  std::vector<Member> member_list() {
    std::vector<Member> out;
    if (!from_archive()) {
      out.push_back({"metadata.json", false, metadata_json(plan().source.keras_version), {}});
      out.push_back({"config.json", false, config_, {}});
      out.push_back({"model.weights.h5", true, {}, {}});
      return out;
    }
    // The members the source listed, copied from the archive it named: its directory is read
    // again for their offsets, and must still list the same members.
    const SourceStructure& in = plan().structure;
    input_.emplace(in.archive);
    const std::vector<ZipEntry>& entries = input_->entries();
    if (entries.size() != in.archive_members.size())
      throw Error(Errc::io, {in.archive.string()}, "changed since it was opened");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const ZipEntry& e = entries[i];
      if (e.name != in.archive_members[i])
        throw Error(Errc::io, {in.archive.string()}, "changed since it was opened");
      if (e.name == "config.json")
        out.push_back({e.name, false, config_, {}});
      else if (e.name == "model.weights.h5")
        out.push_back({e.name, true, {}, {}});
      else
        out.push_back({e.name, false, {}, e});
    }
    if (std::none_of(out.begin(), out.end(), [](const Member& m) { return m.weights; }))
      out.push_back({"model.weights.h5", true, {}, {}});
    return out;
  }

  void open_archive() {
    try {
      out_ = File::create(pending_->temp());
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    zip_.emplace(out_, target_.string(), ZipWriter::kZip64Limit, options_.threads);
  }

  void put_member(const Member& m) {
    if (m.carried) {
      zip_->begin_member(m.name, m.carried->size, ZipWriter::Method::stored);
      input_->read(*m.carried, [&](const void* p, std::size_t n) { zip_->write(p, n); });
    } else {
      zip_->begin_member(m.name, m.text.size(), ZipWriter::Method::stored);
      zip_->write(m.text.data(), m.text.size());
    }
    zip_->end_member();
  }

  // The compressed path: the finished temporary weights file, copied into the archive.
  void copy_weights() {
    File h5;
    std::uint64_t size = 0;
    try {
      h5 = File::open_read(weights_.path);
      size = h5.size();
    } catch (const Error& e) {
      throw e.renamed(weights_.path.string(), {target_.string(), "model.weights.h5"});
    }
    zip_->begin_member("model.weights.h5", size, ZipWriter::Method::stored);
    std::vector<char> buf(std::size_t{1} << 20);
    for (std::uint64_t off = 0; off < size;) {
      const std::size_t n = h5.pread_some(buf.data(), buf.size(), off);
      if (n == 0)
        throw Error(Errc::io, target_.string() + ":model.weights.h5: temporary file shrank");
      zip_->write(buf.data(), n);
      off += n;
    }
    zip_->end_member();
  }

  std::filesystem::path target_;
  SinkOptions options_;
  H5StructureWriter::Options writer_options_;
  std::string config_;
  std::optional<ZipReader> input_;  // the input .keras, whose other members are carried over
  std::vector<Member> members_;
  std::size_t next_ = 0;                  // members_[next_] is the next to write
  std::optional<PendingOutput> pending_;  // destroyed last: after the files are closed
  Scratch weights_;
  File out_;
  std::optional<ZipWriter> zip_;  // writes out_
  std::optional<H5StructureWriter> writer_;
};

}  // namespace

std::unique_ptr<Sink> make_keras_sink(const std::filesystem::path& path,
                                      const SinkOptions& options) {
  return std::make_unique<KerasSink>(path, options);
}

}  // namespace keras64::detail
