// Reads every tensor of a fuzzed source in small chunks (bounded work per input).
#pragma once

#include <algorithm>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/source.hpp"

namespace keras64::fuzz {

inline void read_all(Source& src) {
  std::vector<unsigned char> buf(1 << 16);
  for (std::size_t i = 0; i < src.tensors().size(); ++i) {
    const TensorInfo& t = src.tensors()[i];
    if (t.nbytes() > (std::uint64_t{16} << 20))
      continue;  // claims are checked at open; keep runs short
    const std::uint64_t per = std::max<std::uint64_t>(1, buf.size() / info(t.dtype).size);
    for (std::uint64_t first = 0; first < t.elements(); first += per)
      src.read(i, first, std::min(per, t.elements() - first), buf.data());
  }
}

}  // namespace keras64::fuzz
