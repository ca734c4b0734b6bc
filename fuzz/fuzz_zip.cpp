// The zip directory parser and member reader (detail::ZipReader): any bytes must end in success
// or keras64::Error, with no crash, hang or allocation beyond the input's own size.
#include "detail/zip_reader.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keras64::fuzz::MemFile f(data, size);
  try {
    keras64::detail::ZipReader zip(f.path());
    for (const auto& e : zip.entries()) {
      try {
        zip.read_all(e, 1 << 20);
      } catch (const keras64::Error&) {
      }
    }
  } catch (const keras64::Error&) {
  }
  return 0;
}
