// safetensors (https://github.com/huggingface/safetensors):
//
//   offset 0   N: u64 little-endian, the header size
//          8   N bytes of JSON: {"__metadata__": {str: str}?,
//                                "<name>": {"dtype": "F64", "shape": [..], "data_offsets": [b, e]}}
//          8+N the data; each tensor's bytes are [8+N+b, 8+N+e), little-endian, C order
//
// The header is hostile input: it is capped at kMaxHeader, every tensor's dtype, shape and
// offsets are checked (in range, e - b == elements * dtype size, no two tensors overlapping),
// names are unique (the JSON parser would otherwise keep the last of two equal keys silently).
// Gaps between tensors are allowed (the spec asks writers for none, readers need not care).
//
// Order: JSON object key order is not preserved by every writer, so tensors are listed by data
// offset (file order) unless __metadata__ has "keras64.order", a JSON array of every name (what
// keras64's writer records); "keras64.order_exact" = "true" and "keras64.note" carry the rest of
// SourceInfo, "keras64.keys" (TensorFlow inputs) each tensor's checkpoint key.
#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "detail/crc32c.hpp"
#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "sources/sniff.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace keras64::detail {
namespace {

constexpr std::uint64_t kMaxHeader = std::uint64_t{100} << 20;
constexpr std::size_t kMaxRank = 64;

std::uint64_t le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::optional<DType> st_dtype(const std::string& s) {
  for (int i = 0; i <= static_cast<int>(DType::boolean); ++i)
    if (info(static_cast<DType>(i)).st_name == s) return static_cast<DType>(i);
  return std::nullopt;
}

// Rejects duplicate keys at any depth of the header (nlohmann keeps the last one silently).
bool no_duplicate_keys(const std::string& text, std::string* dup) {
  std::vector<std::set<std::string>> seen;
  bool ok = true;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start)
      seen.emplace_back();
    else if (ev == json::parse_event_t::object_end)
      seen.pop_back();
    else if (ev == json::parse_event_t::key &&
             !seen.back().insert(parsed.get<std::string>()).second) {
      if (ok) *dup = parsed.get<std::string>();
      ok = false;
    }
    return true;
  };
  [[maybe_unused]] const json all = json::parse(text, cb);  // run for the callback's checks
  return ok;
}

class SafetensorsSource final : public Source {
 public:
  explicit SafetensorsSource(const fs::path& path) : file_(File::open_read(path)) {
    info_.file = path.string();
    info_.kind = SourceKind::safetensors;
    const std::string& f = info_.file;
    auto bad = [&](const std::string& why) {
      return Error(Errc::corrupt, {f}, "safetensors: " + why);
    };
    const std::uint64_t size = file_.size();
    if (size < 8) throw bad("file is too short (" + std::to_string(size) + " bytes)");
    unsigned char lenb[8];
    file_.pread_all(lenb, 8, 0);
    const std::uint64_t n = le64(lenb);
    if (n > kMaxHeader)
      throw bad("header size " + std::to_string(n) + " is over the limit of " +
                std::to_string(kMaxHeader) + " bytes");
    if (n > size - 8)
      throw bad("truncated: header size " + std::to_string(n) + " but the file has " +
                std::to_string(size - 8) + " bytes after it");
    std::string text(static_cast<std::size_t>(n), '\0');
    file_.pread_all(text.data(), text.size(), 8);
    data_start_ = 8 + n;
    const std::uint64_t data_size = size - data_start_;
    json h;
    std::string dup;
    try {
      if (!no_duplicate_keys(text, &dup)) throw bad("header: duplicate key '" + dup + "'");
      h = json::parse(text);
    } catch (const json::exception& e) {
      throw bad(std::string("header is not valid JSON: ") + e.what());
    }
    if (!h.is_object()) throw bad("header is not a JSON object");

    std::map<std::string, std::string> meta;
    struct Entry {
      TensorInfo t;
      std::uint64_t begin, end;
    };
    std::vector<Entry> entries;
    for (const auto& [name, v] : h.items()) {
      if (name == "__metadata__") {
        if (!v.is_object()) throw bad("__metadata__ is not an object");
        for (const auto& [k, s] : v.items()) {
          if (!s.is_string()) throw bad("__metadata__[\"" + k + "\"] is not a string");
          meta[k] = s.get<std::string>();
        }
        continue;
      }
      const std::string at = "tensor '" + name + "'";
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
          !v.contains("data_offsets"))
        throw bad(at + ": needs dtype, shape and data_offsets");
      if (!v["dtype"].is_string()) throw bad(at + ": dtype is not a string");
      const std::string ds = v["dtype"].get<std::string>();
      const auto dt = st_dtype(ds);
      if (!dt)
        throw Error(Errc::unsupported, {f},
                    "safetensors: " + at + ": dtype " + ds + " is not supported");
      const json& sh = v["shape"];
      if (!sh.is_array() || sh.size() > kMaxRank)
        throw bad(at + ": shape is not an array of at most 64 dimensions");
      Entry e;
      for (const auto& d : sh) {
        if (!d.is_number_unsigned())
          throw bad(at + ": shape has a non-integer or negative dimension");
        e.t.shape.push_back(d.get<std::uint64_t>());
      }
      const json& off = v["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned())
        throw bad(at + ": data_offsets is not [begin, end]");
      e.begin = off[0].get<std::uint64_t>();
      e.end = off[1].get<std::uint64_t>();
      if (e.begin > e.end || e.end > data_size)
        throw bad(at + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] outside the " + std::to_string(data_size) + " data bytes");
      e.t.name = name;
      e.t.dtype = *dt;
      std::uint64_t want;
      try {
        want = element_count(e.t.shape) * keras64::info(*dt).size;
      } catch (const Error&) {
        throw bad(at + ": shape " + shape_string(e.t.shape) + " is too large");
      }
      if (want != e.end - e.begin)
        throw bad(at + ": " + shape_string(e.t.shape) + " " + ds + " is " + std::to_string(want) +
                  " bytes, data_offsets span " + std::to_string(e.end - e.begin));
      e.t.file = f;
      e.t.dataset = name;
      entries.push_back(std::move(e));
    }
    // No two tensors may share bytes.
    std::vector<const Entry*> by_off;
    by_off.reserve(entries.size());
    for (const auto& e : entries) by_off.push_back(&e);
    std::stable_sort(by_off.begin(), by_off.end(), [](const Entry* a, const Entry* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    for (std::size_t i = 1; i < by_off.size(); ++i)
      if (by_off[i]->begin < by_off[i - 1]->end)
        throw bad("tensors '" + by_off[i - 1]->t.name + "' and '" + by_off[i]->t.name +
                  "' overlap");

    std::vector<const Entry*> order;
    if (auto it = meta.find("keras64.order"); it != meta.end()) {
      json names;
      try {
        names = json::parse(it->second);
      } catch (const json::exception&) {
        throw bad("__metadata__[\"keras64.order\"] is not a JSON array of names");
      }
      if (!names.is_array())
        throw bad("__metadata__[\"keras64.order\"] is not a JSON array of names");
      std::map<std::string, const Entry*> by_name;
      for (const auto& e : entries) by_name[e.t.name] = &e;
      std::set<std::string> listed;
      for (const auto& nm : names) {
        if (!nm.is_string()) throw bad("__metadata__[\"keras64.order\"] holds a non-string");
        const std::string s = nm.get<std::string>();
        auto e = by_name.find(s);
        if (e == by_name.end())
          throw bad("__metadata__[\"keras64.order\"] names '" + s + "', which is not a tensor");
        if (!listed.insert(s).second)
          throw bad("__metadata__[\"keras64.order\"] lists '" + s + "' twice");
        order.push_back(e->second);
      }
      if (order.size() != entries.size())
        for (const auto& e : entries)
          if (!listed.count(e.t.name))
            throw bad("__metadata__[\"keras64.order\"] does not list '" + e.t.name + "'");
      info_.order_exact =
          meta.count("keras64.order_exact") && meta["keras64.order_exact"] == "true";
      info_.note = meta.count("keras64.note") ? meta["keras64.note"] : "";
    } else {
      order = by_off;
      info_.note =
          "safetensors without keras64 order metadata: tensors in file (data offset) order";
    }
    if (!info_.order_exact && info_.note.empty())
      info_.note = "order recorded by the writer as inexact";
    if (meta.count("keras64.keras_version")) info_.keras_version = meta["keras64.keras_version"];
    for (const Entry* e : order) {
      tensors_.push_back(e->t);
      begins_.push_back(e->begin);
    }
    if (auto it = meta.find("keras64.keys"); it != meta.end()) {
      // Checkpoint keys of a TensorFlow input, in keras64.order's order.
      json keys = json::parse(it->second, nullptr, false);
      if (!keys.is_array() || keys.size() != tensors_.size() || !meta.count("keras64.order"))
        throw bad(
            "__metadata__[\"keras64.keys\"] does not hold one key per tensor of "
            "keras64.order");
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!keys[i].is_string())
          throw bad("__metadata__[\"keras64.keys\"][" + std::to_string(i) + "] is not a string");
        tensors_[i].key = keys[i].get<std::string>();
      }
    }
    if (auto it = meta.find("keras64.crc32c"); it != meta.end()) {
      // One CRC32C per tensor, in keras64.order's order (the writer records both).
      const std::string key = "__metadata__[\"keras64.crc32c\"]";
      json crcs;
      try {
        crcs = json::parse(it->second);
      } catch (const json::exception&) {
        throw bad(key + " is not a JSON array");
      }
      if (!crcs.is_array() || crcs.size() != tensors_.size() || !meta.count("keras64.order"))
        throw bad(key + " does not hold one checksum per tensor of keras64.order");
      for (std::size_t i = 0; i < crcs.size(); ++i) {
        std::uint32_t v = 0;
        if (!crcs[i].is_string() || !parse_crc_hex(crcs[i].get<std::string>(), v))
          throw bad(key + "[" + std::to_string(i) + "] is not 8 hex digits");
        checksums_.push_back({{"crc32c", v, f + ":__metadata__"}});
      }
    }
  }

  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::vector<std::vector<TensorChecksum>> tensor_checksums() const override { return checksums_; }

  std::optional<FileExtent> extent(std::size_t index) const override {
    const TensorInfo& t = tensors_.at(index);
    return FileExtent{info_.file, data_start_ + begins_[index], t.nbytes()};
  }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    const TensorInfo& t = checked_read(tensors_, index, first, count);
    const std::size_t size = keras64::info(t.dtype).size;
    file_.pread_all(dst, static_cast<std::size_t>(count * size),
                    data_start_ + begins_[index] + first * size);
  }

 private:
  File file_;
  SourceInfo info_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::uint64_t> begins_;
  std::vector<std::vector<TensorChecksum>> checksums_;
  std::uint64_t data_start_ = 0;
};

}  // namespace

bool probe_safetensors(const Sniff& s) {
  if (s.is_dir || s.is_zip || s.is_hdf5 || s.head.size() < 9) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.head.data());
  const std::uint64_t n = le64(p);
  return n >= 2 && n <= s.size - 8 && s.head[8] == '{';
}

std::unique_ptr<Source> open_safetensors(const fs::path& path, const OpenOptions&) {
  return std::make_unique<SafetensorsSource>(path);
}

}  // namespace keras64::detail
