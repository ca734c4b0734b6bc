#include "detail/deflater.hpp"

#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

class ZlibDeflater final : public Deflater {
 public:
  ZlibDeflater(int level, Output out) : out_(std::move(out)), buf_(std::size_t{256} << 10) {
    // windowBits -15: raw deflate; memLevel 8 and the default strategy match Python's zipfile
    // (what np.savez_compressed uses), so our output compresses as well as numpy's.
    if (deflateInit2(&zs_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error(Errc::internal,
                  "deflate: cannot initialise zlib (level " + std::to_string(level) + ")");
  }
  ~ZlibDeflater() override { deflateEnd(&zs_); }

  void write(const void* data, std::size_t n) override {
    const auto* p = static_cast<const Bytef*>(data);
    while (n > 0) {
      // avail_in is 32-bit: feed huge chunks in pieces.
      const auto piece = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
      zs_.next_in = const_cast<Bytef*>(p);  // zlib's API is not const-correct
      zs_.avail_in = piece;
      run(Z_NO_FLUSH);
      p += piece;
      n -= piece;
    }
  }

  void finish() override {
    zs_.next_in = nullptr;
    zs_.avail_in = 0;
    run(Z_FINISH);
  }

 private:
  void run(int flush) {
    for (;;) {
      zs_.next_out = buf_.data();
      zs_.avail_out = static_cast<uInt>(buf_.size());
      const int rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_ERROR)
        throw Error(Errc::internal,
                    std::string("deflate failed: ") + (zs_.msg ? zs_.msg : "stream error"));
      const std::size_t produced = buf_.size() - zs_.avail_out;
      if (produced) out_(buf_.data(), produced);
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (zs_.avail_in == 0 && zs_.avail_out != 0))
        return;
    }
  }

  z_stream zs_{};
  Output out_;
  std::vector<Bytef> buf_;
};

}  // namespace

std::unique_ptr<Deflater> make_deflater(int level, unsigned /*threads*/, Deflater::Output out) {
  if (level < -1 || level > 9)
    throw Error(Errc::invalid_argument, "deflate level " + std::to_string(level) +
                                            " is out of range (0-9, or -1 for the default)");
  return std::make_unique<ZlibDeflater>(level, std::move(out));
}

}  // namespace keras64::detail
