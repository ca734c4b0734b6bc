// verify(): every checksum a file carries, checked (keras64/verify.hpp).
#include "keras64/verify.hpp"

#include <algorithm>
#include <cstdio>

#include "detail/crc32c.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"

namespace fs = std::filesystem;

namespace keras64 {
namespace {

// The kinds in the order the report lists them.
constexpr const char* kKinds[] = {"crc32c", "fletcher32", "tf-crc32c", "zip-crc32"};

void add_kind(VerifyReport& r, const std::string& kind) {
  if (std::find(r.kinds.begin(), r.kinds.end(), kind) == r.kinds.end()) r.kinds.push_back(kind);
}

void sort_kinds(VerifyReport& r) {
  auto rank = [](const std::string& k) {
    return std::find(std::begin(kKinds), std::end(kKinds), k) - std::begin(kKinds);
  };
  std::sort(r.kinds.begin(), r.kinds.end(),
            [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
}

void check_cancel(const VerifyOptions& o) {
  if (o.cancel && o.cancel->load(std::memory_order_relaxed))
    throw Error(Errc::interrupted, "interrupted");
}

// Reads tensor i through and compares what it computes with what the file records. Fletcher32
// and TensorFlow's CRC32C need no computing here: read() checks them as the bytes pass.
void check_tensor(Source& src, std::size_t i, const std::vector<TensorChecksum>& sums,
                  std::vector<unsigned char>& buf, Progress& progress, const VerifyOptions& o) {
  const TensorInfo& t = src.tensors()[i];
  const std::size_t es = info(t.dtype).size;
  const std::uint64_t n = t.elements();
  const std::uint64_t step = std::max<std::uint64_t>(1, buf.size() / es);
  // keras64's CRC32C is computed here; the other kinds are checked by read() itself.
  const bool ours = std::any_of(sums.begin(), sums.end(),
                                [](const TensorChecksum& c) { return c.kind == "crc32c"; });
  std::uint32_t state = detail::crc32c_initial();
  for (std::uint64_t first = 0; first < n;) {
    check_cancel(o);
    const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(step, n - first));
    src.read(i, first, count, buf.data());
    if (ours) state = detail::crc32c_update(state, buf.data(), count * es);
    first += count;
    progress.bytes_done += count * es;
    if (o.on_progress) o.on_progress(progress);
  }
  const std::uint32_t crc = detail::crc32c_final(state);
  for (const TensorChecksum& c : sums) {
    if (c.kind != "crc32c" || c.value == crc) continue;
    char detail[96];
    std::snprintf(detail, sizeof detail, ": CRC32C mismatch: computed 0x%08x, ", crc);
    char recorded[16];
    std::snprintf(recorded, sizeof recorded, "0x%08x", c.value);
    throw Error(Errc::corrupt, t.where() + ": tensor " + std::to_string(i) + " '" + t.name + "'" +
                                   detail + c.recorded_in + " records " + recorded);
  }
}

void check_zip(const fs::path& path, VerifyReport& r, const VerifyOptions& o) {
  const detail::ZipReader zip(path);
  for (const detail::ZipEntry& e : zip.entries()) {
    check_cancel(o);
    zip.read(e, [](const void*, std::size_t) {});  // throws on a CRC-32 or size mismatch
    ++r.zip_members;
    r.zip_bytes += e.size;
  }
  add_kind(r, "zip-crc32");
}

}  // namespace

VerifyReport verify(const fs::path& path, const VerifyOptions& options) {
  OpenOptions oo;
  oo.include_optimizer = true;  // every tensor the file holds
  auto src = open_source(path, oo);
  VerifyReport r;
  r.source = src->info();
  const auto& ts = src->tensors();
  r.tensors = ts.size();
  const bool zip = !fs::is_directory(path) && detail::ZipReader::has_signature(path);

  const auto sums = src->tensor_checksums();
  if (!sums.empty() && sums.size() != ts.size())
    throw Error(Errc::internal, {r.source.file},
                std::to_string(sums.size()) + " checksum lists for " + std::to_string(ts.size()) +
                    " tensors");
  Progress progress;
  progress.tensors = ts.size();
  for (std::size_t i = 0; i < sums.size(); ++i)
    if (!sums[i].empty()) progress.bytes_total += ts[i].nbytes();
  std::vector<unsigned char> buf(std::max<std::size_t>(8, options.chunk_bytes));
  for (std::size_t i = 0; i < ts.size(); ++i) {
    progress.tensor = i;
    if (i < sums.size() && !sums[i].empty()) {
      check_tensor(*src, i, sums[i], buf, progress, options);
      for (const auto& c : sums[i]) add_kind(r, c.kind);
      ++r.tensors_checked;
      r.bytes_checked += ts[i].nbytes();
    } else if (!zip) {
      r.unchecked.push_back(ts[i].name);
    }
  }
  if (zip) {
    check_zip(path, r, options);
    r.tensors_checked = ts.size();  // every tensor lies in a member
  }
  sort_kinds(r);
  return r;
}

}  // namespace keras64
