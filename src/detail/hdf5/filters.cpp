#include "detail/hdf5/filters.hpp"

#include <zlib.h>

#include <cstring>
#include <string>

#include "detail/hdf5/checksum.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

std::vector<std::uint8_t> inflate_to(const std::vector<std::uint8_t>& in, std::size_t limit) {
  std::vector<std::uint8_t> out(limit);
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw Error(Errc::internal, "zlib inflateInit failed");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const std::size_t produced = out.size() - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    corrupt(rc == Z_BUF_ERROR && produced == limit
                ? "deflate filter: chunk inflates beyond its size"
                : "deflate filter: damaged zlib stream");
  out.resize(produced);
  return out;
}

void fletcher_check(std::vector<std::uint8_t>& d) {
  if (d.size() < 4) corrupt("fletcher32 filter: chunk shorter than its checksum");
  const std::size_t n = d.size() - 4;
  std::uint32_t stored;
  std::memcpy(&stored, d.data() + n, 4);  // little-endian on disk; keras64 runs little-endian
  const std::uint32_t sum = fletcher32(d.data(), n);
  // libhdf5 before 1.6.3 stored the two 16-bit halves byte-swapped; it accepts both, and so do we.
  const std::uint32_t swapped = ((sum & 0x00ff00ffu) << 8) | ((sum >> 8) & 0x00ff00ffu);
  if (stored != sum && stored != swapped) corrupt("fletcher32 filter: checksum mismatch");
  d.resize(n);
}

std::vector<std::uint8_t> unshuffle(const std::vector<std::uint8_t>& in, std::size_t size) {
  if (size <= 1 || in.size() < size) return in;
  std::vector<std::uint8_t> out(in.size());
  const std::size_t n = in.size() / size;
  for (std::size_t j = 0; j < size; ++j) {
    const std::uint8_t* src = in.data() + j * n;
    for (std::size_t i = 0; i < n; ++i) out[i * size + j] = src[i];
  }
  const std::size_t tail = in.size() - n * size;  // copied through unshuffled, as libhdf5 does
  std::memcpy(out.data() + n * size, in.data() + n * size, tail);
  return out;
}

}  // namespace

std::vector<std::uint8_t> decode_chunk(std::vector<std::uint8_t> data,
                                       const std::vector<Filter>& pipeline, std::uint32_t mask,
                                       std::size_t expected, std::size_t element_size) {
  for (std::size_t k = pipeline.size(); k-- > 0;) {
    if (k < 32 && (mask >> k) & 1) continue;
    const Filter& f = pipeline[k];
    switch (f.id) {
      case 1: {
        std::size_t limit = expected;  // plus the checksums of fletcher32 filters still to undo
        for (std::size_t j = 0; j < k; ++j) limit += pipeline[j].id == 3 ? 4 : 0;
        data = inflate_to(data, limit);
        break;
      }
      case 2:
        data = unshuffle(data, f.client.empty() ? element_size : f.client[0]);
        break;
      case 3:
        fletcher_check(data);
        break;
      default:
        unsupported("filter " + std::to_string(f.id));
    }
  }
  if (data.size() != expected)
    corrupt("chunk decodes to " + std::to_string(data.size()) + " bytes, expected " +
            std::to_string(expected));
  return data;
}

}  // namespace keras64::detail::hdf5
