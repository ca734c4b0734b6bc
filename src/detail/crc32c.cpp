#include "detail/crc32c.hpp"

#include <isa-l/crc.h>

#include <climits>
#include <cstdio>

namespace keras64::detail {

std::uint32_t crc32c_update(std::uint32_t state, const void* data, std::size_t n) {
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));  // ISA-L takes non-const
  constexpr std::size_t kMax = std::size_t{1} << 30;               // fits its int length
  while (n > 0) {
    const std::size_t k = n < kMax ? n : kMax;
    state = crc32_iscsi(p, static_cast<int>(k), state);
    p += k;
    n -= k;
  }
  return state;
}

std::uint32_t crc32c(const void* data, std::size_t n) {
  return crc32c_final(crc32c_update(crc32c_initial(), data, n));
}

std::string crc_hex(std::uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

bool parse_crc_hex(const std::string& s, std::uint32_t& crc) {
  if (s.size() != 8) return false;
  std::uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = v << 4 | static_cast<std::uint32_t>(d);
  }
  crc = v;
  return true;
}

}  // namespace keras64::detail
