// --to safetensors: one file in the safetensors format,
// https://github.com/huggingface/safetensors#format
//
//   [u64 little-endian N] [N bytes of UTF-8 JSON header, padded with spaces] [data]
//   header = {"__metadata__": {string: string},
//             "<name>": {"dtype": "F64", "shape": [...], "data_offsets": [begin, end]}, ...}
//
// Tensors are keyed by TensorInfo::name, in plan (get_weights()) order both in the header and in
// the data; offsets are relative to the start of the data and contiguous. N is a multiple of 8,
// so the data start (8 + N) is 8-byte aligned. Integer tensors kept as integers get their own
// dtype ("I32", ...). __metadata__ holds, as strings (the format allows nothing else):
//   keras64.crc32c         JSON list of each tensor's CRC32C (8 lower-case hex digits) in the
//                          order of keras64.order: checked by `keras64 verify`
//   keras64.order          JSON list of the names in get_weights() order (JSON objects are
//                          unordered for most readers)
//   keras64.source_dtypes  JSON list of the stored dtypes in the source, in the same order
//   keras64.source_file, keras64.source_kind, keras64.keras_version, keras64.order_exact
//   keras64.keys           TensorFlow inputs: JSON list of each tensor's checkpoint key
//                          (TensorInfo::key) in the same order
// The header is written first, then each tensor's bytes as they arrive: never the whole file in
// memory. The CRC32Cs are known only at the end: the header is written with "00000000" in their
// place, its pages are kept in the page cache (Writeback::pin) and the digits are patched in at
// commit, before the fsync.
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "detail/buffered_writer.hpp"
#include "detail/crc32c.hpp"
#include "detail/file.hpp"
#include "detail/output_path.hpp"
#include "keras64/error.hpp"
#include "sinks/ordered_sink.hpp"
#include "sinks/sinks.hpp"

namespace keras64::detail {
namespace {

class SafetensorsSink final : public OrderedSink {
 public:
  SafetensorsSink(std::filesystem::path target, const SinkOptions& options)
      : target_(std::move(target)), options_(options) {
    check_output_target(target_, options_.force);
    record_crc32c();
  }

 private:
  std::string header() const {
    nlohmann::ordered_json h, order = nlohmann::json::array(), dtypes = nlohmann::json::array(),
                              keys = nlohmann::json::array();
    std::set<std::string> names;
    bool any_key = false;
    for (const auto& t : plan().tensors) {
      keys.push_back(t.source.key);
      any_key = any_key || !t.source.key.empty();
      if (!names.insert(t.source.name).second)
        throw Error(
            Errc::unsupported, {target_.string()},
            "two tensors are named '" + t.source.name + "' (safetensors keys must be unique)");
      order.push_back(t.source.name);
      dtypes.push_back(info(t.source.dtype).name);
    }
    const SourceInfo& s = plan().source;
    auto& m = h["__metadata__"];
    // First key of the first object: its value is the first match of kCrcKey (on_begin).
    m["keras64.crc32c"] =
        nlohmann::json(std::vector<std::string>(plan().tensors.size(), kCrcPlaceholder)).dump();
    m["keras64.order"] = order.dump();
    m["keras64.source_dtypes"] = dtypes.dump();
    m["keras64.source_file"] = s.file;
    m["keras64.source_kind"] = std::string(kind_name(s.kind));
    m["keras64.keras_version"] = s.keras_version;
    m["keras64.order_exact"] = s.order_exact ? "true" : "false";
    if (any_key) m["keras64.keys"] = keys.dump();
    std::uint64_t offset = 0;
    for (const auto& t : plan().tensors) {
      const std::uint64_t end = offset + t.nbytes();
      h[t.source.name] = {{"dtype", info(t.dtype).st_name},
                          {"shape", t.source.shape},
                          {"data_offsets", {offset, end}}};
      offset = end;
    }
    // Names come from files; invalid UTF-8 is replaced rather than refused.
    std::string text = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
  }

  static constexpr const char* kCrcKey = "\"keras64.crc32c\":\"";
  static constexpr const char* kCrcPlaceholder = "00000000";

  // Where the digits of tensor i's CRC32C are in the header text: the value of keras64.crc32c
  // is the JSON text ["xxxxxxxx","xxxxxxxx",...] escaped as a string: [\"xxxxxxxx\",\"...
  void find_crc_slots(const std::string& text) {
    const std::size_t at = text.find(kCrcKey);
    if (at == std::string::npos) throw Error(Errc::internal, "safetensors: no keras64.crc32c");
    const std::size_t first = at + std::string_view(kCrcKey).size() + 3;  // past [\"
    for (std::size_t i = 0; i < plan().tensors.size(); ++i) {
      const std::size_t pos = first + 13 * i;  // 8 digits and \",\"
      if (text.compare(pos, 8, kCrcPlaceholder) != 0)
        throw Error(Errc::internal, "safetensors: keras64.crc32c is not where expected");
      crc_slots_.push_back(8 + pos);  // file offset: after the 8-byte length
    }
    if (!crc_slots_.empty()) crc_text_ = text.substr(first, crc_slots_.back() - 8 - first + 8);
  }

  void on_begin() override {
    const std::string text = header();
    find_crc_slots(text);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(text.size() >> (8 * i));
    pending_.emplace(target_, options_.force, PendingOutput::Kind::file);
    try {
      file_ = File::create(pending_->temp());
      out_.emplace(file_);
      out_->write_pinned(len, sizeof len);  // the CRC digits are patched in at commit
      out_->write_pinned(text.data(), text.size());
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    bytes_ = sizeof len + text.size();
  }

  void on_open(std::size_t) override {}
  void on_append(const void* data, std::size_t n) override {
    try {
      out_->write(data, n);
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    bytes_ += n;
  }
  std::span<unsigned char> on_lend(std::size_t n) override {
    try {
      return out_->lend(n);
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
  }
  void on_close(std::size_t) override {}

  void on_commit() override {
    try {
      out_->finish();
      // One write of the whole list (a write per tensor cost 5 ms for 204 tensors).
      for (std::size_t i = 0; i < crc_slots_.size(); ++i)
        crc_text_.replace(crc_slots_[i] - crc_slots_[0], 8, crc_hex(crc32c(i)));
      if (!crc_slots_.empty()) file_.pwrite_all(crc_text_.data(), crc_text_.size(), crc_slots_[0]);
      out_->writeback().unpin(file_);
    } catch (const Error& e) {
      throw e.renamed(pending_->temp().string(), target_.string());
    }
    pending_->commit_file(file_);
  }

  std::filesystem::path target_;
  SinkOptions options_;
  std::optional<PendingOutput> pending_;  // declared before file_: destroyed last
  File file_;
  std::optional<BufferedWriter> out_;     // writes file_ (issue #6)
  std::vector<std::uint64_t> crc_slots_;  // file offsets of each tensor's CRC32C digits
  std::string crc_text_;                  // the header from the first slot to the end of the last
};

}  // namespace

std::unique_ptr<Sink> make_safetensors_sink(const std::filesystem::path& path,
                                            const SinkOptions& options) {
  return std::make_unique<SafetensorsSink>(path, options);
}

}  // namespace keras64::detail
