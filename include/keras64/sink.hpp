// keras64/sink.hpp - where tensors go.
//
// A Sink is one output being written. The converter calls begin(plan) once, with every tensor's
// name, shape and output dtype, then write() with each tensor's bytes in plan order (all chunks
// of tensor i, in element order, before any of tensor i + 1), then commit(). Output appears at
// its path only in commit(), by renaming a temporary file or directory that sits beside it; a
// Sink destroyed without commit() removes everything it wrote. Existing outputs are refused
// unless SinkOptions::force. One class per output format lives in src/sinks/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keras64/source.hpp"
#include "keras64/tensor.hpp"

namespace keras64 {

/// One tensor as it will be written.
struct PlannedTensor {
  TensorInfo source;  ///< the tensor as the source has it (name, stored dtype, shape, where)
  DType dtype;        ///< dtype written: float64 for floats, the stored dtype for kept integers
  std::uint64_t nbytes() const { return source.elements() * info(dtype).size; }
};

/// Everything a sink needs to know before the first byte.
struct Plan {
  SourceInfo source;
  std::vector<PlannedTensor> tensors;
  /// What the structure-preserving sinks (keras, weights.h5, legacy-h5, tf-checkpoint) copy
  /// besides the tensors: Source::structure(), or another model's for load_into(). Sinks that
  /// only need the tensors ignore it.
  SourceStructure structure;
};

/// Memory a sink lends for the next bytes of a tensor (Sink::lend): `size` bytes at `data`.
struct LentBuffer {
  unsigned char* data = nullptr;
  std::size_t size = 0;
};

struct SinkOptions {
  bool force = false;    ///< replace an existing output (atomically, after the new one is complete)
  int level = -1;        ///< compression level for compressing formats; -1: the format's default
  unsigned threads = 0;  ///< worker threads for compression; 0: one per core
  bool compress = false;  ///< HDF5 outputs: chunked datasets with shuffle + deflate
  /// Structure-preserving outputs (keras, weights.h5, legacy-h5): keep the input's dtype
  /// policies as they are instead of rewriting them to float64, and keep the float datasets that
  /// are not in the plan (optimizer and metric state) at their own dtypes instead of widening
  /// them - for writing a model back at its own dtypes (load --dtype model).
  bool keep_config = false;
};

class Sink {
 public:
  virtual ~Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  /// Lays out the output (headers, offsets, datasets) in a temporary location.
  virtual void begin(const Plan& plan) = 0;
  /// Appends `nbytes` bytes of tensor `index` (little-endian, in PlannedTensor::dtype).
  virtual void write(std::size_t index, const void* data, std::size_t nbytes) = 0;
  /// Memory of the sink's own where the next bytes of tensor `index` may be put, so that write()
  /// need not copy them: at most `nbytes` bytes, often fewer, or none (size 0: the default). A
  /// caller that fills a prefix of it passes that prefix to write() as usual (the same pointer;
  /// write() then only records it); it may also ignore the buffer, which stays valid only until
  /// the next call on the sink. convert() widens into it, so that an O_DIRECT writer's
  /// aligned buffer receives the float64 values without a copy (issue #18).
  virtual LentBuffer lend(std::size_t index, std::size_t nbytes) {
    (void)index;
    (void)nbytes;
    return {};
  }
  /// Finishes the output and moves it into place. After commit() the sink does nothing more.
  virtual void commit() = 0;
  /// Bytes written to the output so far (for progress and reports).
  virtual std::uint64_t bytes_written() const = 0;

 protected:
  Sink() = default;
};

/// Output formats, by the names the CLI's --to takes: "npy", "npz", "npz-deflate", "memmap", ...
std::vector<std::string> sink_formats();

/// Creates the sink for `format` writing to `path`. Throws Error{invalid_argument} for an unknown
/// format, or for an existing `path` without options.force.
std::unique_ptr<Sink> open_sink(std::string_view format, const std::filesystem::path& path,
                                const SinkOptions& options = {});

}  // namespace keras64
