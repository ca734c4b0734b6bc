// The .npy header parser: any bytes must parse or throw keras64::Error; what parses must have a
// shape whose size computation cannot overflow and must re-serialize to a header that parses to
// the same thing.
#include <cstdlib>

#include "detail/npy_format.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keras64::detail;
  try {
    NpyHeader h = parse_npy_header(data, size);
    keras64::element_count(h.shape);
    if (!h.big_endian && !h.fortran_order) {
      const std::string again = npy_header(h.dtype, h.shape);
      NpyHeader h2 = parse_npy_header(again.data(), again.size());
      if (h2.shape != h.shape || h2.dtype != h.dtype) std::abort();
    }
  } catch (const keras64::Error&) {
  }
  return 0;
}
