// The parallel deflater (detail/deflater.hpp): its pieces concatenate into one raw deflate stream
// that zlib inflates bit-exactly, at every level, for inputs that end on, just before and just
// after the 1 MiB block boundaries and arrive in pieces of any size; numpy reads an npz made with
// it, CRCs included.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "detail/deflater.hpp"
#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "detail/zip_writer.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::detail::File;
using keras64::detail::make_deflater;
using keras64::detail::ZipWriter;
using keras64::test::error_of;
using keras64::test::ScratchDir;

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// Float64 widened from float32 (3 zero bytes of 8), as npz-deflate sees, with some text mixed in.
std::string sample(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::string s;
  s.reserve(n + 8);
  while (s.size() < n) {
    if (rng() % 64 == 0) {
      s += "keras64 keras64 keras64 ";
      continue;
    }
    const double d = normal(rng);
    s.append(reinterpret_cast<const char*>(&d), 8);
  }
  s.resize(n);
  return s;
}

std::string inflate_raw(const std::string& z) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, -15), Z_OK);
  std::string out;
  std::vector<unsigned char> buf(1 << 16);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = buf.data();
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(reinterpret_cast<char*>(buf.data()), buf.size() - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  EXPECT_EQ(rc, Z_STREAM_END) << "stream not properly terminated";
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the final block";
  inflateEnd(&zs);
  return out;
}

// Compresses `data` delivered in pieces cycling through `pieces` sizes.
std::string deflate_pieces(const std::string& data, int level, unsigned threads,
                           const std::vector<std::size_t>& pieces) {
  std::string out;
  auto d = make_deflater(level, threads, [&](const void* p, std::size_t n) {
    out.append(static_cast<const char*>(p), n);
  });
  std::size_t at = 0, k = 0;
  while (at < data.size()) {
    const std::size_t n = std::min(pieces[k++ % pieces.size()], data.size() - at);
    d->write(data.data() + at, n);
    at += n;
  }
  d->finish();
  return out;
}

TEST(ParallelDeflate, RoundTripsAtBlockBoundaries) {
  const std::vector<std::size_t> sizes = {
      0, 1, 7, kMiB - 1, kMiB, kMiB + 1, 2 * kMiB, 3 * kMiB + 7, 9 * kMiB + 12345};
  for (std::size_t n : sizes) {
    const std::string data = sample(n, static_cast<unsigned>(n));
    for (unsigned threads : {1u, 2u, 3u}) {
      const std::string z = deflate_pieces(data, -1, threads, {65536, 1, 300000, 4 * kMiB});
      EXPECT_EQ(inflate_raw(z), data) << n << " bytes, " << threads << " threads";
    }
  }
}

TEST(ParallelDeflate, TinyPiecesAndEveryLevel) {
  const std::string data = sample(2 * kMiB + 333, 5);
  for (int level : {-1, 0, 1, 2, 3, 4, 6, 9}) {
    const std::string z = deflate_pieces(data, level, 2, {1, 2, 3, 5, 8, 13, 4093, 70001});
    EXPECT_EQ(inflate_raw(z), data) << "level " << level;
    if (level != 0) {
      EXPECT_LT(z.size(), data.size()) << "level " << level;
    }
  }
}

TEST(ParallelDeflate, DefaultIsCloseToZlibDefault) {
  // npz-deflate must stay within 10% of np.savez_compressed (zlib level 6) on float data.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::string data(4 * kMiB, '\0');
  for (std::size_t i = 0; i < data.size(); i += 8) {
    const double d = normal(rng);
    std::memcpy(&data[i], &d, 8);
  }
  const std::string fast = deflate_pieces(data, -1, 2, {kMiB});
  uLongf zsize = compressBound(static_cast<uLong>(data.size()));
  std::string z(zsize, '\0');
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(z.data()), &zsize,
                      reinterpret_cast<const Bytef*>(data.data()), data.size(), 6),
            Z_OK);
  EXPECT_LE(static_cast<double>(fast.size()), 1.10 * static_cast<double>(zsize));
}

TEST(ParallelDeflate, BadLevelIsInvalidArgument) {
  EXPECT_EQ(error_of([] { make_deflater(10, 0, [](const void*, std::size_t) {}); }).code(),
            Errc::invalid_argument);
}

TEST(ParallelDeflate, OutputErrorPropagates) {
  auto d = make_deflater(-1, 2, [](const void*, std::size_t) {
    throw Error(Errc::io, "out.npz: write failed: No space left on device");
  });
  const std::string data = sample(5 * kMiB);
  const Error e = error_of([&] {
    d->write(data.data(), data.size());
    d->finish();
  });
  EXPECT_EQ(e.code(), Errc::io) << e.what();
}

// A deflated npz of several multi-block members, read by numpy (zipfile checks every CRC).
TEST(ParallelDeflate, NumpyReadsDeflatedNpz) {
  if (!keras64::test::have_python()) GTEST_SKIP() << "no python";
  ScratchDir dir;
  const std::vector<std::size_t> counts = {0, 1, 131072, 131073, 400000};
  {
    File f = File::create(dir / "w.npz");
    ZipWriter zip(f, "w.npz");
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const std::string header = keras64::detail::npy_header(keras64::DType::f64, {counts[i]});
      std::string data(counts[i] * 8, '\0');
      for (std::size_t k = 0; k < counts[i]; ++k) {
        const double v = static_cast<double>(k) * 0.5 - static_cast<double>(i);
        std::memcpy(&data[k * 8], &v, 8);
      }
      zip.begin_member("weight_" + std::to_string(i) + ".npy", header.size() + data.size(),
                       ZipWriter::Method::deflate);
      zip.write(header.data(), header.size());
      for (std::size_t at = 0; at < data.size(); at += 77777)
        zip.write(data.data() + at, std::min<std::size_t>(77777, data.size() - at));
      zip.end_member();
    }
    zip.finish();
    f.close();
  }
  const auto r = keras64::test::run_python(dir, R"PY(
import sys, zipfile, numpy as np
assert zipfile.ZipFile(sys.argv[1]).testzip() is None
d = np.load(sys.argv[1])
for i, n in enumerate([0, 1, 131072, 131073, 400000]):
    a = d["weight_%d" % i]
    assert a.dtype == np.float64 and a.shape == (n,), (a.dtype, a.shape)
    assert np.array_equal(a, np.arange(n) * 0.5 - i), i
print("ok")
)PY",
                                           {(dir / "w.npz").string()});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ok"), std::string::npos) << r.output;
}

}  // namespace

// HDF5 chunks (ChunkDeflater): every chunk is a complete zlib stream that zlib's uncompress()
// (HDF5's deflate filter inflates with zlib) turns back into the chunk, shuffled as HDF5's shuffle
// filter does; chunks come back in submission order with their tags, at every level.
TEST(ChunkDeflater, ZlibStreamsOfShuffledChunksInOrder) {
  using keras64::detail::ChunkDeflater;
  const std::string data = sample(5 * kMiB + 123, 3);
  for (int level : {-1, 0, 1, 2, 3, 4, 9}) {
    struct Piece {
      std::uint64_t tag;
      std::string z;
    };
    std::vector<Piece> got;
    ChunkDeflater cd(level, 2, [&](std::uint64_t tag, const void* p, std::size_t n) {
      got.push_back({tag, std::string(static_cast<const char*>(p), n)});
    });
    // Chunks of varied sizes and element sizes, including a full 1 MiB one, one byte, a tail
    // shorter than an element (kept in place by the shuffle) and an empty chunk.
    struct Cut {
      std::size_t n, shuffle;
    };
    const std::vector<Cut> cuts = {{kMiB, 8}, {1, 8},    {4096, 4}, {1000003, 2},
                                   {0, 8},    {kMiB, 1}, {13, 8},   {777777, 8}};
    std::vector<std::string> want;
    std::size_t at = 0;
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      const std::string chunk = data.substr(at, cuts[i].n);
      at += cuts[i].n;
      std::memcpy(cd.buffer(), chunk.data(), chunk.size());
      cd.submit(chunk.size(), cuts[i].shuffle, 100 + i);
      // the expected bytes: HDF5's shuffle, written out plainly
      const std::size_t s = std::max<std::size_t>(cuts[i].shuffle, 1), count = chunk.size() / s;
      std::string sh = chunk;
      for (std::size_t k = 0; k < s; ++k)
        for (std::size_t e = 0; e < count; ++e) sh[k * count + e] = chunk[e * s + k];
      want.push_back(sh);
    }
    cd.finish();
    ASSERT_EQ(got.size(), cuts.size()) << "level " << level;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].tag, 100 + i);
      std::string back(want[i].size() + 1, '\0');
      uLongf n = back.size();
      ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(back.data()), &n,
                           reinterpret_cast<const Bytef*>(got[i].z.data()), got[i].z.size()),
                Z_OK)
          << "level " << level << " chunk " << i;
      back.resize(n);
      EXPECT_TRUE(back == want[i]) << "level " << level << " chunk " << i;
    }
  }
}
