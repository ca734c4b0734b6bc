// Exact widening of every stored dtype to float64.
//
// Every float16, bfloat16 and float32 value is exactly representable as a float64, so widening
// only has to move bits. It is done with integer bit manipulation rather than by the FPU for two
// reasons: the FPU quiets signalling NaNs (changing their payload) and float16 has no portable
// C++ type. On x86-64 CPUs with AVX2 and F16C (checked at run time) blocks of 8 elements with no
// Inf/NaN go through the hardware conversions, which are exact for every finite value; a block
// holding an Inf or NaN takes the bit path. That makes f16/bf16/f32 -> f64 run at several
// G elements/s (bench/widen_bench.cpp) instead of about 0.3.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define KERAS64_X86_SIMD 1
#endif

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

void widen_f32_scalar(const unsigned char* p, std::size_t n, double* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t b;
    std::memcpy(&b, p + 4 * i, 4);
    dst[i] = f32_bits_to_f64(b);
  }
}

void widen_bf16_scalar(const unsigned char* p, std::size_t n, double* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t b;
    std::memcpy(&b, p + 2 * i, 2);
    dst[i] = f32_bits_to_f64(std::uint32_t{b} << 16);
  }
}

void widen_f16_scalar(const unsigned char* p, std::size_t n, double* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t b;
    std::memcpy(&b, p + 2 * i, 2);
    dst[i] = f16_bits_to_f64(b);
  }
}

#ifdef KERAS64_X86_SIMD

// CPUID directly: clang 14's __builtin_cpu_supports does not know "f16c". AVX2 also needs the
// OS to save YMM state (OSXSAVE, and XCR0 bits 1-2).
bool have_avx2_f16c() {
  static const bool yes = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool f16c = c & (1u << 29), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!(f16c && osxsave && avx)) return false;
    unsigned xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6u) != 6u) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 5)) != 0;  // AVX2
  }();
  return yes;
}

// 8 float32 (as bits) -> 8 float64, unless one is a NaN (the hardware would quiet it).
__attribute__((target("avx2"))) inline bool f32x8_to_f64(__m256i bits, double* dst) {
  const __m256i mag = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7F800000));
  if (!_mm256_testz_si256(nan, nan)) return false;
  const __m256 f = _mm256_castsi256_ps(bits);
  _mm256_storeu_pd(dst, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
  _mm256_storeu_pd(dst + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
  return true;
}

__attribute__((target("avx2"))) void widen_f32_avx2(const unsigned char* p, std::size_t n,
                                                    double* dst) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4 * i));
    if (!f32x8_to_f64(b, dst + i)) widen_f32_scalar(p + 4 * i, 8, dst + i);
  }
  widen_f32_scalar(p + 4 * i, n - i, dst + i);
}

__attribute__((target("avx2"))) void widen_bf16_avx2(const unsigned char* p, std::size_t n,
                                                     double* dst) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    const __m256i b = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    if (!f32x8_to_f64(b, dst + i)) widen_bf16_scalar(p + 2 * i, 8, dst + i);
  }
  widen_bf16_scalar(p + 2 * i, n - i, dst + i);
}

__attribute__((target("avx2,f16c"))) void widen_f16_avx2(const unsigned char* p, std::size_t n,
                                                         double* dst) {
  std::size_t i = 0;
  const __m128i exp_mask = _mm_set1_epi16(0x7C00);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    // Exponent all ones: Inf or NaN; take the bit path for this block.
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, exp_mask), exp_mask))) {
      widen_f16_scalar(p + 2 * i, 8, dst + i);
      continue;
    }
    const __m256 f = _mm256_cvtph_ps(h);  // exact, subnormals included
    _mm256_storeu_pd(dst + i, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
    _mm256_storeu_pd(dst + i + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
  }
  widen_f16_scalar(p + 2 * i, n - i, dst + i);
}

#endif

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
#ifdef KERAS64_X86_SIMD
      if (have_avx2_f16c()) return widen_f32_avx2(p, n, dst);
#endif
      return widen_f32_scalar(p, n, dst);
    case DType::bf16:
#ifdef KERAS64_X86_SIMD
      if (have_avx2_f16c()) return widen_bf16_avx2(p, n, dst);
#endif
      return widen_bf16_scalar(p, n, dst);
    case DType::f16:
#ifdef KERAS64_X86_SIMD
      if (have_avx2_f16c()) return widen_f16_avx2(p, n, dst);
#endif
      return widen_f16_scalar(p, n, dst);
    case DType::i8:
      return widen_int<std::int8_t>(src, n, dst);
    case DType::i16:
      return widen_int<std::int16_t>(src, n, dst);
    case DType::i32:
      return widen_int<std::int32_t>(src, n, dst);
    case DType::i64:
      return widen_int<std::int64_t>(src, n, dst);
    case DType::u8:
      return widen_int<std::uint8_t>(src, n, dst);
    case DType::u16:
      return widen_int<std::uint16_t>(src, n, dst);
    case DType::u32:
      return widen_int<std::uint32_t>(src, n, dst);
    case DType::u64:
      return widen_int<std::uint64_t>(src, n, dst);
    case DType::boolean:
      for (std::size_t i = 0; i < n; ++i) dst[i] = p[i] ? 1.0 : 0.0;
      return;
  }
}

}  // namespace keras64
