// .npz: a zip of .npy members - keras64's --to npz / npz-deflate output (weight_{i}.npy) or
// np.savez(*arrays) / np.savez_compressed (arr_{i}.npy), or any np.savez(name=array).
// Tensors are the members in central-directory order (what np.load(f).files lists), named by the
// member name without ".npy". Stored members are read in place at their data offset; deflated
// members are inflated by one zlib stream per member that moves forward with the reads (convert()
// reads each tensor front to back, so nothing is inflated twice), and the CRC-32 and size are
// checked when the stream reaches the member's end. The stored members' CRC-32 is checked by one
// background pass (detail::ZipCrcCheck) that verify_checksums() waits for.
#include <zlib.h>

#include <array>
#include <memory>

#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "detail/zip_crc_check.hpp"
#include "detail/zip_reader.hpp"
#include "keras64/error.hpp"
#include "sources/numpy_files.hpp"
#include "sources/sniff.hpp"
#include "sources/source_util.hpp"
#include "sources/sources.hpp"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

// The uncompressed bytes of one deflated member, read forward from any position.
class Inflater {
 public:
  Inflater(const File& file, ZipEntry entry, ErrorContext where)
      : file_(file), e_(std::move(entry)), where_(std::move(where)), in_(1 << 16) {
    reset();
  }
  ~Inflater() { inflateEnd(&zs_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  /// Copies n uncompressed bytes starting at `pos` to dst.
  void read(std::uint64_t pos, void* dst, std::size_t n) {
    if (pos < produced_) reset();
    auto* out = static_cast<unsigned char*>(dst);
    std::array<unsigned char, 1 << 16> skip;
    while (produced_ < pos) {
      const auto k =
          static_cast<std::size_t>(std::min<std::uint64_t>(skip.size(), pos - produced_));
      pull(skip.data(), k);
    }
    pull(out, n);
  }

 private:
  void reset() {
    if (started_) inflateEnd(&zs_);
    zs_ = z_stream{};
    if (inflateInit2(&zs_, -15) != Z_OK) throw Error(Errc::internal, where_, "inflateInit2 failed");
    started_ = true;
    consumed_ = produced_ = 0;
    crc_ = crc32(0, nullptr, 0);
    ended_ = false;
  }

  void pull(unsigned char* dst, std::size_t n) {
    if (produced_ + n > e_.size)
      throw Error(Errc::corrupt, where_, "member is shorter than its npy header says");
    zs_.next_out = dst;
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0) {
      if (ended_) throw Error(Errc::corrupt, where_, "compressed data ends early");
      if (zs_.avail_in == 0) {
        if (consumed_ >= e_.compressed_size)
          throw Error(Errc::corrupt, where_, "compressed data ends early");
        const auto k = static_cast<std::size_t>(
            std::min<std::uint64_t>(in_.size(), e_.compressed_size - consumed_));
        file_.pread_all(in_.data(), k, e_.data_offset + consumed_);
        consumed_ += k;
        zs_.next_in = in_.data();
        zs_.avail_in = static_cast<uInt>(k);
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END)
        ended_ = true;
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        throw Error(Errc::corrupt, where_, "invalid deflate data");
    }
    crc_ = crc32(crc_, dst, static_cast<uInt>(n));
    produced_ += n;
    if (produced_ == e_.size) finish();
  }

  // At the member's end the stream must end too, and the CRC-32 must match.
  void finish() {
    if (!ended_) {
      unsigned char extra;
      zs_.next_out = &extra;
      zs_.avail_out = 1;
      while (!ended_) {
        if (zs_.avail_in == 0 && consumed_ < e_.compressed_size) {
          const auto k = static_cast<std::size_t>(
              std::min<std::uint64_t>(in_.size(), e_.compressed_size - consumed_));
          file_.pread_all(in_.data(), k, e_.data_offset + consumed_);
          consumed_ += k;
          zs_.next_in = in_.data();
          zs_.avail_in = static_cast<uInt>(k);
        }
        const int rc = inflate(&zs_, Z_NO_FLUSH);
        if (zs_.avail_out == 0)
          throw Error(Errc::corrupt, where_,
                      "inflates past its declared size of " + std::to_string(e_.size) + " bytes");
        if (rc == Z_STREAM_END)
          ended_ = true;
        else if (rc != Z_OK || (zs_.avail_in == 0 && consumed_ >= e_.compressed_size))
          throw Error(Errc::corrupt, where_, "invalid deflate data");
      }
    }
    if (crc_ != e_.crc32)
      throw zip_crc_mismatch(where_, static_cast<std::uint32_t>(crc_), e_.crc32);
  }

  const File& file_;
  ZipEntry e_;
  ErrorContext where_;
  std::vector<unsigned char> in_;
  z_stream zs_{};
  bool started_ = false;
  bool ended_ = false;
  std::uint64_t consumed_ = 0, produced_ = 0;
  uLong crc_ = 0;
};

class NpzSource final : public Source {
 public:
  explicit NpzSource(const fs::path& path) : zip_(path) {
    info_.file = path.string();
    info_.kind = SourceKind::npz;
    info_.note = kClassicOrderNote;
    std::vector<ZipEntry> stored;  // read in place: checked by crc_check_
    for (const ZipEntry& e : zip_.entries()) {
      const ErrorContext where{info_.file, e.name};
      if (!e.name.ends_with(".npy"))
        throw Error(Errc::unsupported, where, "npz member is not a .npy file");
      if (e.method != 0 && e.method != 8)
        throw Error(Errc::unsupported, where, "compression method " + std::to_string(e.method));
      Member m{e, 0, false, nullptr};
      if (e.method == 8) m.inflater = std::make_unique<Inflater>(zip_.file(), e, where);
      // The header: at most kNpyMaxHeaderBytes, read through the same path as the data.
      std::array<unsigned char, kNpyPrefixBytes> prefix{};
      const auto np = static_cast<std::size_t>(std::min<std::uint64_t>(prefix.size(), e.size));
      raw(m, 0, prefix.data(), np);
      NpyHeader h;
      try {
        const std::uint64_t hl = npy_header_length(prefix.data(), np);
        if (hl > e.size) throw Error(Errc::corrupt, "truncated: member is shorter than its header");
        std::string buf(static_cast<std::size_t>(hl), '\0');
        raw(m, 0, buf.data(), buf.size());
        h = parse_npy_header(buf.data(), buf.size());
      } catch (const Error& err) {
        if (err.code() == Errc::io || !err.file().empty()) throw;
        throw err.within(where);
      }
      require_c_order(h.fortran_order, where);
      if (h.data_offset + h.nbytes != e.size)
        throw Error(Errc::corrupt, where,
                    std::to_string(e.size) + " bytes, the npy header says " +
                        std::to_string(h.data_offset + h.nbytes));
      m.data_offset = h.data_offset;
      m.swap = h.big_endian;
      TensorInfo t;
      t.name = e.name.substr(0, e.name.size() - 4);
      t.dtype = h.dtype;
      t.shape = h.shape;
      t.file = info_.file + ":" + e.name;
      tensors_.push_back(std::move(t));
      if (e.method == 0) stored.push_back(e);
      members_.push_back(std::move(m));
    }
    crc_check_ = std::make_unique<ZipCrcCheck>(info_.file, info_.file, std::move(stored));
  }

  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }

  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    const TensorInfo& t = checked_read(tensors_, index, first, count);
    Member& m = members_[index];
    crc_check_->start();
    const std::size_t size = keras64::info(t.dtype).size;
    raw(m, m.data_offset + first * size, dst, static_cast<std::size_t>(count * size));
    if (m.swap) byteswap(dst, static_cast<std::size_t>(count), size);
  }
  void verify_checksums() override { crc_check_->finish(); }

 private:
  struct Member {
    ZipEntry entry;
    std::uint64_t data_offset;  // of the array data inside the uncompressed member
    bool swap;
    std::unique_ptr<Inflater> inflater;  // deflated members only
  };

  void raw(Member& m, std::uint64_t pos, void* dst, std::size_t n) {
    if (pos + n > m.entry.size)
      throw Error(Errc::corrupt, {info_.file, m.entry.name}, "member is truncated");
    if (m.inflater)
      m.inflater->read(pos, dst, n);
    else
      zip_.file().pread_all(dst, n, m.entry.data_offset + pos);
  }

  ZipReader zip_;
  std::unique_ptr<ZipCrcCheck> crc_check_;  // stored members (deflated ones: their Inflater)
  SourceInfo info_;
  std::vector<TensorInfo> tensors_;
  std::vector<Member> members_;
};

}  // namespace

bool probe_npz(const Sniff& s) {
  if (!s.is_zip || s.zip_members.empty()) return false;
  for (const auto& n : s.zip_members)
    if (!n.ends_with(".npy")) return false;
  return true;
}

std::unique_ptr<Source> open_npz(const fs::path& path, const OpenOptions&) {
  return std::make_unique<NpzSource>(path);
}

}  // namespace keras64::detail
