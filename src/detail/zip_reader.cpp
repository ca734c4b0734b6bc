#include "detail/zip_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kEnd64LocSig = 0x07064b50;
constexpr std::size_t kMaxEntries = 1000000;

std::uint16_t u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t u32(const unsigned char* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
std::uint64_t u64(const unsigned char* p) {
  return u32(p) | (std::uint64_t{u32(p + 4)} << 32);
}

bool safe_name(const std::string& n) {
  if (n.empty() || n[0] == '/' || n[0] == '\\' || n.find('\0') != std::string::npos) return false;
  if (n.size() > 1 && n[1] == ':') return false;  // "C:..."
  std::size_t pos = 0;
  while (pos <= n.size()) {
    std::size_t next = n.find_first_of("/\\", pos);
    if (next == std::string::npos) next = n.size();
    if (n.compare(pos, next - pos, "..") == 0 && next - pos == 2) return false;
    pos = next + 1;
  }
  return true;
}

}  // namespace

Error zip_crc_mismatch(const ErrorContext& where, std::uint32_t computed, std::uint32_t recorded) {
  char detail[96];
  std::snprintf(detail, sizeof detail,
                "CRC-32 mismatch: computed 0x%08x, the zip directory records 0x%08x", computed,
                recorded);
  return Error(Errc::corrupt, where, detail);
}

bool ZipReader::has_signature(const std::filesystem::path& path) {
  try {
    File f = File::open_read(path);
    unsigned char b[4];
    if (f.pread_some(b, 4, 0) != 4) return false;
    const std::uint32_t sig = u32(b);
    return sig == kLocalSig || sig == kEndSig;
  } catch (const Error&) {
    return false;
  }
}

ZipReader::ZipReader(const std::filesystem::path& path) : path_(path.string()) {
  file_ = File::open_read(path);
  file_size_ = file_.size();
  parse();
}

void ZipReader::parse() {
  auto corrupt = [&](const std::string& why) {
    return Error(Errc::corrupt, {path_}, "not a valid zip archive: " + why);
  };
  if (file_size_ < 22)
    throw corrupt("file is too short (" + std::to_string(file_size_) + " bytes)");
  // The end record is in the last 22 + 65535 bytes (its comment is at most 65535 bytes long).
  const std::uint64_t tail_len = std::min<std::uint64_t>(file_size_, 22 + 65535);
  std::vector<unsigned char> tail(tail_len);
  file_.pread_all(tail.data(), tail.size(), file_size_ - tail_len);
  std::optional<std::size_t> eocd;
  for (std::size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (u32(&tail[i]) == kEndSig && i + 22 + u16(&tail[i + 20]) <= tail.size()) {
      eocd = i;
      break;
    }
  }
  if (!eocd) throw corrupt("end of central directory not found (truncated?)");
  const unsigned char* e = &tail[*eocd];
  std::uint64_t count = u16(e + 10);
  std::uint64_t cd_size = u32(e + 12);
  std::uint64_t cd_offset = u32(e + 16);
  const std::uint64_t eocd_pos = file_size_ - tail_len + *eocd;
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd_pos < 20) throw corrupt("ZIP64 locator missing");
    unsigned char loc[20];
    file_.pread_all(loc, 20, eocd_pos - 20);
    if (u32(loc) != kEnd64LocSig) throw corrupt("ZIP64 locator missing");
    const std::uint64_t rec = u64(loc + 8);
    if (rec > file_size_ - 56) throw corrupt("ZIP64 end record out of range");
    unsigned char r[56];
    file_.pread_all(r, 56, rec);
    if (u32(r) != kEnd64Sig) throw corrupt("ZIP64 end record signature mismatch");
    count = u64(r + 32);
    cd_size = u64(r + 40);
    cd_offset = u64(r + 48);
  }
  if (count > kMaxEntries) throw corrupt("too many entries (" + std::to_string(count) + ")");
  if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset)
    throw corrupt("central directory out of range (truncated?)");
  if (cd_size < count * 46) throw corrupt("central directory too small for its entry count");
  std::vector<unsigned char> cd(cd_size);
  file_.pread_all(cd.data(), cd.size(), cd_offset);

  std::size_t p = 0;
  entries_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd.size() || u32(&cd[p]) != kCentralSig)
      throw corrupt("bad central directory entry " + std::to_string(i));
    const unsigned char* h = &cd[p];
    ZipEntry z;
    const std::uint16_t flags = u16(h + 8);
    z.method = u16(h + 10);
    z.crc32 = u32(h + 16);
    z.compressed_size = u32(h + 20);
    z.size = u32(h + 24);
    const std::size_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    z.local_header_offset = u32(h + 42);
    if (p + 46 + name_len + extra_len + comment_len > cd.size())
      throw corrupt("central directory entry overruns");
    z.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // ZIP64 extended information: only the fields that were 0xFFFFFFFF, in this order.
    const unsigned char* x = h + 46 + name_len;
    for (std::size_t q = 0; q + 4 <= extra_len;) {
      const std::uint16_t id = u16(x + q), len = u16(x + q + 2);
      if (q + 4 + len > extra_len) throw corrupt(z.name + ": bad extra field");
      if (id == 0x0001) {
        std::size_t f = q + 4;
        auto take = [&](std::uint64_t& v) {
          if (f + 8 > q + 4 + len) throw corrupt(z.name + ": short ZIP64 extra field");
          v = u64(x + f);
          f += 8;
        };
        if (z.size == 0xFFFFFFFF) take(z.size);
        if (z.compressed_size == 0xFFFFFFFF) take(z.compressed_size);
        if (z.local_header_offset == 0xFFFFFFFF) take(z.local_header_offset);
      }
      q += 4 + len;
    }
    if (flags & 0x1)
      throw Error(Errc::unsupported, {path_, z.name}, "encrypted zip members are not supported");
    if (z.method != 0 && z.method != 8)
      throw Error(Errc::unsupported, {path_, z.name},
                  "unsupported compression method " + std::to_string(z.method));
    if (!safe_name(z.name)) throw corrupt("unsafe member name '" + z.name + "'");
    if (z.method == 0 && z.size != z.compressed_size)
      throw corrupt(z.name + ": stored member with differing sizes");
    // Local header: its name and extra lengths may differ from the central copy.
    if (z.local_header_offset > file_size_ - 30)
      throw corrupt(z.name + ": local header out of range");
    unsigned char lh[30];
    file_.pread_all(lh, 30, z.local_header_offset);
    if (u32(lh) != kLocalSig) throw corrupt(z.name + ": local header signature mismatch");
    z.data_offset = z.local_header_offset + 30 + u16(lh + 26) + u16(lh + 28);
    if (z.data_offset > file_size_ || z.compressed_size > file_size_ - z.data_offset)
      throw corrupt(z.name + ": data runs past the end of the file (truncated?)");
    entries_.push_back(std::move(z));
    p += 46 + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void ZipReader::read(const ZipEntry& e,
                     const std::function<void(const void*, std::size_t)>& out) const {
  const ErrorContext where{path_, e.name};
  constexpr std::size_t kBuf = 1 << 20;
  std::vector<unsigned char> in(
      std::min<std::uint64_t>(kBuf, std::max<std::uint64_t>(e.compressed_size, 1)));
  uLong crc = crc32(0, nullptr, 0);
  std::uint64_t produced = 0;
  if (e.method == 0) {
    for (std::uint64_t off = 0; off < e.size;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), e.size - off));
      file_.pread_all(in.data(), n, e.data_offset + off);
      crc = crc32(crc, in.data(), static_cast<uInt>(n));
      out(in.data(), n);
      off += n;
    }
    produced = e.size;
  } else {
    z_stream zs{};
    if (inflateInit2(&zs, -15) != Z_OK) throw Error(Errc::internal, where, "inflateInit2 failed");
    struct Guard {
      z_stream* z;
      ~Guard() { inflateEnd(z); }
    } guard{&zs};
    std::vector<unsigned char> buf(kBuf);
    std::uint64_t consumed = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0) {
        if (consumed >= e.compressed_size)
          throw Error(Errc::corrupt, where, "compressed data ends early");
        const std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>(in.size(), e.compressed_size - consumed));
        file_.pread_all(in.data(), n, e.data_offset + consumed);
        consumed += n;
        zs.next_in = in.data();
        zs.avail_in = static_cast<uInt>(n);
      }
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END)
        throw Error(Errc::corrupt, where, "invalid deflate data");
      const std::size_t got = buf.size() - zs.avail_out;
      produced += got;
      // A member may not inflate past its declared size: that is how zip bombs are stopped.
      if (produced > e.size)
        throw Error(Errc::corrupt, where,
                    "inflates past its declared size of " + std::to_string(e.size) + " bytes");
      crc = crc32(crc, buf.data(), static_cast<uInt>(got));
      if (got) out(buf.data(), got);
    }
  }
  if (produced != e.size)
    throw Error(Errc::corrupt, where,
                "size mismatch: " + std::to_string(produced) + " bytes, " + std::to_string(e.size) +
                    " declared");
  if (crc != e.crc32) throw zip_crc_mismatch(where, static_cast<std::uint32_t>(crc), e.crc32);
}

std::string ZipReader::read_all(const ZipEntry& e, std::uint64_t limit) const {
  if (e.size > limit)
    throw Error(Errc::corrupt, {path_, e.name},
                "member is too large (" + std::to_string(e.size) + " bytes)");
  std::string s;
  s.reserve(static_cast<std::size_t>(e.size));
  read(e, [&](const void* p, std::size_t n) { s.append(static_cast<const char*>(p), n); });
  return s;
}

}  // namespace keras64::detail
