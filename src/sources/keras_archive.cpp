#include "sources/keras_archive.hpp"

#include "detail/file.hpp"
#include "detail/json_util.hpp"
#include "keras64/error.hpp"
#include "sources/weights_tree.hpp"

namespace keras64::detail {
namespace {

constexpr const char* kConfig = "config.json";
constexpr const char* kMetadata = "metadata.json";
constexpr const char* kWeights = "model.weights.h5";

// The member `name`, or null; a second member of that name is refused (zip readers disagree on
// which of the two they return).
const ZipEntry* unique_member(const ZipReader& zip, const std::string& label, const char* name) {
  const ZipEntry* found = nullptr;
  for (const auto& e : zip.entries()) {
    if (e.name != name) continue;
    if (found) throw Error(Errc::corrupt, {label, name}, "appears twice in the archive");
    found = &e;
  }
  return found;
}

}  // namespace

KerasArchive::KerasArchive(const std::filesystem::path& path) : label_(path.string()), zip_(path) {
  const ZipEntry* cfg = unique_member(zip_, label_, kConfig);
  const ZipEntry* meta = unique_member(zip_, label_, kMetadata);
  if (const ZipEntry* w = unique_member(zip_, label_, kWeights)) weights_ = *w;
  if (!cfg) throw Error(Errc::corrupt, {label_}, "not a .keras archive: no config.json member");
  config_text_ = zip_.read_all(*cfg);
  config_ = parse_json(config_text_, {label_, kConfig});
  if (!config_.is_object()) throw Error(Errc::corrupt, {label_, kConfig}, "not a JSON object");
  if (meta) {
    const ErrorContext where{label_, kMetadata};
    const nlohmann::json m = parse_json(zip_.read_all(*meta, 1 << 20), where);
    if (!m.is_object()) throw Error(Errc::corrupt, where, "not a JSON object");
    if (const auto v = m.find("keras_version"); v != m.end()) {
      if (!v->is_string()) throw Error(Errc::corrupt, where, "keras_version is not a string");
      keras_version_ = v->get<std::string>();
    }
  }
}

std::string KerasArchive::model_name() const {
  const auto c = config_.find("config");
  if (c == config_.end() || !c->is_object()) return "";
  const auto n = c->find("name");
  return n != c->end() && n->is_string() ? n->get<std::string>() : "";
}

std::vector<std::string> KerasArchive::member_names() const {
  std::vector<std::string> out;
  out.reserve(zip_.entries().size());
  for (const auto& e : zip_.entries()) out.push_back(e.name);
  return out;
}

const ZipEntry& KerasArchive::weights() const {
  if (!weights_) {
    if (zip_.find("model.weights.npz"))
      throw Error(Errc::unsupported, {label_, "model.weights.npz"},
                  "the npz weights store holds pickled objects and is not supported");
    throw Error(Errc::corrupt, {label_}, "not a .keras archive: no model.weights.h5 member");
  }
  return *weights_;
}

const std::filesystem::path& KerasArchive::extracted() {
  if (!extracted_) {
    auto tmp = std::make_unique<TempFile>("weights");
    File out = File::create_truncate(tmp->path());
    zip_.read(weights(), [&](const void* p, std::size_t n) { out.write_all(p, n); });
    out.close();
    extracted_ = std::move(tmp);
  }
  return extracted_->path();
}

void KerasArchive::add_weights_to(WeightsTree& tree) {
  const ZipEntry& w = weights();
  const ErrorContext member{label_, kWeights};
  if (w.method != 0) {
    tree.add_file(member, extracted().string());
    return;
  }
  tree.add_member(member, label_, w.data_offset, w.size);
  if (!crc_check_)
    crc_check_ = std::make_unique<ZipCrcCheck>(label_, label_, std::vector<ZipEntry>{w});
}

NativeFile KerasArchive::weights_file() {
  const ZipEntry& w = weights();
  const std::string member = label_ + ":" + kWeights;
  if (w.method != 0) return {extracted(), member, kWeights};
  return {label_, member, kWeights, w.data_offset, w.size};
}

void KerasArchive::start_weights_crc() {
  if (crc_check_) crc_check_->start();
}

void KerasArchive::verify_weights_crc() {
  if (crc_check_) crc_check_->finish();
}

}  // namespace keras64::detail
