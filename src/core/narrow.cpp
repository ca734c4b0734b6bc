// float64 -> float32 / float16 / bfloat16 rounding on the bits, and the rounding account.
//
// One routine serves the three targets: a target with E exponent and M mantissa bits. The FPU is
// not used for the rounding itself (float16 and bfloat16 have no portable C++ type, and the FPU
// would quiet signalling NaNs in ways that differ between platforms); the account then measures
// each result against its input in float64, where every difference of an input and its rounding
// is exact (the two are within a factor of 2 of each other, or the result is 0).
#include "keras64/narrow.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace keras64 {
namespace {

struct Format {
  int exp_bits;   // E
  int mant_bits;  // M (precision p = M + 1)
  int emin;       // minimum normal exponent, 2 - 2^(E-1)
};

constexpr Format kF32{8, 23, -126};
constexpr Format kF16{5, 10, -14};
constexpr Format kBF16{8, 7, -126};

// Rounds float64 bits to the target's bits (sign, E exponent bits, M mantissa bits), RNE.
inline std::uint32_t round_bits(std::uint64_t x, const Format& f) {
  const int M = f.mant_bits;
  const std::uint32_t sign = static_cast<std::uint32_t>(x >> 63) << (f.exp_bits + M);
  const std::uint32_t exp_all = (1u << f.exp_bits) - 1;
  const int exp64 = static_cast<int>((x >> 52) & 0x7FF);
  const std::uint64_t mant64 = x & ((std::uint64_t{1} << 52) - 1);
  if (exp64 == 0x7FF) {
    if (mant64 == 0) return sign | (exp_all << M);  // ±inf
    // NaN: the top M payload bits, quiet bit set.
    const auto payload = static_cast<std::uint32_t>(mant64 >> (52 - M));
    return sign | (exp_all << M) | payload | (1u << (M - 1));
  }
  if (exp64 == 0) return sign;  // float64 zero or subnormal: below half of any target subnormal
  const int bias = (1 << (f.exp_bits - 1)) - 1;
  const int te = exp64 - 1023 + bias;                                 // target biased exponent
  if (te >= static_cast<int>(exp_all)) return sign | (exp_all << M);  // overflow
  const std::uint64_t sig = (std::uint64_t{1} << 52) | mant64;
  // Normal targets keep the implicit bit in the exponent field (it carries naturally on rounding
  // up); subnormal targets shift the whole significand further right.
  int shift = 52 - M;
  std::uint64_t v = mant64;
  std::uint32_t base = static_cast<std::uint32_t>(te) << M;
  if (te <= 0) {
    shift += 1 - te;
    v = sig;
    base = 0;
    if (shift > 53) return sign;  // under half the smallest subnormal
  }
  const std::uint64_t m = v >> shift;
  const std::uint64_t rem = v & ((std::uint64_t{1} << shift) - 1);
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  const bool up = rem > half || (rem == half && (m & 1));
  // A carry out of the mantissa increments the exponent; out of the top exponent it gives inf.
  return sign | (base + static_cast<std::uint32_t>(m) + (up ? 1u : 0u));
}

// Target bits back to float64 (finite and inf only; NaN handled by the caller).
inline double widen_bits(std::uint32_t r, const Format& f) {
  const int M = f.mant_bits;
  const bool neg = (r >> (f.exp_bits + M)) & 1;
  const std::uint32_t e = (r >> M) & ((1u << f.exp_bits) - 1);
  const std::uint32_t m = r & ((1u << M) - 1);
  double v;
  if (e == (1u << f.exp_bits) - 1)
    v = std::numeric_limits<double>::infinity();
  else if (e == 0)
    v = std::ldexp(static_cast<double>(m), f.emin - M);
  else
    v = std::ldexp(static_cast<double>((1u << M) | m), static_cast<int>(e) + f.emin - 1 - M);
  return neg ? -v : v;
}

template <typename Store>
void narrow_loop(const double* src, std::size_t count, const Format& f, RoundingAccount& a,
                 Store store) {
  const int M = f.mant_bits;
  const std::uint32_t exp_mask = ((1u << f.exp_bits) - 1) << M;
  for (std::size_t i = 0; i < count; ++i) {
    const double x = src[i];
    const auto xb = std::bit_cast<std::uint64_t>(x);
    const std::uint32_t r = round_bits(xb, f);
    store(i, r);
    if (std::isnan(x)) {
      ++a.nans;
      const std::uint64_t back = (xb & (std::uint64_t{1} << 63)) | (std::uint64_t{0x7FF} << 52) |
                                 (std::uint64_t{r & ((1u << M) - 1)} << (52 - M));
      if (back != xb) ++a.changed;
      continue;
    }
    if (std::isinf(x)) {
      ++a.infs;
      continue;
    }
    const double y = widen_bits(r, f);
    if (std::isinf(y)) {
      ++a.overflows;
      ++a.changed;
      continue;
    }
    if (std::bit_cast<std::uint64_t>(y) != xb) ++a.changed;
    if ((r & exp_mask) == 0 && (r & ((1u << M) - 1)) != 0) ++a.subnormal;
    if (y == 0 && x != 0) ++a.to_zero;
    const double err = std::fabs(y - x);
    if (err > a.max_abs_error) a.max_abs_error = err;
    if (x != 0) {
      const double rel = err / std::fabs(x);
      if (rel > a.max_rel_error) a.max_rel_error = rel;
      int e;
      std::frexp(x, &e);  // |x| = m * 2^e, m in [0.5, 1): floor(log2|x|) = e - 1
      const double ulp = std::ldexp(1.0, std::max(e - 1, f.emin) - M);
      const double u = err / ulp;
      if (u > a.max_ulp_error) a.max_ulp_error = u;
    }
  }
  a.values += count;
}

}  // namespace

void RoundingAccount::merge(const RoundingAccount& o) {
  values += o.values;
  changed += o.changed;
  max_abs_error = std::max(max_abs_error, o.max_abs_error);
  max_rel_error = std::max(max_rel_error, o.max_rel_error);
  max_ulp_error = std::max(max_ulp_error, o.max_ulp_error);
  overflows += o.overflows;
  subnormal += o.subnormal;
  to_zero += o.to_zero;
  nans += o.nans;
  infs += o.infs;
}

bool can_narrow_to(DType to) noexcept {
  return to == DType::f64 || to == DType::f32 || to == DType::f16 || to == DType::bf16;
}

void narrow_from_f64(const double* src, std::size_t count, DType to, void* dst,
                     RoundingAccount& account) noexcept {
  auto* out = static_cast<unsigned char*>(dst);
  switch (to) {
    case DType::f64:
      std::memcpy(dst, src, count * 8);
      for (std::size_t i = 0; i < count; ++i) {
        if (std::isnan(src[i]))
          ++account.nans;
        else if (std::isinf(src[i]))
          ++account.infs;
        else if (src[i] != 0 && std::fabs(src[i]) < std::numeric_limits<double>::min())
          ++account.subnormal;
      }
      account.values += count;
      return;
    case DType::f32:
      return narrow_loop(src, count, kF32, account, [out](std::size_t i, std::uint32_t r) {
        std::memcpy(out + 4 * i, &r, 4);
      });
    case DType::f16:
    case DType::bf16:
      return narrow_loop(src, count, to == DType::f16 ? kF16 : kBF16, account,
                         [out](std::size_t i, std::uint32_t r) {
                           const auto h = static_cast<std::uint16_t>(r);
                           std::memcpy(out + 2 * i, &h, 2);
                         });
    default:
      return;
  }
}

namespace {

template <typename T>
std::size_t ints(const double* src, std::size_t count, void* dst, double lo, double hi) {
  auto* out = static_cast<unsigned char*>(dst);
  for (std::size_t i = 0; i < count; ++i) {
    const double x = src[i];
    // hi is exclusive (2^k for a k-bit type), so the cast below is always defined.
    if (!(x >= lo && x < hi) || std::trunc(x) != x) return i;
    const T v = static_cast<T>(x);
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
  return count;
}

}  // namespace

std::size_t integers_from_f64(const double* src, std::size_t count, DType to, void* dst) noexcept {
  switch (to) {
    case DType::i8:
      return ints<std::int8_t>(src, count, dst, -0x1p7, 0x1p7);
    case DType::i16:
      return ints<std::int16_t>(src, count, dst, -0x1p15, 0x1p15);
    case DType::i32:
      return ints<std::int32_t>(src, count, dst, -0x1p31, 0x1p31);
    case DType::i64:
      return ints<std::int64_t>(src, count, dst, -0x1p63, 0x1p63);
    case DType::u8:
      return ints<std::uint8_t>(src, count, dst, 0, 0x1p8);
    case DType::u16:
      return ints<std::uint16_t>(src, count, dst, 0, 0x1p16);
    case DType::u32:
      return ints<std::uint32_t>(src, count, dst, 0, 0x1p32);
    case DType::u64:
      return ints<std::uint64_t>(src, count, dst, 0, 0x1p64);
    case DType::boolean:
      return ints<std::uint8_t>(src, count, dst, 0, 2);
    default:
      return 0;
  }
}

}  // namespace keras64
