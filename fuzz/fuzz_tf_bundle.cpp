// A whole TensorBundle from any `.index` bytes (with one 256-byte data shard of fixed content):
// open it and read every entry; failures are keras64::Error, never a crash, and no read goes
// outside the shard (the bundle checks every offset and size before reading).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "detail/tf_bundle.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

namespace {

std::string workdir() {
  static const std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "k64fuzzXXXXXX").string();
    if (!::mkdtemp(t.data())) std::abort();
    std::ofstream(t + "/b.data-00000-of-00001", std::ios::binary) << std::string(256, '\x5a');
    return t;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keras64::detail::tf;
  const std::string dir = workdir();
  {
    std::ofstream f(dir + "/b.index", std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    Bundle b(dir + "/b", "b");
    std::vector<char> buf;
    for (std::size_t i = 0; i < b.entries().size(); ++i) {
      const BundleEntry& e = b.entries()[i];
      try {
        if (e.dtype == kString) {
          b.read_strings(i, 1 << 20);
        } else if (e.slices.empty() && to_dtype(e.dtype)) {
          buf.resize(e.size);
          b.read(i, 0, e.size, buf.data());
        }
      } catch (const keras64::Error&) {
      }
    }
  } catch (const keras64::Error&) {
  }
  return 0;
}
