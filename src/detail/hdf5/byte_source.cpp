#include "detail/hdf5/byte_source.hpp"

#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

// Metadata work a reader may do in one file: far beyond the 8,176 objects of the 244 surveyed
// Keras files (each a handful of units), small enough that a crafted file stops within seconds.
constexpr std::uint64_t kWorkBudget = std::uint64_t{20} << 20;

}  // namespace

ByteSource::ByteSource(const std::string& path, std::uint64_t base, std::uint64_t size)
    : file_(File::open_read(path)), base_(base), size_(size) {
  const std::uint64_t have = file_.size();
  if (have < base || have - base < size)
    corrupt("truncated: member of " + std::to_string(size) + " bytes at offset " +
            std::to_string(base) + " ends beyond the file");
}

ByteSource::ByteSource(const std::string& path) : file_(File::open_read(path)) {
  size_ = file_.size();
}

void ByteSource::check_range(std::uint64_t addr, std::uint64_t n, std::string_view what) const {
  if (addr > size_ || n > size_ - addr)
    corrupt(std::string(what) + " at address " + std::to_string(addr) + " (" + std::to_string(n) +
            " bytes): beyond the end of the file (" + std::to_string(size_) + " bytes)");
}

void ByteSource::read(std::uint64_t addr, void* dst, std::size_t n, std::string_view what) const {
  check_range(addr, n, what);
  file_.pread_all(dst, n, base_ + addr);
}

std::vector<std::uint8_t> ByteSource::bytes(std::uint64_t addr, std::uint64_t n, std::uint64_t cap,
                                            std::string_view what) const {
  if (n > cap) corrupt(std::string(what) + ": implausible size " + std::to_string(n));
  check_range(addr, n, what);
  spend(1 + n / 4096);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
  read(addr, out.data(), out.size(), what);
  return out;
}

void ByteSource::spend(std::uint64_t units) const {
  work_ += units;
  if (work_ > kWorkBudget) corrupt("too many HDF5 structures (work limit reached)");
}

}  // namespace keras64::detail::hdf5
