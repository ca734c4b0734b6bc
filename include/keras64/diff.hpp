// keras64/diff.hpp - compare two weight sets in any readable forms, tensor by tensor.
//
// Both sides are widened to float64 (exactly) and compared element by element in chunks (two
// buffers per side, never a whole tensor). Tensors are paired by match_tensors() (load.hpp): by
// name when both sides have names of the same family, else by position. Different formats and
// dtypes are allowed: a float32 model and its float64 conversion are equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "keras64/source.hpp"
#include "keras64/tensor.hpp"

namespace keras64 {

struct DiffOptions {
  /// Architecture (`.keras`) for bare `.weights.h5` sides and raw weight_{i}.dat directories.
  std::filesystem::path model;
  /// Element tolerance: a and b (A's and B's value) agree when a == b, both are NaN,
  /// |a - b| <= atol + rtol * |b| (numpy.isclose), or their float64 ULP distance <= ulp.
  /// Defaults: exact (only equal values, NaN = NaN, +0 = -0).
  double rtol = 0;
  double atol = 0;
  std::uint64_t ulp = 0;
  std::size_t chunk_bytes = std::size_t{2} << 20;  ///< per buffer
};

/// One pair of tensors.
struct TensorDiff {
  std::size_t index_a = 0, index_b = 0;
  std::string name_a, name_b;
  DType dtype_a = DType::f64, dtype_b = DType::f64;  ///< informational: dtypes may differ
  Shape shape_a, shape_b;
  bool shape_differs = false;       ///< then no values were compared
  std::uint64_t elements = 0;       ///< values compared
  std::uint64_t not_identical = 0;  ///< values whose float64 bits differ
  std::uint64_t out_of_tolerance = 0;
  std::uint64_t first_out = 0;  ///< flat index of the first value out of tolerance
  double max_abs = 0;           ///< max |a - b| (inf when one side is inf/NaN and the other not)
  double max_rel = 0;           ///< max |a - b| / |b| (inf when b = 0 and a != 0)
  std::uint64_t max_ulp = 0;    ///< max float64 ULP distance (2^64 - 1 for NaN vs number)
  bool ok() const { return !shape_differs && out_of_tolerance == 0; }
};

struct DiffReport {
  SourceInfo a, b;
  bool by_name = false;
  std::vector<TensorDiff> tensors;  ///< paired tensors, in A's order
  std::vector<std::string> only_a;  ///< names of A's tensors with no partner in B
  std::vector<std::string> only_b;
  /// True when nothing is missing or extra, no shape differs and every value is within tolerance.
  bool equal() const;
};

/// Compares the weight sets at `a` and `b`. Throws what open_source() throws, and
/// Error{invalid_argument} for a negative or NaN tolerance. Differences are reported, not thrown.
DiffReport diff(const std::filesystem::path& a, const std::filesystem::path& b,
                const DiffOptions& options = {});

}  // namespace keras64
