// Layouts (spec II.A):
//   v0/v1: signature(8) version(1) free-space ver(1) root-group ver(1) res(1) shared-header ver(1)
//          sizeof offsets(1) sizeof lengths(1) res(1) group leaf K(2) group internal K(2)
//          flags(4) [v1: indexed-storage K(2) res(2)] base(8) free-space info(8) EOF(8)
//          driver info(8) root symbol-table entry(40)
//   v2/v3: signature(8) version(1) sizeof offsets(1) sizeof lengths(1) flags(1) base(8)
//          extension(8) EOF(8) root object header(8) checksum(4)
#include "detail/hdf5/superblock.hpp"

#include <cstring>
#include <string>

#include "detail/hdf5/checksum.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

bool signature_at(const ByteSource& src, std::uint64_t at) {
  std::uint8_t sig[8];
  if (at > src.size() || src.size() - at < 8) return false;
  src.read(at, sig, 8, "superblock");
  return std::memcmp(sig, kSignature, 8) == 0;
}

}  // namespace

Superblock read_superblock(ByteSource& src) {
  if (!signature_at(src, 0)) {
    // HDF5 puts the superblock after a user block at 512, 1024, 2048, ...: say so rather than
    // "not HDF5". These are the spec's fixed places, not a scan of the file.
    for (std::uint64_t at = 512; at < src.size() && at <= (std::uint64_t{1} << 40); at *= 2)
      if (signature_at(src, at))
        unsupported("user block (superblock at offset " + std::to_string(at) + ")");
    corrupt("not an HDF5 file (no superblock signature)");
  }
  std::uint8_t buf[96] = {};
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, src.size()));
  src.read(0, buf, n, "superblock");
  Cursor c(buf, n, "superblock");
  c.skip(8);
  Superblock sb;
  sb.version = c.u8();
  if (sb.version > 3) unsupported("superblock version " + std::to_string(sb.version));
  unsigned so, sl;
  std::uint64_t base, ext = kUndefined, eof, driver = kUndefined;
  if (sb.version <= 1) {
    c.skip(4);  // free-space, root group, reserved, shared header versions
    so = c.u8();
    sl = c.u8();
    c.skip(1);
    if (so != 8 || sl != 8)
      unsupported("sizes of offsets/lengths " + std::to_string(so) + "/" + std::to_string(sl));
    sb.group_leaf_k = c.u16();
    sb.group_internal_k = c.u16();
    c.skip(4);  // consistency flags
    if (sb.version == 1) {
      sb.chunk_k = c.u16();
      c.skip(2);
    }
    base = c.u64();
    c.skip(8);  // free-space info: unused by a reader
    eof = c.u64();
    driver = c.u64();
    // Root symbol-table entry: link-name offset, object header address, cache type, scratch pad.
    c.skip(8);
    sb.root = c.u64();
    c.skip(24);
    if (sb.group_leaf_k == 0 || sb.group_internal_k == 0 || sb.chunk_k == 0)
      corrupt("damaged HDF5 superblock (B-tree K of 0)");
  } else {
    so = c.u8();
    sl = c.u8();
    if (so != 8 || sl != 8)
      unsupported("sizes of offsets/lengths " + std::to_string(so) + "/" + std::to_string(sl));
    c.skip(1);  // consistency flags
    base = c.u64();
    ext = c.u64();
    eof = c.u64();
    sb.root = c.u64();
    c.need(4);
    verify_lookup3(buf, 44, "superblock");
  }
  if (base != 0) unsupported("base address " + std::to_string(base));
  if (ext != kUndefined) unsupported("superblock extension");
  if (driver != kUndefined) unsupported("file driver info block");
  if (eof == kUndefined || eof > src.size())
    corrupt("truncated: the HDF5 superblock says the file has " +
            (eof == kUndefined ? std::string("an undefined number of") : std::to_string(eof)) +
            " bytes, but only " + std::to_string(src.size()) + " are present");
  src.limit(eof);
  if (sb.root == kUndefined || sb.root >= eof) corrupt("damaged HDF5 superblock (root address)");
  return sb;
}

}  // namespace keras64::detail::hdf5
