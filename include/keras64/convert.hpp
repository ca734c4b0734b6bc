// keras64/convert.hpp - the one streaming loop from a Source to a Sink.
//
// convert() reads each tensor in chunks of at most chunk_bytes, widens float chunks to float64
// (exactly: every float16, bfloat16 and float32 value is representable in float64), and hands the
// result to the sink. It holds two buffers of chunk_bytes, whatever the size of the model, and
// frees them before Sink::commit().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keras64/narrow.hpp"
#include "keras64/sink.hpp"
#include "keras64/source.hpp"

namespace keras64 {

/// Which tensors become float64.
enum class CastMode : std::uint8_t {
  floats,  ///< float16/bfloat16/float32 -> float64; integers and bools are written unchanged
  all,     ///< every tensor -> float64, as the numpy recipe's astype(float64) does
};

struct Progress {
  std::uint64_t bytes_done = 0;   ///< source bytes read so far
  std::uint64_t bytes_total = 0;  ///< source bytes of every planned tensor
  std::size_t tensor = 0;         ///< index of the tensor being converted
  std::size_t tensors = 0;        ///< number of planned tensors
};

struct ConvertOptions {
  CastMode cast = CastMode::floats;
  /// Upper bound on the bytes of one chunk of output (float64) data. Any value >= 1 works; tiny
  /// values are for tests of chunk boundaries.
  std::size_t chunk_bytes = std::size_t{2} << 20;
  /// Called after every chunk. Must be cheap; may be empty.
  std::function<void(const Progress&)> on_progress;
  /// When set and true, convert() stops at the next chunk with Error{interrupted}; the sink is
  /// then destroyed uncommitted, so nothing is left behind.
  const std::atomic<bool>* cancel = nullptr;
  /// A planned dtype narrower than the data (load_into()'s --dtype model): what to do with a
  /// finite value too large for it. `error` throws Error{mismatch} naming the tensor and element
  /// before the sink is committed, so no output appears.
  OnOverflow on_overflow = OnOverflow::error;
};

/// What one tensor became.
struct ConvertedTensor {
  std::string name;
  DType from;
  DType to;
  Shape shape;
  /// What the cast did when `to` is a float narrower than float64 and the data was float64 (or
  /// another float); values only otherwise (copies and widenings are exact).
  RoundingAccount account;
};

struct ConvertReport {
  std::vector<ConvertedTensor> tensors;
  std::uint64_t bytes_read = 0;     ///< source bytes
  std::uint64_t bytes_written = 0;  ///< output bytes (Sink::bytes_written after commit)
  double seconds = 0;
  RoundingAccount rounding;  ///< every tensor's account merged
};

/// The plan convert() will use: every tensor of the source, with its output dtype.
Plan make_plan(Source& source, CastMode cast);

/// Runs the whole conversion and commits the sink. On any error the sink is left uncommitted (the
/// caller destroys it, which removes the temporary output) and the Error is rethrown.
ConvertReport convert(Source& source, Sink& sink, const ConvertOptions& options = {});

/// convert() with a caller-made plan (options.cast is then unused). plan.tensors[i] is
/// source.tensors()[i] (same dtype and element count; Error{internal} otherwise) with the dtype to
/// write: the stored dtype (copied), float64 (widened), a narrower float (rounded to nearest even
/// and accounted; see narrow.hpp), or an integer/bool dtype (each value must be an exact integer
/// in range, else Error{mismatch} naming the tensor and element). load_into() uses it.
ConvertReport convert(Source& source, Sink& sink, const Plan& plan,
                      const ConvertOptions& options = {});

/// Widens `count` elements of `from` at `src` (little-endian) to float64 at `dst`. Exact for
/// every value, NaN payloads and signed zeros included. Integer types convert as static_cast.
void widen_to_f64(DType from, const void* src, std::size_t count, double* dst) noexcept;

}  // namespace keras64
