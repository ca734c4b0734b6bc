// detail::Writeback shared by many files (a directory output): every file's bytes exact, kept
// files closed once waited for, open descriptors bounded however many files pass through.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/file.hpp"
#include "detail/writeback.hpp"
#include "scratch_dir.hpp"

using keras64::detail::BufferedWriter;
using keras64::detail::File;
using keras64::detail::Writeback;
using keras64::test::ScratchDir;

namespace {

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::string bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Writeback, SharedByManyFilesInTurn) {
  ScratchDir dir;
  const std::size_t before = open_descriptors();
  // 600 files from 1 byte to 300 KB through 64 KiB windows, depth 2: files are kept open past
  // their close, never more than the cap, and all closed by drain().
  Writeback wb(65536, 2);
  std::vector<std::string> want;
  for (unsigned i = 0; i < 600; ++i) {
    want.push_back(bytes(i % 7 == 0 ? 300000 : 1 + i * 37 % 5000, i));
    File f = File::create(dir / ("f" + std::to_string(i)));
    BufferedWriter w(f, wb, 4096);
    for (std::size_t at = 0; at < want.back().size(); at += 9999)
      w.write(want.back().data() + at, std::min<std::size_t>(9999, want.back().size() - at));
    w.finish();
    wb.keep(std::move(f));
    EXPECT_LE(open_descriptors(), before + 257 + 1) << i;
  }
  wb.drain();
  EXPECT_EQ(open_descriptors(), before);
  for (unsigned i = 0; i < want.size(); ++i)
    EXPECT_TRUE(keras64::test::read_file(dir / ("f" + std::to_string(i))) == want[i]) << i;
}

TEST(Writeback, DisabledStillClosesKeptFiles) {
  ScratchDir dir;
  Writeback wb(0);
  File f = File::create(dir / "x");
  f.write_all("abc", 3);
  wb.wrote(f, 0, 3);
  wb.keep(std::move(f));
  wb.drain();
  EXPECT_EQ(keras64::test::read_file(dir / "x"), "abc");
}

}  // namespace
