// detail/file.hpp helpers beyond single calls: sync_files() fsyncs every file it is given,
// several at a time, and reports the first failure in the order given.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::detail::File;
using keras64::detail::sync_files;
using keras64::test::expect_error;
using keras64::test::ScratchDir;

namespace {

std::vector<std::filesystem::path> make_files(const ScratchDir& dir, unsigned n) {
  std::vector<std::filesystem::path> paths;
  for (unsigned i = 0; i < n; ++i) {
    paths.push_back(dir / ("f" + std::to_string(i)));
    File::create(paths.back()).write_all("x", 1);
  }
  return paths;
}

TEST(SyncFiles, SyncsEveryFileWithAnyNumberOfThreads) {
  ScratchDir dir;
  const auto paths = make_files(dir, 37);
  for (unsigned threads : {0u, 1u, 4u, 64u}) EXPECT_NO_THROW(sync_files(paths, threads));
  EXPECT_NO_THROW(sync_files({}));
}

TEST(SyncFiles, TheFirstFailureInTheOrderGivenIsReported) {
  ScratchDir dir;
  auto paths = make_files(dir, 20);
  std::filesystem::remove(paths[13]);
  std::filesystem::remove(paths[7]);
  expect_error([&] { sync_files(paths); }, Errc::io,
               paths[7].string() + ": cannot open: No such file or directory");
}

}  // namespace
