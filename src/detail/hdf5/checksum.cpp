#include "detail/hdf5/checksum.hpp"

#include <string>

#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::uint32_t rot(std::uint32_t x, int k) {
  return (x << k) | (x >> (32 - k));
}

void mix(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c) {
  a -= c;
  a ^= rot(c, 4);
  c += b;
  b -= a;
  b ^= rot(a, 6);
  a += c;
  c -= b;
  c ^= rot(b, 8);
  b += a;
  a -= c;
  a ^= rot(c, 16);
  c += b;
  b -= a;
  b ^= rot(a, 19);
  a += c;
  c -= b;
  c ^= rot(b, 4);
  b += a;
}

void final_mix(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c) {
  c ^= b;
  c -= rot(b, 14);
  a ^= c;
  a -= rot(c, 11);
  b ^= a;
  b -= rot(a, 25);
  c ^= b;
  c -= rot(b, 16);
  a ^= c;
  a -= rot(c, 4);
  b ^= a;
  b -= rot(a, 14);
  c ^= b;
  c -= rot(b, 24);
}

std::uint32_t le32(const std::uint8_t* k, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint32_t{k[i]} << (8 * i);
  return v;
}

}  // namespace

std::uint32_t lookup3(const std::uint8_t* k, std::size_t n) {
  std::uint32_t a, b, c;
  a = b = c = 0xdeadbeefu + static_cast<std::uint32_t>(n);
  while (n > 12) {
    a += le32(k, 4);
    b += le32(k + 4, 4);
    c += le32(k + 8, 4);
    mix(a, b, c);
    n -= 12;
    k += 12;
  }
  if (n == 0) return c;
  // The tail: up to 12 bytes added into a, b, c as if zero-padded.
  a += le32(k, n < 4 ? n : 4);
  if (n > 4) b += le32(k + 4, n < 8 ? n - 4 : 4);
  if (n > 8) c += le32(k + 8, n - 8);
  final_mix(a, b, c);
  return c;
}

std::uint32_t fletcher32(const std::uint8_t* data, std::size_t n) {
  std::size_t len = n / 2;
  std::uint32_t sum1 = 0, sum2 = 0;
  while (len) {
    std::size_t t = len > 360 ? 360 : len;
    len -= t;
    do {
      sum1 += (std::uint32_t{data[0]} << 8) | data[1];
      data += 2;
      sum2 += sum1;
    } while (--t);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (n % 2) {
    sum1 += std::uint32_t{*data} << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

void verify_lookup3(const std::uint8_t* data, std::size_t n, const char* what) {
  if (le32(data + n, 4) != lookup3(data, n)) corrupt(std::string(what) + ": checksum mismatch");
}

}  // namespace keras64::detail::hdf5
