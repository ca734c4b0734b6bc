// Widening is exact: every one of the 65,536 float16 and bfloat16 bit patterns, and float32
// special values, map to the float64 with the same value (and the same NaN payload).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "keras64/convert.hpp"

using keras64::DType;
using keras64::widen_to_f64;

namespace {

// Reference float16 decoding by arithmetic, independent of the bit tricks in widen.cpp.
double f16_reference(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(mant, -24);
  else if (exp == 31)
    v = mant ? std::numeric_limits<double>::quiet_NaN() : INFINITY;
  else
    v = std::ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}

}  // namespace

TEST(Widen, EveryFloat16BitPatternIsExact) {
  std::vector<std::uint16_t> all(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  std::vector<double> out(all.size());
  widen_to_f64(DType::f16, all.data(), all.size(), out.data());
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const double ref = f16_reference(static_cast<std::uint16_t>(i));
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(out[i])) << i;
      // payload kept: the 10 mantissa bits sit at the top of the float64 mantissa
      const auto bits = std::bit_cast<std::uint64_t>(out[i]);
      EXPECT_EQ((bits >> 42) & 0x3FF, i & 0x3FF) << i;
      EXPECT_EQ(bits >> 63, i >> 15) << i;
    } else {
      ASSERT_EQ(std::bit_cast<std::uint64_t>(out[i]), std::bit_cast<std::uint64_t>(ref)) << i;
    }
  }
}

TEST(Widen, EveryBfloat16BitPatternIsExact) {
  std::vector<std::uint16_t> all(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  std::vector<double> out(all.size());
  widen_to_f64(DType::bf16, all.data(), all.size(), out.data());
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const float f = std::bit_cast<float>(i << 16);
    if (std::isnan(f)) {
      const auto bits = std::bit_cast<std::uint64_t>(out[i]);
      ASSERT_TRUE(std::isnan(out[i]));
      EXPECT_EQ((bits >> 29) & 0x7FFFFF, (i << 16) & 0x7FFFFF) << i;  // signalling NaNs stay so
    } else {
      ASSERT_EQ(out[i], static_cast<double>(f)) << i;
      ASSERT_EQ(std::signbit(out[i]), std::signbit(f)) << i;
    }
  }
}

TEST(Widen, Float32SpecialValues) {
  const std::vector<std::uint32_t> bits = {0x00000000, 0x80000000, 0x00000001, 0x007FFFFF,
                                           0x00800000, 0x7F7FFFFF, 0x7F800000, 0xFF800000,
                                           0x7FC00000, 0x7F800001, 0x3F800000, 0xBEAAAAAB};
  std::vector<double> out(bits.size());
  widen_to_f64(DType::f32, bits.data(), bits.size(), out.data());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const float f = std::bit_cast<float>(bits[i]);
    if (std::isnan(f)) {
      EXPECT_EQ((std::bit_cast<std::uint64_t>(out[i]) >> 29) & 0x7FFFFF, bits[i] & 0x7FFFFF);
    } else {
      EXPECT_EQ(std::bit_cast<std::uint64_t>(out[i]),
                std::bit_cast<std::uint64_t>(static_cast<double>(f)));
    }
  }
}

TEST(Widen, IntegersConvertByValue) {
  const std::int32_t i32[] = {0, -1, 2147483647, -2147483647 - 1};
  double out[4];
  widen_to_f64(DType::i32, i32, 4, out);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_EQ(out[1], -1.0);
  EXPECT_EQ(out[2], 2147483647.0);
  EXPECT_EQ(out[3], -2147483648.0);
  const bool b[] = {true, false};
  widen_to_f64(DType::boolean, b, 2, out);
  EXPECT_EQ(out[0], 1.0);
  EXPECT_EQ(out[1], 0.0);
}
