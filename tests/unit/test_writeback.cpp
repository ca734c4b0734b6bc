// detail::Writeback shared by many files (a directory output): every file's bytes exact, kept
// files closed once waited for, open descriptors bounded however many files pass through.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <filesystem>
#include <optional>
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
using keras64::test::random_bytes;
using keras64::test::ScratchDir;

namespace {

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(Writeback, SharedByManyFilesInTurn) {
  ScratchDir dir;
  const std::size_t before = open_descriptors();
  // 600 files from 1 byte to 300 KB through 64 KiB windows, depth 2: files are kept open past
  // their close, never more than the cap, and all closed by drain().
  Writeback wb(65536, 2);
  std::vector<std::string> want;
  for (unsigned i = 0; i < 600; ++i) {
    want.push_back(random_bytes(i % 7 == 0 ? 300000 : 1 + i * 37 % 5000, i));
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

namespace {

// Which of the file's first `pages` pages are in the page cache (mincore on a mapping).
std::vector<bool> resident(const std::filesystem::path& p, std::size_t pages) {
  File f = File::open_read(p);
  void* m = ::mmap(nullptr, pages * 4096, PROT_READ, MAP_SHARED, f.fd(), 0);
  std::vector<unsigned char> v(pages);
  std::vector<bool> out(pages);
  if (m != MAP_FAILED) {
    if (::mincore(m, pages * 4096, v.data()) == 0)
      for (std::size_t i = 0; i < pages; ++i) out[i] = v[i] & 1;
    ::munmap(m, pages * 4096);
  }
  return out;
}

// 8 MiB in 64 KiB writes through 256 KiB windows. The page cache may hold them in large folios
// (a DONTNEED spares a whole folio that holds a pinned page), so the checks look at page 0 and
// at pages megabytes away from it.
constexpr std::size_t kPages = 2048;

std::vector<bool> write_pages(const std::filesystem::path& p, bool pin_first) {
  const std::string data = random_bytes(kPages * 4096, 9);
  File f = File::create(p);
  Writeback wb(64 * 4096, 1, std::nullopt);  // the page cache only: what is tested here
  if (pin_first) wb.pin(f, 10, 20);          // widened to the whole first page
  BufferedWriter w(f, wb, 4096);
  for (std::size_t at = 0; at < data.size(); at += 65536) w.write(data.data() + at, 65536);
  w.finish();
  wb.drain();
  return resident(p, kPages);
}

}  // namespace

TEST(Writeback, PinnedPagesStayCachedTheRestIsDropped) {
  ScratchDir dir;
  const auto control = write_pages(dir / "control", false);
  if (control[0] || control[kPages / 2])
    GTEST_SKIP() << "this file system keeps written pages cached after DONTNEED (tmpfs?)";
  const auto pinned = write_pages(dir / "pinned", true);
  EXPECT_TRUE(pinned[0]);
  EXPECT_FALSE(pinned[kPages / 2]);
  EXPECT_FALSE(pinned[kPages - 1]);
}
