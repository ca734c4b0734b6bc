// manifest.json of npy and memmap directories: whatever the manifest claims (files, shapes,
// dtypes, offsets), the readers must check it against the files beside it or throw keras64::Error.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz.hpp"
#include "read_all.hpp"
#include "sources/sources.hpp"

namespace {

// One scratch directory per process holding two small real arrays; only manifest.json changes.
const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "keras64-fuzz-XXXXXX").string();
    std::filesystem::path d = ::mkdtemp(t.data());
    static const unsigned char npy[] =
        "\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    std::string header(reinterpret_cast<const char*>(npy), sizeof npy - 1);
    header.resize(127, ' ');
    header += '\n';
    std::ofstream(d / "weight_0.npy", std::ios::binary) << header << std::string(16, '\x01');
    std::ofstream(d / "weight_0.dat", std::ios::binary) << std::string(16, '\x01');
    std::ofstream(d / "weight_1.dat", std::ios::binary) << std::string(3, '\x02');
    std::atexit([] { std::filesystem::remove_all(scratch()); });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = scratch();
  std::ofstream(dir / "manifest.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  for (auto open : {keras64::detail::open_npy_dir, keras64::detail::open_memmap_dir}) {
    try {
      auto src = open(dir, {});
      keras64::fuzz::read_all(*src);
    } catch (const keras64::Error&) {
    }
  }
  return 0;
}
