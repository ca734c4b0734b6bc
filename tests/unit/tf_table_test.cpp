// The TensorFlow table and bundle layers (detail/tf_table, detail/tf_bundle, detail/crc32c) on
// files written by real TensorFlow 2.21 (tests/data/tf/make_tf.py) and on blocks built here.
#include "detail/tf_table.hpp"

#include <gtest/gtest.h>
#include <snappy-c.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "detail/crc32c.hpp"
#include "detail/tf_bundle.hpp"
#include "keras64/error.hpp"

namespace {

using namespace keras64;
using namespace keras64::detail;

const std::string kTf = std::string(KERAS64_TEST_DATA) + "/tf";

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A block as the table builder writes it: contents, type, masked CRC32C of both.
std::string block(const std::string& contents, char type) {
  std::string b = contents + type;
  const std::uint32_t crc = crc32c_mask(crc32c(b.data(), b.size()));
  b.append(reinterpret_cast<const char*>(&crc), 4);
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Crc32c, StandardVectorAndMask) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(crc32c("1234", 4), "56789", 5), 0xE3069283u);  // continues
  for (std::uint32_t v : {0u, 1u, 0xE3069283u, 0xffffffffu})
    EXPECT_EQ(crc32c_unmask(crc32c_mask(v)), v);
  EXPECT_EQ(crc32c_mask(0), 0xa282ead8u);
}

TEST(TfTable, ParsesBlockEntriesWithSharedPrefixes) {
  // "" -> "h"; "abc" -> "1"; "abd" (shares 2) -> "22"; one restart at 0.
  std::string c;
  c += std::string("\0\0\1h", 4);
  c += std::string("\0\3\1abc1", 7);
  c += std::string("\2\1\2d22", 6);
  c += std::string("\0\0\0\0\1\0\0\0", 8);
  std::vector<tf::TableEntry> out;
  tf::parse_block(c, out, "b");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].key, "abd");
  EXPECT_EQ(out[2].value, "22");
  // A key sharing more than the previous key has, and out-of-order keys, are corrupt.
  std::string bad = c;
  bad[11] = '\5';
  std::vector<tf::TableEntry> fresh;
  EXPECT_EQ(error_of([&] { tf::parse_block(bad, fresh, "b"); }),
            "b: entry shares 5 bytes with a previous key of 3");
  std::vector<tf::TableEntry> again{{"zzz", ""}};
  EXPECT_EQ(error_of([&] { tf::parse_block(c, again, "b"); }), "b: keys out of order");
  EXPECT_EQ(error_of([&] { tf::parse_block(std::string("\0\0\0\0\7\0\0\0", 8), fresh, "b"); }),
            "b: 7 restart points in a block of 8 bytes");
}

TEST(TfTable, SnappyBlocksAndChecksums) {
  const std::string contents(std::string(300, 'x') + std::string("\0\0\0\0\1\0\0\0", 8));
  std::string packed(snappy_max_compressed_length(contents.size()), '\0');
  std::size_t n = packed.size();
  ASSERT_EQ(snappy_compress(contents.data(), contents.size(), packed.data(), &n), SNAPPY_OK);
  packed.resize(n);
  const std::string b = block(packed, '\1');
  EXPECT_EQ(tf::read_block(b, 0, packed.size(), "blk"), contents);
  std::string flipped = b;
  flipped[3] ^= 0x10;
  EXPECT_EQ(error_of([&] { tf::read_block(flipped, 0, packed.size(), "blk"); }),
            "blk: block checksum mismatch (CRC32C)");
  EXPECT_EQ(error_of([&] { tf::read_block(block("abc", '\2'), 0, 3, "blk"); }),
            "blk: unknown block type 2");
  EXPECT_EQ(error_of([&] { tf::read_block(b, 0, packed.size() + 1, "blk"); }),
            "blk: block [0, +" + std::to_string(packed.size() + 1) +
                "] and its trailer run past the end of the file (" + std::to_string(b.size()) +
                " bytes)");
  // A snappy stream claiming more than the cap is refused before allocating.
  EXPECT_EQ(error_of([&] { tf::snappy_uncompress(std::string("\xff\xff\xff\xff\x0f", 5), 1000); }),
            "snappy: uncompressed size 4294967295 is over the limit of 1000 bytes");
  EXPECT_EQ(error_of([&] { tf::snappy_uncompress(std::string("\x05\x00", 2), 1000); }),
            "snappy: damaged compressed data");
}

TEST(TfTable, RealIndexFromTensorFlow) {
  const std::string index = slurp(kTf + "/tf1_saver/model.ckpt-7.index");
  const auto entries = tf::read_table(index);
  ASSERT_GT(entries.size(), 5u);
  EXPECT_EQ(entries[0].key, "");  // the bundle header comes first
  for (std::size_t i = 1; i < entries.size(); ++i) EXPECT_LT(entries[i - 1].key, entries[i].key);
  std::string bad = index;
  bad[bad.size() - 48 + 30] = '\1';  // footer padding
  EXPECT_EQ(error_of([&] { tf::read_table(bad); }), "index: footer padding is not zero");
  bad = index;
  bad[10] ^= 1;  // inside the data block
  EXPECT_EQ(error_of([&] { tf::read_table(bad); }),
            "index: data block 0: block checksum mismatch (CRC32C)");
  EXPECT_EQ(error_of([&] { tf::read_table(index.substr(0, 40)); }),
            "index: file of 40 bytes is too short for a table footer");
}

TEST(TfBundle, PartitionedVariableAndTwoShards) {
  tf::Bundle b(kTf + "/tf1_saver/model.ckpt-7", "ckpt");
  EXPECT_EQ(b.num_shards(), 2u);
  EXPECT_FALSE(b.big_endian());
  const tf::BundleEntry* e = b.find("dnn/embed");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape, (Shape{5, 3}));
  ASSERT_EQ(e->slices.size(), 2u);
  ASSERT_EQ(e->slice_entries.size(), 2u);
  // The slice keys TF wrote are the ones encode_slice_key derives.
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& se = b.entries()[e->slice_entries[i]];
    EXPECT_TRUE(se.is_slice);
    EXPECT_EQ(se.key, tf::encode_slice_key("dnn/embed", e->slices[i]));
  }
  std::set<std::uint32_t> shards;
  for (const auto& x : b.entries()) shards.insert(x.shard);
  EXPECT_EQ(shards.size(), 2u);
}

TEST(TfBundle, BigEndianHeader) {
  // tests/data/tf/make_big_endian.py's rewrite of tf1_saver; its values are checked bit for bit
  // against TensorFlow's by the integration tests.
  tf::Bundle b(kTf + "/tf1_saver_be/model.ckpt-7", "ckpt");
  EXPECT_TRUE(b.big_endian());
  EXPECT_EQ(b.num_shards(), 2u);
  const tf::BundleEntry* e = b.find("vocab");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(b.read_strings(static_cast<std::size_t>(e - b.entries().data()), 1 << 20).size(),
            element_count(e->shape));
}

TEST(TfBundle, SliceKeyEncoding) {
  // OrderedCode: 00 | name escaped + 00 01 | rank | per dim signed(start) signed(length).
  EXPECT_EQ(tf::encode_slice_key("a", {{0, -1}, {3, 2}}),
            std::string("\x00"
                        "a\x00\x01\x01\x02\x80\x7f\x83\x82",
                        10));
  // Signed numbers of two and three bytes (ordered_code.cc: 64 -> c0 40, 8192 -> e0 20 00).
  EXPECT_EQ(tf::encode_slice_key("", {{64, 8192}}),
            std::string("\x00\x00\x01\x01\x01\xc0\x40\xe0\x20\x00", 10));
}

// A tensor read in order is read once, its CRC checked as the bytes pass: damage in its last
// chunk is reported by the call reading that chunk (earlier ones return), damage read out of
// order at once (the whole entry is checked first), and verify() catches an entry read only in
// part.
TEST(TfBundle, ChecksumAsTheBytesPass) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("k64_tfbundle_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"ckpt.index", "ckpt.data-00000-of-00001"})
    fs::copy_file(kTf + "/tfkeras_ckpt/" + f, dir / f);
  const std::string key = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE";
  const std::string prefix = (dir / "ckpt").string();
  std::string whole(48, '\0'), chunks(48, '\0');
  std::size_t idx = 0;
  {
    tf::Bundle b(prefix, "ckpt");
    const tf::BundleEntry* e = b.find(key);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->size, 48u);
    idx = static_cast<std::size_t>(e - b.entries().data());
    for (std::uint64_t at = 0; at < 48; at += 12) b.read(idx, at, 12, chunks.data() + at);
    tf::Bundle b2(prefix, "ckpt");
    b2.read(idx, 0, 48, whole.data());
    EXPECT_EQ(whole, chunks);
    // flip a bit of the tensor's last byte
    std::fstream f(dir / "ckpt.data-00000-of-00001",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(e->offset + 47));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x04);
    f.seekp(static_cast<std::streamoff>(e->offset + 47));
    f.write(&c, 1);
  }
  const std::string want = "ckpt:" + key + ": data checksum mismatch (CRC32C)";
  {
    tf::Bundle b(prefix, "ckpt");
    for (std::uint64_t at = 0; at < 36; at += 12)
      EXPECT_EQ(error_of([&] { b.read(idx, at, 12, chunks.data() + at); }), "no error");
    EXPECT_EQ(error_of([&] { b.read(idx, 36, 12, chunks.data() + 36); }), want);
  }
  {
    tf::Bundle b(prefix, "ckpt");
    EXPECT_EQ(error_of([&] { b.read(idx, 12, 12, chunks.data()); }), want);  // out of order
  }
  {
    tf::Bundle b(prefix, "ckpt");
    EXPECT_EQ(error_of([&] { b.read(idx, 0, 12, chunks.data()); }), "no error");
    EXPECT_EQ(error_of([&] { b.verify(idx); }), want);  // read in part: checked on demand
  }
  fs::remove_all(dir);
}

}  // namespace
