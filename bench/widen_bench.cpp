// Widening throughput of keras64::widen_to_f64 (issue #6 target: f16/bf16 -> f64 at >= 1 G
// elements/s). Widens 64 Mi elements of each dtype chunk by chunk into one reused 4 MiB float64
// buffer, as convert() does, and prints the best of 5 runs as JSON (G elements/s).
// Built with -DKERAS64_BUILD_BENCH=ON; bench/bench.py --widen-bench runs it.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "keras64/convert.hpp"

namespace {

constexpr std::size_t kElems = std::size_t{64} << 20;
constexpr std::size_t kChunk = std::size_t{512} << 10;  // 4 MiB of float64

double best_rate(keras64::DType from, const std::vector<unsigned char>& in, std::size_t size,
                 std::vector<double>& out) {
  double best = 0;
  volatile double sink = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t at = 0; at < kElems; at += kChunk) {
      keras64::widen_to_f64(from, in.data() + at * size, kChunk, out.data());
      sink = sink + out[kChunk - 1];
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(kElems) / s / 1e9);
  }
  return best;
}

}  // namespace

int main() {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> f(kElems);
  for (auto& v : f) v = normal(rng);
  std::vector<unsigned char> f32(kElems * 4), f16(kElems * 2), bf16(kElems * 2);
  std::memcpy(f32.data(), f.data(), f32.size());
  for (std::size_t i = 0; i < kElems; ++i) {
    std::uint32_t b;
    std::memcpy(&b, &f[i], 4);
    const std::uint16_t hi = static_cast<std::uint16_t>(b >> 16);
    std::memcpy(&bf16[2 * i], &hi, 2);
    // float -> float16 by rounding through the exponent range of normal weights (|v| < 1).
    const float a = std::fabs(f[i]);
    std::uint16_t h = 0;
    if (a >= 6.1035156e-05f) {
      int e;
      const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
      h = static_cast<std::uint16_t>(((e + 14) << 10) |
                                     (static_cast<std::uint32_t>(m * 2048.0f) & 0x3FF));
    }
    if (f[i] < 0) h |= 0x8000;
    std::memcpy(&f16[2 * i], &h, 2);
  }
  std::vector<double> out(kChunk);
  const double r16 = best_rate(keras64::DType::f16, f16, 2, out);
  const double rbf = best_rate(keras64::DType::bf16, bf16, 2, out);
  const double r32 = best_rate(keras64::DType::f32, f32, 4, out);
  std::printf("{\"f16_gelem_s\": %.3f, \"bf16_gelem_s\": %.3f, \"f32_gelem_s\": %.3f}\n", r16, rbf,
              r32);
  return 0;
}
