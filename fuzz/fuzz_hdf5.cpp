// keras64's own HDF5 reader (detail::hdf5::Reader): any bytes must end in success or
// keras64::Error, with no crash, hang or unbounded allocation. Walks the whole tree, reads every
// attribute (strings decoded) and every dataset (at most 1 MiB of elements per input).
#include <vector>

#include "detail/hdf5/reader.hpp"
#include "fuzz.hpp"
#include "keras64/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace hdf5 = keras64::detail::hdf5;
  keras64::fuzz::MemFile f(data, size);
  try {
    hdf5::Reader r(f.path(), "fuzz.h5");
    std::vector<hdf5::Object> todo{r.root()};
    std::vector<unsigned char> buf(1 << 16);
    std::uint64_t budget = 1 << 20;
    for (std::size_t visits = 0; !todo.empty() && visits < 10000; ++visits) {
      const hdf5::Object o = std::move(todo.back());
      todo.pop_back();
      try {
        for (const auto& a : r.attributes(o)) {
          try {
            r.strings(o, a);
          } catch (const keras64::Error&) {
          }
        }
        if (o.kind == hdf5::Kind::group) {
          for (const auto& l : r.links(o)) todo.push_back(r.child(o, l));
        } else if (o.kind == hdf5::Kind::dataset) {
          const hdf5::Dataset d = r.dataset(o);
          const std::uint64_t es = keras64::info(d.info.dtype).size;
          const std::uint64_t n = keras64::element_count(d.info.shape);
          const std::uint64_t per = buf.size() / es;
          for (std::uint64_t first = 0; first < n && budget > 0; first += per) {
            const std::uint64_t count = std::min(per, n - first);
            r.read(d, first, count, buf.data());
            budget -= std::min(budget, count * es);
          }
        }
      } catch (const keras64::Error&) {
      }
    }
  } catch (const keras64::Error&) {
  }
  return 0;
}
