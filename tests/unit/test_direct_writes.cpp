// O_DIRECT writes (detail/direct_queue.hpp, BufferedWriter past Writeback::direct()): the same
// bytes as the page cache for any mix of sizes, seeks, pinned bytes and patches, whether the
// switch comes at once or mid-run; the page cache where O_DIRECT is refused; write errors from
// the queue's threads reach the caller as Error{io} naming the file.
#include <gtest/gtest.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/direct_queue.hpp"
#include "detail/file.hpp"
#include "detail/writeback.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::detail::BufferedWriter;
using keras64::detail::DirectQueue;
using keras64::detail::File;
using keras64::detail::open_direct;
using keras64::detail::Writeback;
using keras64::test::expect_error;
using keras64::test::random_bytes;
using keras64::test::ScratchDir;

namespace {

constexpr long kTmpfsMagic = 0x01021994;  // statfs(2)

bool on_tmpfs(const std::filesystem::path& p) {
  struct statfs s {};
  return ::statfs(p.c_str(), &s) == 0 && s.f_type == kTmpfsMagic;
}

// Skips the test where the scratch directory refuses O_DIRECT: what it checks would then be
// the page cache again.
#define REQUIRE_DIRECT(dir)                                                               \
  do {                                                                                    \
    File probe = File::create((dir) / "probe");                                           \
    if (!open_direct(probe))                                                              \
      GTEST_SKIP() << (dir).path() << " refuses O_DIRECT (tmpfs?): set TMPDIR to a disk"; \
  } while (false)

// Writes `data` through a writer whose Writeback switches to O_DIRECT after `after` bytes
// (empty: never), in pieces of every size class - below, at and above both buffers, unaligned -
// with a pinned header first and a flush now and then, and patches the header after finish().
std::string write_all(const std::filesystem::path& path, const std::string& data,
                      std::optional<std::uint64_t> after, bool* went_direct) {
  File f = File::create(path);
  Writeback wb(65536, 2, after);
  BufferedWriter w(f, wb, 4096);
  w.write_pinned("HEADER", 6);
  std::size_t at = 0;
  std::size_t k = 0;
  const std::size_t pieces[] = {1, 4095, 4096, 4097, 100, 70000, 3, 3 << 20, 511, 65536};
  while (at < data.size()) {
    const std::size_t n = std::min(pieces[k++ % 10], data.size() - at);
    w.write(data.data() + at, n);
    at += n;
    EXPECT_EQ(w.offset(), 6 + at);
    if (k % 7 == 0) w.flush();
  }
  *went_direct = w.direct();
  w.finish();
  wb.drain();
  f.pwrite_all("header", 6, 0);  // the patch, as the zip and safetensors sinks do
  f.sync();
  f.close();
  return keras64::test::read_file(path);
}

TEST(DirectWrites, SameBytesAsThePageCache) {
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  const std::string data = random_bytes(9'000'000, 3);
  const std::string want = "header" + data;
  bool direct = false;
  EXPECT_TRUE(write_all(dir / "cached", data, std::nullopt, &direct) == want);
  EXPECT_FALSE(direct);
  // At once, mid-run (unaligned), and at a buffer boundary.
  for (std::uint64_t after : {std::uint64_t{0}, std::uint64_t{1'234'567}, std::uint64_t{4096}}) {
    EXPECT_TRUE(write_all(dir / ("direct" + std::to_string(after)), data, after, &direct) == want)
        << "after " << after;
    EXPECT_TRUE(direct) << "after " << after;
  }
}

TEST(DirectWrites, SeeksWriteAnywhereInAnyOrder) {
  // The HDF5 sinks write tensors at their datasets' offsets in plan order, not file order: every
  // run has an unaligned head and tail around its O_DIRECT blocks.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  const std::string data = random_bytes(6'000'000, 4);
  std::vector<std::pair<std::size_t, std::size_t>> pieces;  // [from, to) of data
  for (std::size_t at = 0, k = 1; at < data.size(); k = k * 7 % 65537) {
    const std::size_t n = std::min<std::size_t>(1 + k % 400'000, data.size() - at);
    pieces.emplace_back(at, at + n);
    at += n;
  }
  std::shuffle(pieces.begin(), pieces.end(), std::mt19937(5));
  const auto path = dir / "scattered";
  File f = File::create(path);
  Writeback wb(65536, 2, 0);
  {
    BufferedWriter w(f, wb, 8192);
    for (const auto& [from, to] : pieces) {
      w.seek(from);
      const std::size_t half = (to - from) / 2;
      w.write(data.data() + from, half);
      w.write(data.data() + from + half, to - from - half);
      EXPECT_EQ(w.offset(), to);
    }
    EXPECT_TRUE(w.direct());
    w.finish();
  }
  wb.drain();
  f.close();
  EXPECT_TRUE(keras64::test::read_file(path) == data);
}

// Fills what lend() offers, as convert() does (widening into it), else writes from its own
// memory; returns whether anything was lent.
bool write_lent(BufferedWriter& w, const char* p, std::size_t n) {
  bool lent_any = false;
  while (n > 0) {
    const std::span<unsigned char> s = w.lend(n);
    std::size_t k = std::min(n, s.empty() ? std::size_t{7777} : s.size());
    if (!s.empty()) {
      EXPECT_LE(s.size(), n);
      std::memcpy(s.data(), p, k);
      w.write(s.data(), k);
      lent_any = true;
    } else {
      w.write(p, k);
    }
    p += k;
    n -= k;
  }
  return lent_any;
}

TEST(DirectWrites, BytesPutInLentMemoryAreWrittenOnce) {
  // Through lend(): the queue's buffers and the heads of runs (after a header, after a seek to
  // an unaligned offset) are filled in place; the page cache lends nothing and the same bytes
  // arrive through write().
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  const std::string data = random_bytes(7'000'000, 8);
  for (const bool direct : {true, false}) {
    const auto path = dir / (direct ? "lent_direct" : "lent_cached");
    File f = File::create(path);
    Writeback wb(65536, 2, direct ? std::optional<std::uint64_t>(0) : std::nullopt);
    bool lent = false;
    {
      BufferedWriter w(f, wb, 4096);
      w.write("NPY-HEADER", 10);
      lent = write_lent(w, data.data(), 3'000'000);
      w.seek(10 + 3'000'000 + 4'000'000 - 12'345);  // the last part first, at an unaligned offset
      lent |= write_lent(w, data.data() + data.size() - 12'345, 12'345);
      w.seek(10 + 3'000'000);
      lent |= write_lent(w, data.data() + 3'000'000, 4'000'000 - 12'345);
      EXPECT_EQ(w.direct(), direct);
      w.finish();
    }
    wb.drain();
    f.close();
    EXPECT_EQ(lent, direct);
    EXPECT_TRUE(keras64::test::read_file(path) == "NPY-HEADER" + data) << direct;
  }
}

TEST(DirectWrites, ARangeWrittenAgainEndsWithTheLaterBytes) {
  // The .keras sink copies HDF5's metadata into the archive twice: the second copy's O_DIRECT
  // blocks must not be overtaken by the first's on another worker thread, nor its page-cache
  // edges read back pages the first has not written yet.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  const auto path = dir / "rewritten";
  File f = File::create(path);
  Writeback wb(65536, 2, 0);
  std::string want(3'000'000 + 4096, '\0');
  {
    BufferedWriter w(f, wb, 4096);
    for (unsigned round = 0; round < 40; ++round) {
      const std::size_t at = round % 3 == 0 ? 0 : 100 * round;  // aligned or not
      const std::string data = random_bytes(3'000'000, round);
      w.seek(at);
      w.write(data.data(), data.size());
      want.replace(at, data.size(), data);
    }
    w.finish();
  }
  wb.drain();
  f.close();
  const std::string got = keras64::test::read_file(path);
  EXPECT_TRUE(got == want.substr(0, got.size()));
  EXPECT_EQ(got.size(), 100 * 38 + 3'000'000);
}

TEST(DirectWrites, TheQueueKeepsTheOrderOfWritesToOneBlock) {
  // Three workers, 3,000 writes of one block in turn. Without the queue's overlap check a later
  // write can land before an earlier one: seen in about one run in ten here, and as a wrong
  // .keras output (integration.test_output_bytes) under load - this test can only catch it
  // sometimes, the check's absence is not deterministic.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  File f = File::create(dir / "block");
  auto direct = std::make_shared<File>(*open_direct(f));
  DirectQueue queue(DirectQueue::kAlign, 4);
  for (unsigned round = 1; round <= 3000; ++round) {
    unsigned char* buf = queue.acquire();
    std::memset(buf, static_cast<int>(round % 251), DirectQueue::kAlign);
    queue.submit(direct, buf, DirectQueue::kAlign, 0);
  }
  queue.wait();
  EXPECT_EQ(keras64::test::read_file(dir / "block"),
            std::string(DirectQueue::kAlign, static_cast<char>(3000 % 251)));
}

TEST(DirectWrites, ARunsLastPartialBlockIsWrittenByTheQueue) {
  // The tail of a job goes through the page-cache descriptor on the worker, after its blocks;
  // a job of nothing but a tail too. An O_DIRECT block over the tail's page, submitted next,
  // must land after it: a tail written later would read the new block back into the page cache
  // and put its old bytes over it. Without the tail in the queue's overlap check this test
  // failed 5 runs of 5.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  constexpr std::size_t kBlock = DirectQueue::kAlign;
  File f = File::create(dir / "tails");
  auto direct = std::make_shared<File>(*open_direct(f));
  auto cached = std::make_shared<File>(*keras64::detail::open_cached(f));
  DirectQueue queue(4 * kBlock, 4);
  std::string want;
  for (unsigned round = 0; round < 300; ++round) {
    const std::uint64_t at = std::uint64_t{round} * 3 * kBlock;
    const std::size_t whole = round % 2 == 0 ? 2 * kBlock : 0;  // blocks and tail, or a tail
    const std::uint64_t from = at + 2 * kBlock - whole;
    const std::string data = random_bytes(whole + 100, round);
    unsigned char* buf = queue.acquire();
    std::memcpy(buf, data.data(), data.size());
    queue.submit(direct, buf, whole, from, cached, 100);
    const std::string later = random_bytes(kBlock, 1000 + round);
    buf = queue.acquire();
    std::memcpy(buf, later.data(), kBlock);
    queue.submit(direct, buf, kBlock, at + 2 * kBlock);  // the tail's page, again
    want.resize(at + 3 * kBlock, '\0');
    want.replace(from, data.size(), data);
    want.replace(at + 2 * kBlock, kBlock, later);
  }
  queue.wait();
  EXPECT_TRUE(keras64::test::read_file(dir / "tails") == want);
}

TEST(DirectWrites, WhichWritesWaitForEachOther) {
  // An O_DIRECT page against anything on that page; page-cache bytes only against the same
  // bytes (the page cache merges writes to different bytes of one page in any order).
  constexpr std::size_t k = DirectQueue::kAlign;
  const auto conflicts = &DirectQueue::conflicts;
  EXPECT_TRUE(conflicts(0, k, 0, 0, k, 0));             // one block twice
  EXPECT_FALSE(conflicts(0, k, 0, k, k, 0));            // neighbouring blocks
  EXPECT_TRUE(conflicts(0, k, 100, k, k, 0));           // a tail, then a block over its page
  EXPECT_TRUE(conflicts(k, k, 0, 0, k, 100));           // the same, in the other order
  EXPECT_TRUE(conflicts(0, 0, 100, 0, k, 0));           // a head, then its page with O_DIRECT
  EXPECT_FALSE(conflicts(0, k, 100, k + 100, 0, 50));   // a tail and the next run's head
  EXPECT_FALSE(conflicts(k + 100, 0, 50, 0, k, 100));   // the same, in the other order
  EXPECT_TRUE(conflicts(0, k, 100, k + 99, 0, 50));     // ... sharing a byte
  EXPECT_TRUE(conflicts(5, 0, 100, 50, 0, 10));         // page-cache bytes written again
  EXPECT_FALSE(conflicts(0, 0, 0, 0, 0, 0));            // nothing
  EXPECT_FALSE(conflicts(0, 2 * k, 0, 2 * k, 0, 100));  // a head on the next page
}

TEST(DirectWrites, PageCacheWritesOfTheSameBytesKeepTheirOrder) {
  // The rule above at work: 500 rounds of the same 256 KiB through the page cache from offset
  // 100, each beside 100 bytes of the page before it, which need not wait. Without the byte
  // rule this failed about one run in five.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  constexpr std::size_t kSize = 256 << 10;
  File f = File::create(dir / "page");
  auto direct = std::make_shared<File>(*open_direct(f));
  auto cached = std::make_shared<File>(*keras64::detail::open_cached(f));
  DirectQueue queue(kSize, 4);
  for (unsigned round = 1; round <= 500; ++round) {
    unsigned char* buf = queue.acquire();
    std::memset(buf, static_cast<int>(round % 251), 100);
    queue.submit(direct, buf, 0, 0, cached, 100);
    buf = queue.acquire();
    std::memset(buf, static_cast<int>(round % 241), kSize);
    queue.submit(direct, buf, 0, 100, cached, kSize);
  }
  queue.wait();
  const std::string got = keras64::test::read_file(dir / "page");
  ASSERT_EQ(got.size(), 100 + kSize);
  EXPECT_EQ(got.substr(0, 100), std::string(100, static_cast<char>(500 % 251)));
  EXPECT_TRUE(got.substr(100) == std::string(kSize, static_cast<char>(500 % 241)));
}

TEST(DirectWrites, ManyFilesShareOneQueue) {
  // A directory output: every file gets its own O_DIRECT descriptor, its last blocks still in
  // flight while the next file is written; drain() waits for all of them.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  Writeback wb(65536, 2, 100'000);
  std::vector<std::string> want;
  for (unsigned i = 0; i < 60; ++i) {
    want.push_back(random_bytes(i % 5 == 0 ? 3'000'000 : 1 + i * 3701 % 20000, i));
    File f = File::create(dir / ("f" + std::to_string(i)));
    BufferedWriter w(f, wb, 4096);
    for (std::size_t at = 0; at < want.back().size(); at += 99999)
      w.write(want.back().data() + at, std::min<std::size_t>(99999, want.back().size() - at));
    w.finish();
    wb.keep(std::move(f));
  }
  wb.drain();
  for (unsigned i = 0; i < want.size(); ++i)
    EXPECT_TRUE(keras64::test::read_file(dir / ("f" + std::to_string(i))) == want[i]) << i;
}

TEST(DirectWrites, OnTmpfsTheBytesAreRightEitherWay) {
  // tmpfs refused O_DIRECT at open() before Linux 6.6 and takes it (as buffered I/O) since:
  // either way the writer must produce the same bytes.
  const std::filesystem::path shm = "/dev/shm";
  if (!std::filesystem::is_directory(shm) || !on_tmpfs(shm)) GTEST_SKIP() << "no tmpfs at /dev/shm";
  const auto path = shm / ("keras64-direct-test-" + std::to_string(::getpid()));
  const std::string data = random_bytes(3'000'000, 6);
  bool direct = false;
  {
    File f = File::create(path);
    Writeback wb(65536, 2, 0);
    BufferedWriter w(f, wb, 4096);
    w.write(data.data(), data.size());
    direct = w.direct();
    w.finish();
    wb.drain();
  }
  const std::string got = keras64::test::read_file(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(got == data) << (direct ? "with" : "without") << " O_DIRECT";
}

TEST(DirectWrites, RefusedOnceNotAskedAgain) {
  Writeback wb(65536, 2, 0);
  ASSERT_NE(wb.direct(), nullptr);
  wb.refuse_direct();  // what a writer does when open_direct() fails
  EXPECT_EQ(wb.direct(), nullptr);
  Writeback never(65536, 2, std::nullopt);
  never.wrote_direct(std::uint64_t{1} << 40);
  EXPECT_EQ(never.direct(), nullptr);
  Writeback later(65536, 2, 1000);
  later.wrote_direct(999);
  EXPECT_EQ(later.direct(), nullptr);
  later.wrote_direct(1);
  EXPECT_NE(later.direct(), nullptr);
}

// Sets KERAS64_WRITER for one scope (null: unset), then puts back what was there.
class WriterEnv {
 public:
  explicit WriterEnv(const char* mode) {
    if (const char* v = std::getenv(kName)) old_ = v;
    if (mode != nullptr)
      ::setenv(kName, mode, 1);
    else
      ::unsetenv(kName);
  }
  ~WriterEnv() {
    if (old_)
      ::setenv(kName, old_->c_str(), 1);
    else
      ::unsetenv(kName);
  }
  WriterEnv(const WriterEnv&) = delete;
  WriterEnv& operator=(const WriterEnv&) = delete;

 private:
  static constexpr const char* kName = "KERAS64_WRITER";
  std::optional<std::string> old_;
};

TEST(DirectWrites, ODirectAtAnySizeUnlessKeras64WriterSaysPageCache) {
  const auto direct = [] {
    Writeback wb(65536, 2);                   // what every writer makes: the environment decides
    wb.wrote_direct(std::uint64_t{1} << 40);  // a terabyte in: still O_DIRECT
    return wb.direct() != nullptr;
  };
  {
    const WriterEnv unset(nullptr);
    EXPECT_TRUE(direct());
  }
  {
    const WriterEnv explicit_direct("direct");
    EXPECT_TRUE(direct());
  }
  {
    const WriterEnv page_cache("page-cache");
    EXPECT_FALSE(direct());
  }
}

TEST(DirectWrites, AWriteRefusedWithODirectIsDoneWithoutIt) {
  // O_DIRECT taken at open() but a write refused (EINVAL: the device wants another alignment):
  // here forced by an offset O_DIRECT cannot take. The bytes still arrive; refused() tells.
  ScratchDir dir;
  REQUIRE_DIRECT(dir);
  const auto path = dir / "refused";
  File f = File::create(path);
  std::optional<File> d = open_direct(f);
  ASSERT_TRUE(d);
  DirectQueue q(4096, 2);
  unsigned char* buf = q.acquire();
  for (std::size_t i = 0; i < 4096; ++i) buf[i] = static_cast<unsigned char>(i * 7);
  q.submit(std::make_shared<File>(std::move(*d)), buf, 4096, 100);
  q.wait();
  EXPECT_TRUE(q.refused());
  const std::string got = keras64::test::read_file(path);
  ASSERT_EQ(got.size(), 4196U);
  for (std::size_t i = 0; i < 4096; ++i)
    ASSERT_EQ(static_cast<unsigned char>(got[100 + i]), static_cast<unsigned char>(i * 7)) << i;
}

TEST(DirectWrites, AFailedWriteOnTheQueueNamesTheFile) {
  // Whole blocks past the limit, or only a run's last partial block (written through the page
  // cache on the worker): either fails on a worker thread and is seen at a later call.
  constexpr std::size_t k = DirectQueue::kAlign;
  for (const auto& [size, cap] : {std::pair<std::size_t, std::size_t>{5'000'000, 1'000'000},
                                  std::pair<std::size_t, std::size_t>{2 * k + 10, 2 * k + 5}}) {
    ScratchDir dir;
    REQUIRE_DIRECT(dir);
    const auto path = dir / "big.npy";
    File f = File::create(path);
    Writeback wb(65536, 2, 0);
    BufferedWriter w(f, wb, 4096);
    const std::string data = random_bytes(size, 7);
    keras64::test::FileSizeLimit limit(cap);
    expect_error(
        [&] {
          w.write(data.data(), data.size());
          w.finish();
          wb.drain();
        },
        Errc::io, path.string() + ": write failed: File too large");
  }
}

}  // namespace
