// detail::tf::build_table against TensorFlow's own TableBuilder: every `.index` file TensorFlow
// 2.21 wrote for the golden checkpoints and SavedModels (tests/data/tf, tests/data/interop/tfkeras)
// is re-encoded from its entries and must come back byte for byte; tables of many entries (several
// data blocks) read back through the reader.
#include "detail/tf_table_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "keras64/error.hpp"

namespace {

using namespace keras64::detail::tf;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(TfTableWriter, ReencodesEveryGoldenIndexByteForByte) {
  int n = 0;
  for (const char* dir : {"/tf", "/interop/tfkeras"})
    for (const auto& p : fs::recursive_directory_iterator(std::string(KERAS64_TEST_DATA) + dir))
      // tests/data/tf/*_be are rewritten by make_big_endian.py, not by TensorFlow.
      if (p.path().extension() == ".index" &&
          !p.path().parent_path().filename().string().ends_with("_be")) {
        const std::string file = slurp(p.path());
        EXPECT_EQ(build_table(read_table(file)), file) << p.path();
        ++n;
      }
  EXPECT_EQ(n, 35);  // 11 in tests/data/tf, 18 tf-keras ckpt + SavedModel, 2 pre_tf25, 4 no_traces
}

TEST(TfTableWriter, ManyEntriesSpanSeveralBlocksAndReadBack) {
  std::vector<TableEntry> entries;
  for (int i = 0; i < 5000; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "layer_%05d/kernel", i);
    entries.push_back({key, std::string(100 + i % 7, static_cast<char>('a' + i % 26))});
  }
  const std::string file = build_table(entries);
  EXPECT_GT(file.size(), std::size_t{2} * 262144);  // at least three data blocks
  const auto back = read_table(file);
  ASSERT_EQ(back.size(), entries.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].key, entries[i].key);
    EXPECT_EQ(back[i].value, entries[i].value);
  }
}

TEST(TfTableWriter, EmptyTableAndKeysOutOfOrder) {
  EXPECT_TRUE(read_table(build_table({})).empty());
  EXPECT_THROW(build_table({{"b", ""}, {"a", ""}}), keras64::Error);
  EXPECT_THROW(build_table({{"a", ""}, {"a", ""}}), keras64::Error);
}

}  // namespace
