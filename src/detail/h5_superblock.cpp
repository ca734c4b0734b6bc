// Superblock layouts: HDF5 File Format Specification 3.0, section II.A
// (https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html#Superblock).
//   v0/v1: signature(8) version(1) free-space ver(1) root ver(1) res(1) shared-msg ver(1)
//          sizeof_offsets(1) sizeof_lengths(1) res(1) leaf K(2) internal K(2) flags(4)
//          [v1: indexed-storage K(2) res(2)] base(O) free-space(O) EOF(O) driver(O) ...
//   v2/v3: signature(8) version(1) sizeof_offsets(1) sizeof_lengths(1) flags(1)
//          base(O) extension(O) EOF(O) root header(O) checksum(4)
#include "detail/h5_superblock.hpp"

#include <cstring>

#include "keras64/error.hpp"

namespace keras64::detail::h5 {
namespace {

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

std::uint64_t read_le(const unsigned char* p, unsigned n) {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

void check_superblock(const File& file, std::uint64_t offset, std::uint64_t size,
                      const std::string& label) {
  auto corrupt = [&](const std::string& why) {
    return Error(Errc::corrupt, label.empty() ? why : label + ": " + why);
  };
  unsigned char sb[96];
  std::uint64_t at = 0;
  bool found = false;
  for (std::uint64_t probe = 0; probe + 8 <= size; probe = probe ? probe * 2 : 512) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof sb, size - probe));
    if (file.pread_some(sb, n, offset + probe) < 8) break;
    if (std::memcmp(sb, kSignature, 8) == 0) {
      at = probe;
      found = true;
      std::memset(sb + n, 0, sizeof sb - n);
      break;
    }
    if (probe >= (std::uint64_t{1} << 40)) break;
  }
  if (!found) throw corrupt("not an HDF5 file (no superblock signature)");
  const unsigned version = sb[8];
  unsigned so = 0, pos = 0;
  if (version <= 1) {
    so = sb[13];
    pos = version == 0 ? 24 : 28;
  } else if (version <= 3) {
    so = sb[9];
    pos = 12;
  } else {
    throw Error(Errc::unsupported, (label.empty() ? "" : label + ": ") +
                                       "unsupported HDF5 superblock version " +
                                       std::to_string(version));
  }
  const unsigned sl = version <= 1 ? sb[14] : sb[10];
  if ((so != 2 && so != 4 && so != 8) || (sl != 2 && sl != 4 && sl != 8))
    throw corrupt("damaged HDF5 superblock (sizes of offsets/lengths " + std::to_string(so) + "/" +
                  std::to_string(sl) + ")");
  if (pos + 3 * std::size_t{so} > sizeof sb || at + pos + 3 * std::size_t{so} > size)
    throw corrupt("truncated HDF5 superblock");
  const std::uint64_t undefined = so == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * so)) - 1;
  const std::uint64_t base = read_le(sb + pos, so);
  const std::uint64_t eof = read_le(sb + pos + 2 * std::size_t{so}, so);
  if (base == undefined || eof == undefined) return;
  // Addresses are relative to the base address, which is where the superblock sits unless a
  // user block precedes it.
  if (base > size || eof > size - base)
    throw corrupt("truncated: the HDF5 superblock says the file has " + std::to_string(base + eof) +
                  " bytes, but only " + std::to_string(size) + " are present");
}

}  // namespace keras64::detail::h5
