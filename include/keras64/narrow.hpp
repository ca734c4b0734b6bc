// keras64/narrow.hpp - float64 back to a model's float dtype, with an exact rounding account.
//
// narrow_from_f64() rounds float64 values to float32, float16 or bfloat16 with IEEE 754
// round-to-nearest-even, computed on the bits (the same result as numpy's astype for float32 and
// float16; bfloat16 is rounded directly from float64, never through float32, so there is no
// double rounding). ±inf stay ±inf; NaN stays NaN with the sign and the top payload bits that fit,
// and the quiet bit set. Finite values too large for the target become ±inf ("overflow").
//
// It also fills a RoundingAccount: what the cast did, so that a user can see that a round trip
// float32 -> float64 -> float32 changed nothing, or exactly how much a perturbed model lost.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keras64/tensor.hpp"

namespace keras64 {

/// What casting a set of float64 values to a narrower float type did. Every field is exact and
/// reproducible (the tests recompute each one with numpy). "Finite" below means a finite input
/// whose result is also finite; infinities and NaNs in the input are counted but never changed.
struct RoundingAccount {
  std::uint64_t values = 0;   ///< values cast
  std::uint64_t changed = 0;  ///< results that are not bit-identical to the input once widened
                              ///< back (inexact values, overflows, NaNs that lost payload bits)
  double max_abs_error = 0;   ///< max |result - input| over finite values
  double max_rel_error = 0;   ///< max |result - input| / |input| over finite nonzero inputs
  /// max |result - input| / ulp(input) over finite values, where ulp(x) is the spacing of the
  /// target format at x's binade: 2^(max(floor(log2|x|), emin) - (p - 1)) (p: precision bits,
  /// emin: minimum normal exponent). At most 0.5 for round-to-nearest; 0 for exact values.
  double max_ulp_error = 0;
  std::uint64_t overflows = 0;  ///< finite inputs that became ±inf
  std::uint64_t subnormal = 0;  ///< results that are nonzero subnormals of the target format
  std::uint64_t to_zero = 0;    ///< nonzero finite inputs that became ±0
  std::uint64_t nans = 0;       ///< NaN inputs (kept as NaN)
  std::uint64_t infs = 0;       ///< ±inf inputs (kept)

  /// True when the cast changed nothing: every value widens back to the exact input bits.
  bool exact() const { return changed == 0; }
  /// Adds `other` (counts summed, maxima kept).
  void merge(const RoundingAccount& other);
};

/// What to do with a finite value too large for the target type.
enum class OnOverflow : std::uint8_t {
  error,  ///< refuse: the caller (convert(), load_into()) throws Error{mismatch} naming the tensor
  inf,    ///< write ±inf, as numpy and Keras do, and count it in RoundingAccount::overflows
};

/// True for the float dtypes narrow_from_f64() writes: f32, f16, bf16 (and f64, a copy).
bool can_narrow_to(DType to) noexcept;

/// Rounds `count` float64 values at `src` to `to` (f64, f32, f16 or bf16), writing little-endian
/// elements of `to` at `dst` (which must not overlap `src`), and adds what happened to
/// `account`. Never fails; overflow policy is the caller's (check account.overflows).
/// `to` must satisfy can_narrow_to(); other dtypes write nothing.
void narrow_from_f64(const double* src, std::size_t count, DType to, void* dst,
                     RoundingAccount& account) noexcept;

/// Casts `count` float64 values at `src` to the integer or bool dtype `to` (a model's integer
/// tensor loaded from float64 data). Returns the index of the first value that is not an exact
/// integer in range of `to` (bool: 0 or 1), or `count` when all fit; the values before it are
/// written.
std::size_t integers_from_f64(const double* src, std::size_t count, DType to, void* dst) noexcept;

}  // namespace keras64
