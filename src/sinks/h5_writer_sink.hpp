// The tensor events every HDF5 output (weights.h5, legacy-h5, and the weights inside a .keras)
// hands to its H5StructureWriter in the same way; a sink for one of them says only how its file
// is begun and committed.
#pragma once

#include <cstddef>

#include "sinks/h5_structure.hpp"
#include "sinks/ordered_sink.hpp"

namespace keras64::detail {

class H5WriterSink : public OrderedSink {
 protected:
  /// The writer on_begin() made. It is the derived sink's member, not this class's: members are
  /// destroyed in reverse order, and the writer must close before the sink's pending output is
  /// removed and before a .keras archive it writes into is closed.
  virtual H5StructureWriter& writer() = 0;

 private:
  void on_open(std::size_t index) final { writer().open(index); }
  void on_append(const void* data, std::size_t n) final {
    writer().append(data, n);
    bytes_ += n;
  }
  std::span<unsigned char> on_lend(std::size_t n) final { return writer().lend(n); }
  void on_close(std::size_t index) final {
    writer().close_tensor();
    writer().record_crc32c(index, crc32c(index));
  }
};

}  // namespace keras64::detail
