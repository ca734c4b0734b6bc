// The safetensors reader: header length, JSON header, dtypes, shapes and data offsets of any
// bytes must be accepted consistently or rejected with keras64::Error; reads stay in the file.
#include "fuzz.hpp"
#include "read_all.hpp"
#include "sources/sources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keras64::fuzz::MemFile f(data, size);
  try {
    auto src = keras64::detail::open_safetensors(f.path(), {});
    keras64::fuzz::read_all(*src);
  } catch (const keras64::Error&) {
  }
  return 0;
}
