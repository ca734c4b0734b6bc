#include "detail/manifest.hpp"

#include <nlohmann/json.hpp>

#include "detail/crc32c.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

// ordered_json keeps the fields in schema order, which is what people read first.
using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  // Names come from HDF5 files and may hold any bytes: replace, never throw, on bad UTF-8.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string make_manifest(const Plan& plan, std::string_view output_format,
                          const std::vector<ManifestFile>& files, std::string_view note) {
  if (files.size() != plan.tensors.size())
    throw Error(Errc::internal, "manifest: " + std::to_string(files.size()) + " files for " +
                                    std::to_string(plan.tensors.size()) + " tensors");
  const SourceInfo& s = plan.source;
  Json source = {{"file", s.file},
                 {"kind", std::string(kind_name(s.kind))},
                 {"keras_version", s.keras_version},
                 {"order_exact", s.order_exact},
                 {"note", s.note}};
  Json output = {{"format", std::string(output_format)}};
  if (!note.empty()) output["note"] = std::string(note);

  std::string out = "{\"format\": \"keras64\", \"version\": " + std::to_string(kManifestVersion) +
                    ",\n \"source\": " + dump(source) + ",\n \"output\": " + dump(output) +
                    ",\n \"tensors\": [";
  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const PlannedTensor& pt = plan.tensors[i];
    const TensorInfo& t = pt.source;
    Json j = {{"index", i},
              {"name", t.name},
              {"layer", t.layer},
              {"keras_path", t.keras_path},
              {"role", std::string(role_name(t.role))},
              {"file", files[i].file},
              {"dtype", std::string(info(pt.dtype).name)},
              {"source_dtype", std::string(info(t.dtype).name)},
              {"shape", t.shape},
              {"byte_order", "little"},
              {"offset", files[i].offset},
              {"nbytes", pt.nbytes()},
              {"crc32c", crc_hex(files[i].crc32c)}};
    if (!t.key.empty()) j["key"] = t.key;
    out += i ? ",\n  " : "\n  ";
    out += dump(j);
  }
  out += plan.tensors.empty() ? "]}\n" : "\n ]}\n";
  return out;
}

}  // namespace keras64::detail
