// Snappy blocks as TensorFlow tables hold them: any bytes must uncompress within the cap or throw
// keras64::Error, never write past the buffer or allocate by a hostile length.
#include <cstdlib>
#include <string>

#include "detail/tf_table.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  try {
    const std::string out = keras64::detail::tf::snappy_uncompress(in, std::size_t{1} << 20);
    if (out.size() > (std::size_t{1} << 20)) std::abort();
  } catch (const keras64::Error&) {
  }
  return 0;
}
