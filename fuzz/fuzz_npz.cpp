// The npz reader (zip directory + npy headers of members + stored/deflated data): any bytes end in
// tensors that read back within bounds, or keras64::Error.
#include "fuzz.hpp"
#include "read_all.hpp"
#include "sources/sources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keras64::fuzz::MemFile f(data, size);
  try {
    auto src = keras64::detail::open_npz(f.path(), {});
    keras64::fuzz::read_all(*src);
  } catch (const keras64::Error&) {
  }
  return 0;
}
