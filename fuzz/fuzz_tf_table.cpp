// The TensorFlow table layer (footer, index and data blocks, CRC32C, snappy, entry decoding):
// any bytes must decode or throw keras64::Error; what decodes has strictly increasing keys.
#include <cstdlib>
#include <string>

#include "detail/tf_table.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keras64::detail::tf;
  const std::string file(reinterpret_cast<const char*>(data), size);
  try {
    const auto entries = read_table(file);
    for (std::size_t i = 1; i < entries.size(); ++i)
      if (!(entries[i - 1].key < entries[i].key)) std::abort();
  } catch (const keras64::Error&) {
  }
  // The same bytes as one block's contents (restart array and entries, no trailer).
  try {
    std::vector<TableEntry> out;
    parse_block(file, out, "block");
  } catch (const keras64::Error&) {
  }
  return 0;
}
