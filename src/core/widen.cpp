// Exact widening of every stored dtype to float64.
//
// Every float16, bfloat16 and float32 value is exactly representable as a float64, so widening
// only has to move bits. It is done with integer bit manipulation rather than by the FPU for two
// reasons: the FPU quiets signalling NaNs (changing their payload) and float16 has no portable
// C++ type. The loops are simple enough for the compiler to vectorize.
#include <bit>
#include <cstdint>
#include <cstring>

#include "keras64/convert.hpp"

namespace keras64 {
namespace {

// float32 bits -> float64, payload-preserving for NaNs.
inline double f32_bits_to_f64(std::uint32_t b) {
  if ((b & 0x7F800000u) == 0x7F800000u && (b & 0x007FFFFFu) != 0) {
    std::uint64_t d = (std::uint64_t{b & 0x80000000u} << 32) | (std::uint64_t{0x7FF} << 52) |
                      (std::uint64_t{b & 0x007FFFFFu} << 29);
    return std::bit_cast<double>(d);
  }
  return static_cast<double>(std::bit_cast<float>(b));
}

// float16 bits -> float64. Finite values: place the 15 exponent+mantissa bits at the top of a
// float64's exponent+mantissa, which reads as the value times 2^-1008; multiplying by 2^1008 is
// exact and also normalizes subnormals. Inf/NaN: set the float64 exponent to all ones.
inline double f16_bits_to_f64(std::uint16_t h) {
  const std::uint64_t sign = std::uint64_t{h & 0x8000u} << 48;
  const std::uint64_t em = h & 0x7FFFu;
  if (em >= 0x7C00u) {
    return std::bit_cast<double>(sign | (std::uint64_t{0x7FF} << 52) | ((em & 0x3FFu) << 42));
  }
  const double mag = std::bit_cast<double>(em << 42) * 0x1p1008;
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(mag) | sign);
}

template <typename T>
void widen_int(const void* src, std::size_t n, double* dst) {
  const auto* p = static_cast<const unsigned char*>(src);
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<double>(v);
  }
}

}  // namespace

void widen_to_f64(DType from, const void* src, std::size_t n, double* dst) noexcept {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (from) {
    case DType::f64:
      std::memcpy(dst, src, n * 8);
      return;
    case DType::f32:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t b;
        std::memcpy(&b, p + 4 * i, 4);
        dst[i] = f32_bits_to_f64(b);
      }
      return;
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        dst[i] = f32_bits_to_f64(std::uint32_t{b} << 16);
      }
      return;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        dst[i] = f16_bits_to_f64(b);
      }
      return;
    case DType::i8: return widen_int<std::int8_t>(src, n, dst);
    case DType::i16: return widen_int<std::int16_t>(src, n, dst);
    case DType::i32: return widen_int<std::int32_t>(src, n, dst);
    case DType::i64: return widen_int<std::int64_t>(src, n, dst);
    case DType::u8: return widen_int<std::uint8_t>(src, n, dst);
    case DType::u16: return widen_int<std::uint16_t>(src, n, dst);
    case DType::u32: return widen_int<std::uint32_t>(src, n, dst);
    case DType::u64: return widen_int<std::uint64_t>(src, n, dst);
    case DType::boolean:
      for (std::size_t i = 0; i < n; ++i) dst[i] = p[i] ? 1.0 : 0.0;
      return;
  }
}

}  // namespace keras64
