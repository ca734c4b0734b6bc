#include "detail/zip_writer.hpp"

#include <isa-l/crc.h>

#include <algorithm>
#include <iterator>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kLocator64Sig = 0x07064b50;
constexpr std::uint16_t kUtf8Flag = 0x0800;  // general purpose bit 11: names are UTF-8
constexpr std::uint16_t kDosTime = 0;        // 00:00:00
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01: the earliest DOS date
constexpr std::uint16_t kVersion = 20;                       // 2.0: deflate
constexpr std::uint16_t kVersion64 = 45;                     // 4.5: ZIP64
constexpr std::uint16_t kMadeByUnix = 3 << 8;
constexpr std::uint32_t kRegularFile0644 = 0100644u << 16;  // Unix mode in the external attributes
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kZip64LocalExtraSize = 20;  // id, size, uncompressed, compressed

void put16(std::string& b, std::uint16_t v) {
  b += static_cast<char>(v & 0xFF);
  b += static_cast<char>(v >> 8);
}
void put32(std::string& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b += static_cast<char>((v >> (8 * i)) & 0xFF);
}

}  // namespace

ZipWriter::ZipWriter(File& file, std::string shown, std::uint64_t zip64_threshold, unsigned threads)
    : file_(file),
      out_(file),
      shown_(std::move(shown)),
      threshold_(std::min(zip64_threshold, kZip64Limit)),
      threads_(threads) {}

ZipWriter::~ZipWriter() = default;

ErrorContext ZipWriter::where() const {
  return open_ ? ErrorContext{shown_, entries_.back().name} : ErrorContext{shown_};
}

// A write that failed on the O_DIRECT queue surfaces at a later call, maybe in a later member:
// the error names the member that the failed write was for.
void ZipWriter::rethrow(const ErrorContext& where) {
  try {
    throw;
  } catch (const Error& e) {
    const std::optional<std::uint64_t> at = out_.failed_at();
    throw e.renamed(file_.path(), at ? where_at(*at) : where);
  }
}

ErrorContext ZipWriter::where_at(std::uint64_t offset) const {
  const auto after = std::upper_bound(entries_.begin(), entries_.end(), offset,
                                      [](std::uint64_t o, const Entry& e) { return o < e.offset; });
  if (after == entries_.begin() || (cd_offset_ && offset >= *cd_offset_))
    return ErrorContext{shown_};  // the central directory
  return ErrorContext{shown_, std::prev(after)->name};
}

void ZipWriter::put(const void* data, std::size_t n, bool pinned) {
  try {
    if (pinned)
      out_.write_pinned(data, n);
    else
      out_.write(data, n);
  } catch (...) {
    rethrow(where());
  }
  offset_ += n;
}

void ZipWriter::begin_member(std::string name, std::uint64_t uncompressed_size, Method method,
                             int level) {
  if (open_ || finished_)
    throw Error(Errc::internal, shown_,
                "zip member " + name +
                    (finished_ ? " begun after finish()" : " begun while another is open"));
  if (name.empty() || name.size() > 0xFFFF)
    throw Error(Errc::internal, shown_,
                "bad zip member name length " + std::to_string(name.size()));
  const bool stored = method == Method::stored;
  Entry e;
  e.name = std::move(name);
  e.method = method;
  e.size = uncompressed_size;
  e.csize = stored ? uncompressed_size : 0;
  e.offset = offset_;
  e.local_zip64 = (stored ? uncompressed_size : deflate_bound(uncompressed_size)) >= threshold_;
  // The deflater is made first: a bad level must fail before anything is written.
  if (!stored)
    deflater_ = make_deflater(level, threads_, [this](const void* p, std::size_t n) {
      put(p, n);
      entries_.back().csize += n;
    });
  else
    deflater_.reset();

  std::string h;
  h.reserve(kLocalHeaderSize + e.name.size() + kZip64LocalExtraSize);
  put32(h, kLocalSig);
  put16(h, e.local_zip64 ? kVersion64 : kVersion);
  put16(h, kUtf8Flag);
  put16(h, static_cast<std::uint16_t>(method));
  put16(h, kDosTime);
  put16(h, kDosDate);
  put32(h, 0);  // CRC-32, patched in end_member()
  put32(h, e.local_zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.csize));
  put32(h, e.local_zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
  put16(h, static_cast<std::uint16_t>(e.name.size()));
  put16(h, e.local_zip64 ? kZip64LocalExtraSize : 0);
  h += e.name;
  if (e.local_zip64) {
    // A local ZIP64 extra must carry both sizes (APPNOTE 4.5.3).
    put16(h, 0x0001);
    put16(h, 16);
    put64(h, e.size);
    put64(h, e.csize);
  }
  entries_.push_back(std::move(e));
  open_ = true;
  written_ = 0;
  put(h.data(), h.size(), true);  // patched with the CRC in finish(): kept in the page cache
}

std::uint64_t ZipWriter::begin_member_in_place(std::string name, std::uint64_t size) {
  begin_member(std::move(name), size, Method::stored);
  in_place_ = true;
  return offset_;
}

void ZipWriter::end_member_in_place(std::uint32_t crc) {
  if (!open_ || !in_place_)
    throw Error(Errc::internal, shown_, "zip end_member_in_place with no such member open");
  Entry& e = entries_.back();
  e.crc = crc;
  offset_ += e.size;
  try {
    out_.seek(offset_);
  } catch (...) {
    rethrow(where());
  }
  in_place_ = false;
  open_ = false;
}

void ZipWriter::write(const void* data, std::size_t n) {
  if (!open_ || in_place_)
    throw Error(Errc::internal, shown_ + (open_ ? ": zip write to an in-place member"
                                                : ": zip write with no member open"));
  Entry& e = entries_.back();
  if (n > e.size - written_)
    throw Error(Errc::internal, where(),
                "more data than the declared " + std::to_string(e.size) + " bytes");
  if (n == 0) return;
  // ISA-L's CRC-32 (the gzip/zip polynomial, same values as zlib's crc32) runs at memory speed.
  e.crc = crc32_gzip_refl(e.crc, static_cast<const unsigned char*>(data), n);
  written_ += n;
  if (deflater_) {
    deflater_->write(data, n);
  } else {
    put(data, n);
  }
}

std::span<unsigned char> ZipWriter::lend(std::size_t n) {
  if (!open_ || in_place_ || deflater_) return {};
  try {
    return out_.lend(n);  // write() still refuses more than the member's declared size
  } catch (const Error&) {
    rethrow(where());
  }
}

void ZipWriter::end_member() {
  if (!open_ || in_place_)
    throw Error(Errc::internal, shown_ + (open_ ? ": zip end_member of an in-place member"
                                                : ": zip end_member with no member open"));
  Entry& e = entries_.back();
  if (written_ != e.size)
    throw Error(Errc::internal, where(),
                "member ended after " + std::to_string(written_) + " of its " +
                    std::to_string(e.size) + " bytes");
  if (deflater_) {
    deflater_->finish();
    deflater_.reset();
    if (e.csize >= threshold_ && !e.local_zip64)
      throw Error(Errc::internal, where(), "compressed size exceeds deflate_bound()");
  }
  try {
    out_.flush();
  } catch (...) {
    rethrow(where());
  }
  open_ = false;
}

// The CRC-32 (and a deflated member's compressed size) of every local header, written when the
// archive is complete and on the device: patching at the end of each member made the write wait
// for the header page's writeback, or read it back from the device, once per member (~0.5 s per
// GB of npz). The header pages stay cached (Writeback::pin), so these writes cost nothing and
// the caller's fsync takes them to the device.
void ZipWriter::patch_local_headers() {
  for (const Entry& e : entries_) {
    std::string crc;
    put32(crc, e.crc);
    std::string csize;
    if (e.local_zip64)
      put64(csize, e.csize);
    else
      put32(csize, static_cast<std::uint32_t>(e.csize));
    const std::uint64_t csize_at =
        e.local_zip64 ? e.offset + kLocalHeaderSize + e.name.size() + 4 + 8 : e.offset + 18;
    try {
      file_.pwrite_all(crc.data(), crc.size(), e.offset + 14);
      if (e.method != Method::stored) file_.pwrite_all(csize.data(), csize.size(), csize_at);
    } catch (...) {
      rethrow({shown_, e.name});
    }
  }
  out_.writeback().unpin(file_);
}

void ZipWriter::finish() {
  if (open_) throw Error(Errc::internal, where(), "zip finished with a member open");
  if (finished_) throw Error(Errc::internal, shown_, "zip finished twice");
  write_central_directory();
  try {
    out_.finish();
  } catch (...) {
    rethrow(shown_);
  }
  patch_local_headers();
  finished_ = true;
}

void ZipWriter::write_central_directory() {
  const std::uint64_t cd_offset = offset_;
  cd_offset_ = cd_offset;
  std::string b;
  auto flush = [&] {
    put(b.data(), b.size());
    b.clear();
  };
  for (const Entry& e : entries_) {
    const bool big_size = e.size >= threshold_;
    const bool big_csize = e.csize >= threshold_;
    const bool big_offset = e.offset >= threshold_;
    const bool zip64 = big_size || big_csize || big_offset;
    std::string extra;
    if (zip64) {
      // Only the fields whose 32-bit slot holds 0xFFFFFFFF, in this order (APPNOTE 4.5.3).
      put16(extra, 0x0001);
      put16(extra, static_cast<std::uint16_t>(8 * (big_size + big_csize + big_offset)));
      if (big_size) put64(extra, e.size);
      if (big_csize) put64(extra, e.csize);
      if (big_offset) put64(extra, e.offset);
    }
    const std::uint16_t version = zip64 || e.local_zip64 ? kVersion64 : kVersion;
    put32(b, kCentralSig);
    put16(b, kMadeByUnix | version);
    put16(b, version);
    put16(b, kUtf8Flag);
    put16(b, static_cast<std::uint16_t>(e.method));
    put16(b, kDosTime);
    put16(b, kDosDate);
    put32(b, e.crc);
    put32(b, big_csize ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.csize));
    put32(b, big_size ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
    put16(b, static_cast<std::uint16_t>(e.name.size()));
    put16(b, static_cast<std::uint16_t>(extra.size()));
    put16(b, 0);  // comment length
    put16(b, 0);  // disk number
    put16(b, 0);  // internal attributes
    put32(b, kRegularFile0644);
    put32(b, big_offset ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.offset));
    b += e.name;
    b += extra;
    if (b.size() >= (std::size_t{64} << 10)) flush();
  }
  const std::uint64_t cd_size = offset_ + b.size() - cd_offset;
  const std::uint64_t count = entries_.size();
  const std::uint64_t count_limit = std::min<std::uint64_t>(threshold_, 0xFFFF);
  const bool big_count = count >= count_limit;
  const bool big_cd_size = cd_size >= threshold_;
  const bool big_cd_offset = cd_offset >= threshold_;
  if (big_count || big_cd_size || big_cd_offset) {
    const std::uint64_t end64_offset = offset_ + b.size();
    put32(b, kEnd64Sig);
    put64(b, 44);  // size of the rest of this record
    put16(b, kMadeByUnix | kVersion64);
    put16(b, kVersion64);
    put32(b, 0);  // this disk
    put32(b, 0);  // disk with the central directory
    put64(b, count);
    put64(b, count);
    put64(b, cd_size);
    put64(b, cd_offset);
    put32(b, kLocator64Sig);
    put32(b, 0);  // disk with the ZIP64 end record
    put64(b, end64_offset);
    put32(b, 1);  // total disks
  }
  const auto count16 = static_cast<std::uint16_t>(big_count ? 0xFFFF : count);
  put32(b, kEndSig);
  put16(b, 0);
  put16(b, 0);
  put16(b, count16);
  put16(b, count16);
  put32(b, big_cd_size ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_size));
  put32(b, big_cd_offset ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_offset));
  put16(b, 0);  // comment length
  flush();
}

}  // namespace keras64::detail
