#include "sources/numpy_files.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "detail/crc32c.hpp"
#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "sources/source_util.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {

bool has_manifest(const fs::path& dir, const std::string& format) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "manifest.json", ec)) return false;
  try {
    const json m = json::parse(read_text_file(dir / "manifest.json", 1u << 30));
    return m.is_object() && m.value("format", "") == "keras64" && m.contains("output") &&
           m["output"].is_object() && m["output"].value("format", "") == format;
  } catch (const std::exception&) {
    return false;  // not ours; the probe of another format may take it, else "unrecognised"
  }
}

ManifestData read_manifest(const fs::path& dir) {
  const std::string where = (dir / "manifest.json").string();
  auto bad = [&](const std::string& why) { return Error(Errc::corrupt, {where}, why); };
  json m;
  try {
    m = json::parse(read_text_file(dir / "manifest.json", 1u << 30));
  } catch (const json::exception& e) {
    throw bad(std::string("invalid JSON: ") + e.what());
  }
  ManifestData out;
  try {
    if (m.value("format", "") != "keras64") throw bad("not a keras64 manifest");
    if (m.value("version", 0) != 1)
      throw Error(Errc::unsupported, {where},
                  "manifest version " + m["version"].dump() + " is not supported (1)");
    out.format = m.at("output").at("format").get<std::string>();
    const json& s = m.at("source");
    out.source.kind = source_kind(s.value("kind", "")).value_or(SourceKind::unknown);
    out.source.keras_version = s.value("keras_version", "");
    out.source.order_exact = s.value("order_exact", false);
    out.source.note = s.value("note", "");
    const json& ts = m.at("tensors");
    if (!ts.is_array()) throw bad("\"tensors\" is not an array");
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const json& t = ts[i];
      const std::string at = "tensors[" + std::to_string(i) + "]";
      if (t.value("index", i) != i)
        throw bad(at + ": index " + t["index"].dump() + " out of order");
      ManifestEntry e;
      e.tensor.name = t.at("name").get<std::string>();
      e.tensor.layer = t.value("layer", "");
      e.tensor.keras_path = t.value("keras_path", "");
      e.tensor.key = t.value("key", "");
      e.tensor.role = t.value("role", "model") == "optimizer" ? Role::optimizer : Role::model;
      const std::string dt = t.at("dtype").get<std::string>();
      const auto d = parse_dtype(dt);
      if (!d) throw bad(at + ": unknown dtype '" + dt + "'");
      e.tensor.dtype = *d;
      e.tensor.shape = t.at("shape").get<Shape>();
      e.file = t.at("file").get<std::string>();
      if (e.file.empty() || e.file.find('/') != std::string::npos || e.file == "." ||
          e.file == "..")
        throw bad(at + ": unsafe file name '" + e.file + "'");
      e.offset = t.value("offset", std::uint64_t{0});
      e.nbytes = t.at("nbytes").get<std::uint64_t>();
      if (t.value("byte_order", "little") != "little")
        throw Error(Errc::unsupported, {where}, at + ": byte_order is not \"little\"");
      if (e.nbytes != e.tensor.nbytes())
        throw bad(at + " (" + e.tensor.name + "): nbytes " + std::to_string(e.nbytes) + " but " +
                  shape_string(e.tensor.shape) + " " + dt + " is " +
                  std::to_string(e.tensor.nbytes()) + " bytes");
      if (t.contains("crc32c")) {
        std::uint32_t crc = 0;
        if (!t["crc32c"].is_string() || !parse_crc_hex(t["crc32c"].get<std::string>(), crc))
          throw bad(at + ": crc32c " + t["crc32c"].dump() + " is not 8 hex digits");
        e.crc32c = crc;
      }
      e.tensor.file = (dir / e.file).string();
      out.tensors.push_back(std::move(e));
    }
  } catch (const json::exception& e) {
    throw bad(std::string("does not follow the keras64 manifest schema: ") + e.what());
  }
  return out;
}

std::vector<std::vector<TensorChecksum>> manifest_checksums(const ManifestData& m,
                                                            const fs::path& dir) {
  std::vector<std::vector<TensorChecksum>> out(m.tensors.size());
  bool any = false;
  for (std::size_t i = 0; i < m.tensors.size(); ++i)
    if (m.tensors[i].crc32c) {
      out[i].push_back({"crc32c", *m.tensors[i].crc32c, (dir / "manifest.json").string()});
      any = true;
    }
  if (!any) out.clear();
  return out;
}

std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& ext) {
  std::map<std::uint64_t, fs::path> found;
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(dir, ec)) {
    const std::string n = ent.path().filename().string();
    if (!n.starts_with("weight_") || !n.ends_with(ext)) continue;
    const std::string num = n.substr(7, n.size() - 7 - ext.size());
    if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), ::isdigit) ||
        (num.size() > 1 && num[0] == '0'))
      continue;
    found[std::stoull(num)] = ent.path();
  }
  if (ec) throw io_error({dir.string()}, "cannot list directory", ec.value());
  std::vector<fs::path> out;
  for (const auto& [i, p] : found) {
    if (i != out.size())
      throw Error(Errc::corrupt, {dir.string()},
                  "weight_" + std::to_string(out.size()) + ext + " is missing (weight_" +
                      std::to_string(i) + ext + " exists)");
    out.push_back(p);
  }
  return out;
}

void byteswap(void* data, std::size_t count, std::size_t size) noexcept {
  auto* p = static_cast<unsigned char*>(data);
  if (size < 2) return;
  for (std::size_t i = 0; i < count; ++i, p += size) std::reverse(p, p + size);
}

void require_c_order(bool fortran_order, const ErrorContext& where) {
  if (fortran_order)
    throw Error(Errc::unsupported, where,
                "Fortran-order arrays are not supported (save np.ascontiguousarray(w))");
}

PerFileSource::PerFileSource(const fs::path& dir, SourceKind kind) : dir_(dir) {
  info_.file = dir.string();
  info_.kind = kind;
}

std::optional<ManifestData> PerFileSource::read_own_manifest(const std::string& format) {
  if (!fs::exists(dir_ / "manifest.json")) {
    info_.note = kClassicOrderNote;
    return std::nullopt;
  }
  ManifestData m = read_manifest(dir_);
  if (m.format != format)
    throw Error(Errc::corrupt, {(dir_ / "manifest.json").string()},
                "output format is '" + m.format + "', not '" + format + "'");
  info_.keras_version = m.source.keras_version;
  info_.order_exact = m.source.order_exact;
  info_.note = m.source.note;
  checksums_ = manifest_checksums(m, dir_);
  return m;
}

void PerFileSource::add(TensorInfo t, std::uint64_t offset, bool big_endian) {
  tensors_.push_back(std::move(t));
  offsets_.push_back(offset);
  swap_.push_back(big_endian);
}

std::optional<FileExtent> PerFileSource::extent(std::size_t index) const {
  const TensorInfo& t = tensors_.at(index);
  if (swap_[index]) return std::nullopt;
  return FileExtent{t.file, offsets_[index], t.nbytes()};
}

void PerFileSource::read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) {
  const TensorInfo& t = checked_read(tensors_, index, first, count);
  if (open_index_ != index) {
    file_ = File::open_read(t.file);
    open_index_ = index;
  }
  const std::size_t size = keras64::info(t.dtype).size;
  file_.pread_all(dst, static_cast<std::size_t>(count * size), offsets_[index] + first * size);
  if (swap_[index]) byteswap(dst, static_cast<std::size_t>(count), size);
}

}  // namespace keras64::detail
