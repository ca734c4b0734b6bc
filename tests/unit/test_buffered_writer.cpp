// detail::BufferedWriter through the page cache: exact file contents for any mix of small and
// large writes, aligned or not, with and without the window; failures are Error{io} naming the
// file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/file.hpp"
#include "detail/writeback.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::detail::BufferedWriter;
using keras64::detail::File;
using keras64::detail::Writeback;
using keras64::test::expect_error;
using keras64::test::random_bytes;
using keras64::test::ScratchDir;

namespace {

// The writers under test: through the page cache only (where most of the buffer logic is;
// O_DIRECT has its own tests in test_direct_writes.cpp), with a window of 64 KiB or none, and a
// buffer smaller than a page or of one page.
struct Config {
  std::uint64_t window;
  std::size_t buffer;
  std::string name() const {
    return "window " + std::to_string(window) + ", buffer " + std::to_string(buffer);
  }
};
const Config kConfigs[] = {{0, 4096}, {65536, 4096}, {65536, 1000}, {65536, 1 << 16}};

TEST(BufferedWriter, WritesExactlyWhatItIsGiven) {
  ScratchDir dir;
  const std::string data = random_bytes(3'000'000, 11);
  // Pieces below, at and above the buffer and the page size, after a small header (an npy file)
  // so that large writes start unaligned.
  for (const Config& c : kConfigs) {
    const auto path = dir / ("out_" + std::to_string(c.window) + "_" + std::to_string(c.buffer));
    File f = File::create(path);
    Writeback wb(c.window, 2, std::nullopt);
    BufferedWriter w(f, wb, c.buffer);
    w.write("NPY", 3);
    std::size_t at = 0, k = 0;
    const std::size_t pieces[] = {1, 4095, 4096, 4097, 100, 70000, 3, 1 << 20, 8193, 65536};
    while (at < data.size()) {
      const std::size_t n = std::min(pieces[k++ % 10], data.size() - at);
      w.write(data.data() + at, n);
      at += n;
      EXPECT_EQ(w.offset(), 3 + at);
    }
    w.finish();
    wb.drain();
    f.sync();
    f.close();
    EXPECT_TRUE(keras64::test::read_file(path) == "NPY" + data) << c.name();
  }
}

TEST(BufferedWriter, SeeksWriteAnywhereInAnyOrder) {
  // The HDF5 sinks write tensors at their datasets' offsets in plan order, not file order.
  ScratchDir dir;
  const std::string data = random_bytes(1'000'000, 11);
  std::vector<std::pair<std::size_t, std::size_t>> pieces;  // [from, to) of data
  for (std::size_t at = 0, k = 1; at < data.size(); k = k * 7 % 65537) {
    const std::size_t n = std::min<std::size_t>(1 + k % 50'000, data.size() - at);
    pieces.emplace_back(at, at + n);
    at += n;
  }
  std::shuffle(pieces.begin(), pieces.end(), std::mt19937(5));
  for (const Config& c : kConfigs) {
    const auto path =
        dir / ("scattered_" + std::to_string(c.window) + "_" + std::to_string(c.buffer));
    File f = File::create(path);
    Writeback wb(c.window, 2, std::nullopt);
    BufferedWriter w(f, wb, c.buffer);
    for (const auto& [from, to] : pieces) {
      w.seek(from);
      // in two parts, so buffered and direct writes both meet a seek
      const std::size_t half = (to - from) / 2;
      w.write(data.data() + from, half);
      w.write(data.data() + from + half, to - from - half);
      EXPECT_EQ(w.offset(), to);
    }
    w.finish();
    wb.drain();
    f.close();
    EXPECT_TRUE(keras64::test::read_file(path) == data) << c.name();
  }
}

TEST(BufferedWriter, StartsAtTheGivenOffsetAndFinishesForPatches) {
  // After finish() every byte is written (the O_DIRECT queue's threads included), so a patch
  // lands over them.
  ScratchDir dir;
  File f = File::create(dir / "out");
  f.write_all("HEADER", 6);
  BufferedWriter w(f, 6, 1024);
  w.write("abc", 3);
  w.write("def", 3);
  w.finish();
  f.pwrite_all("X", 1, 7);  // patch a byte the writer wrote
  f.close();
  EXPECT_EQ(keras64::test::read_file(dir / "out"), "HEADERaXcdef");
}

TEST(BufferedWriter, FailedWriteNamesTheFile) {
  ScratchDir dir;
  const auto path = dir / "big.npy";
  File f = File::create(path);
  BufferedWriter w(f, 0, 4096, 65536);
  const std::string data = random_bytes(100000, 11);
  keras64::test::FileSizeLimit limit(10000);
  expect_error(
      [&] {
        w.write(data.data(), data.size());  // bigger than the buffer: written at once, cut short
        w.finish();
      },
      Errc::io, path.string() + ": write failed: File too large");
}

TEST(BufferedWriter, BufferedBytesFailAtFlush) {
  ScratchDir dir;
  const auto path = dir / "small.dat";
  File f = File::create(path);
  BufferedWriter w(f, 0, 65536);
  const std::string data = random_bytes(20000, 11);
  keras64::test::FileSizeLimit limit(4096);
  w.write(data.data(), data.size());  // only buffered so far
  expect_error([&] { w.finish(); }, Errc::io, path.string() + ": write failed: File too large");
}

}  // namespace
