// keras64/load.hpp - the second half of the numpy recipe (`np.load` + `model.set_weights`), for
// files: put a weight set back into a model file, with an exact account of what the cast did.
//
//   load_into("weights.npz", "model.keras", "out.keras")      // floats back to the model's dtypes
//
// WEIGHTS is any input open_source() reads (keras64's outputs, np.save / np.savez / tofile files,
// safetensors, .weights.h5, .keras, ...). MODEL is a `.keras`, a `.weights.h5` (with
// LoadOptions::model for its architecture), a legacy `.h5`, or a TensorFlow checkpoint or
// SavedModel; OUT has MODEL's format and structure (every group, attribute and non-planned
// dataset kept) with WEIGHTS' values - for a TensorFlow MODEL, a checkpoint (OUT.index +
// OUT.data-00000-of-00001, every entry that is no tensor of MODEL copied; --to tf-checkpoint in
// docs/output-formats.md).
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "keras64/convert.hpp"
#include "keras64/narrow.hpp"
#include "keras64/source.hpp"

namespace keras64 {

/// How tensors of two weight sets were paired (shared by load_into() and diff()).
///
/// By name when both sides have names of the same family: Keras 3 layout paths
/// ("layers/dense/vars/0", as keras64 manifests and safetensors record them) on both sides, or
/// other non-numbered names (legacy "dense/kernel:0") that the two sides share at least once.
/// By position (get_weights() order) otherwise, in particular when either side has only numbered
/// names (weight_{i}, arr_{i}: the classic recipe's files, keras64's npz).
struct Matching {
  bool by_name = false;
  /// pairs[k] = {index in A, index in B}, in B's order.
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::vector<std::size_t> only_a;  ///< indices of A's tensors with no partner
  std::vector<std::size_t> only_b;  ///< indices of B's tensors with no partner
};

/// Pairs `a` with `b` by the rule above. Never throws; shapes are not compared.
Matching match_tensors(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b);

/// What dtype load_into() writes.
enum class LoadDType : std::uint8_t {
  model,    ///< each tensor in MODEL's stored dtype: float64 rounded to nearest even, accounted
  float64,  ///< float tensors as float64 (integers keep MODEL's dtype); a `.keras` or legacy
            ///< `.h5` also gets its dtype policies rewritten to float64, as `convert --to keras`;
            ///< a TensorFlow checkpoint every float entry as DT_DOUBLE, as `--to tf-checkpoint`
};

struct LoadOptions {
  /// Architecture (`.keras`) for a bare MODEL `.weights.h5`, and for a bare WEIGHTS
  /// `.weights.h5`. Empty: MODEL itself when it is a `.keras`.
  std::filesystem::path model;
  LoadDType dtype = LoadDType::model;
  /// A finite float64 value too large for MODEL's dtype: `error` (default) refuses with
  /// Error{mismatch} naming the tensor and element, and writes nothing.
  OnOverflow on_overflow = OnOverflow::error;
  bool force = false;  ///< replace an existing OUT (atomically)
  std::size_t chunk_bytes = std::size_t{2} << 20;
  std::function<void(const Progress&)> on_progress;
  const std::atomic<bool>* cancel = nullptr;
};

struct LoadReport {
  SourceInfo weights;         ///< what WEIGHTS was read as
  SourceInfo model;           ///< what MODEL was read as
  std::string output_format;  ///< sink used for OUT ("keras", "weights.h5", "legacy-h5",
                              ///< "tf-checkpoint")
  bool by_name = false;       ///< how tensors were paired (see Matching)
  /// Per MODEL tensor, in MODEL's order: name (MODEL's), from (WEIGHTS' dtype), to (written),
  /// shape, and its RoundingAccount; `convert.rounding` is the total.
  ConvertReport convert;
  std::vector<std::string> weights_names;  ///< the WEIGHTS tensor paired with each MODEL tensor
};

/// Writes OUT: MODEL with every tensor replaced by its partner in WEIGHTS. Every mismatch is
/// Error{mismatch} naming the tensor, before anything is written: a different tensor count
/// (by position), a MODEL tensor missing from WEIGHTS or a WEIGHTS tensor unknown to MODEL (by
/// name), a different shape, a value that does not fit an integer tensor, an overflow with
/// OnOverflow::error. Never a partial output: OUT appears only when complete. Also throws what
/// open_source() and open_sink() throw (Error{unsupported} for a MODEL kind with no structure
/// sink, Error{invalid_argument} for an OUT name its format forbids or that exists without force).
LoadReport load_into(const std::filesystem::path& weights, const std::filesystem::path& model,
                     const std::filesystem::path& out, const LoadOptions& options = {});

}  // namespace keras64
