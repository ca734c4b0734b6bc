// The streaming ZIP writer: Python's zipfile (what np.load uses) and Info-ZIP's unzip read what
// it writes, stored and deflated, with and without ZIP64 (forced by a low threshold).
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "detail/zip_writer.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::detail::File;
using keras64::detail::ZipWriter;
using keras64::test::expect_error;
using keras64::test::ScratchDir;

namespace {

struct Member {
  std::string name;
  ZipWriter::Method method;
  std::string data;
};

std::vector<Member> sample_members() {
  std::mt19937 rng(7);
  std::string random(300000, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  std::string pattern;
  for (int i = 0; i < 100000; ++i) pattern += static_cast<char>("keras64"[i % 7] + i / 7000);
  return {
      {"empty_stored.npy", ZipWriter::Method::stored, ""},
      {"weight_0.npy", ZipWriter::Method::stored, "hello, zip"},
      {"compressible.bin", ZipWriter::Method::deflate, pattern},
      {"random.bin", ZipWriter::Method::deflate, random},  // deflate expands it slightly
      {"empty_deflated", ZipWriter::Method::deflate, ""},
      {"dir/h\xc3\xa9llo w\xc3\xb6rld.npy", ZipWriter::Method::stored, random.substr(0, 5000)},
  };
}

void write_zip(const std::filesystem::path& path, const std::vector<Member>& members,
               std::uint64_t threshold = ZipWriter::kZip64Limit, std::size_t chunk = 4096,
               int level = -1) {
  File f = File::create(path);
  ZipWriter zip(f, "out.zip", threshold);
  for (const auto& m : members) {
    zip.begin_member(m.name, m.data.size(), m.method, level);
    for (std::size_t at = 0; at < m.data.size(); at += chunk)
      zip.write(m.data.data() + at, std::min(chunk, m.data.size() - at));
    zip.end_member();
  }
  zip.finish();
  EXPECT_EQ(zip.bytes_written(), f.size());
  f.close();
}

constexpr const char* kReadZip = R"PY(
import json, sys, zipfile
path, expected = sys.argv[1], json.load(open(sys.argv[2]))
out = []
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    assert bad is None, "bad CRC in %s" % bad
    for zi, want in zip(z.infolist(), expected):
        out.append({"name": zi.filename, "method": zi.compress_type, "size": zi.file_size,
                    "csize": zi.compress_size, "utf8": bool(zi.flag_bits & 0x800),
                    "zip64": zi.extra[:2] == b"\x01\x00", "date": list(zi.date_time),
                    "ok": z.read(zi) == open(want, "rb").read()})
    count = len(z.infolist())
raw = open(path, "rb").read()
print(json.dumps({"count": count, "members": out, "end64": raw[-42:-38] == b"PK\x06\x07"}))
)PY";

// Reads `zip` with Python's zipfile (and unzip -t when installed); returns what Python saw.
nlohmann::json read_with_python(const ScratchDir& dir, const std::filesystem::path& zip,
                                const std::vector<Member>& members) {
  nlohmann::json expected = nlohmann::json::array();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto p = dir / ("expected_" + std::to_string(i));
    keras64::test::write_file(p, members[i].data);
    expected.push_back(p.string());
  }
  keras64::test::write_file(dir / "expected.json", expected.dump());
  const auto r =
      keras64::test::run_python(dir, kReadZip, {zip.string(), (dir / "expected.json").string()});
  EXPECT_EQ(r.status, 0) << r.output;
  if (std::filesystem::exists("/usr/bin/unzip")) {
    const auto u = keras64::test::run_command("/usr/bin/unzip -tq " +
                                              keras64::test::shell_quote(zip.string()));
    EXPECT_EQ(u.status, 0) << u.output;
  }
  return r.status == 0 ? nlohmann::json::parse(r.output) : nlohmann::json{};
}

void check_members(const nlohmann::json& seen, const std::vector<Member>& members) {
  ASSERT_EQ(seen["count"], members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& s = seen["members"][i];
    EXPECT_EQ(s["name"], members[i].name);
    EXPECT_EQ(s["method"], static_cast<int>(members[i].method));
    EXPECT_EQ(s["size"], members[i].data.size());
    EXPECT_TRUE(s["ok"].get<bool>()) << members[i].name;
    EXPECT_TRUE(s["utf8"].get<bool>());
    EXPECT_EQ(s["date"], nlohmann::json({1980, 1, 1, 0, 0, 0}));
  }
}

}  // namespace

TEST(ZipWriter, PythonReadsStoredAndDeflatedMembers) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  const auto members = sample_members();
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
    const auto zip = dir / ("plain_" + std::to_string(chunk) + ".zip");
    write_zip(zip, members, ZipWriter::kZip64Limit, chunk);
    const auto seen = read_with_python(dir, zip, members);
    check_members(seen, members);
    EXPECT_FALSE(seen["end64"].get<bool>());
    for (const auto& s : seen["members"]) EXPECT_FALSE(s["zip64"].get<bool>()) << s["name"];
    EXPECT_LT(seen["members"][2]["csize"].get<std::uint64_t>(), 50000u);  // it did compress
  }
}

TEST(ZipWriter, Zip64ForcedEverywhere) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  const auto members = sample_members();
  write_zip(dir / "z64.zip", members, /*threshold=*/0);
  const auto seen = read_with_python(dir, dir / "z64.zip", members);
  check_members(seen, members);
  EXPECT_TRUE(seen["end64"].get<bool>());
  for (const auto& s : seen["members"]) EXPECT_TRUE(s["zip64"].get<bool>()) << s["name"];
}

TEST(ZipWriter, Zip64MixedThreshold) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  // At 150,000 bytes: small members early in the file need nothing, the big random member needs
  // ZIP64 sizes, the members after it need ZIP64 offsets, and so does the central directory.
  const auto members = sample_members();
  write_zip(dir / "mixed.zip", members, /*threshold=*/150000);
  const auto seen = read_with_python(dir, dir / "mixed.zip", members);
  check_members(seen, members);
  EXPECT_TRUE(seen["end64"].get<bool>());
  const std::vector<bool> want = {false, false, false, true, true, true};
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(seen["members"][i]["zip64"].get<bool>(), want[i]) << i;
}

TEST(ZipWriter, InPlaceMemberWrittenOutOfOrder) {
  // The .keras sink's model.weights.h5: header by the writer, bytes by the caller in any order.
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  auto members = sample_members();
  const std::string body = members[3].data;  // 300,000 random bytes
  members.insert(members.begin() + 2, Member{"model.weights.h5", ZipWriter::Method::stored, body});
  for (std::uint64_t threshold : {ZipWriter::kZip64Limit, std::uint64_t{0}}) {
    const auto path = dir / ("in_place_" + std::to_string(threshold) + ".zip");
    File f = File::create(path);
    ZipWriter zip(f, "out.zip", threshold);
    for (const auto& m : members) {
      if (m.name != "model.weights.h5") {
        zip.begin_member(m.name, m.data.size(), m.method);
        zip.write(m.data.data(), m.data.size());
        zip.end_member();
        continue;
      }
      const std::uint64_t base = zip.begin_member_in_place(m.name, body.size());
      EXPECT_THROW(zip.write("x", 1), Error);
      for (std::size_t end = body.size(); end > 0;) {  // back to front, 7,001 bytes at a time
        const std::size_t from = end > 7001 ? end - 7001 : 0;
        zip.writer().seek(base + from);
        zip.writer().write(body.data() + from, end - from);
        end = from;
      }
      zip.end_member_in_place(static_cast<std::uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
    }
    zip.finish();
    EXPECT_EQ(zip.bytes_written(), f.size());
    f.close();
    check_members(read_with_python(dir, path, members), members);
  }
}

TEST(ZipWriter, ManyMembersAndLevels) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  std::vector<Member> members;
  for (int i = 0; i < 300; ++i)
    members.push_back({"weight_" + std::to_string(i) + ".npy",
                       i % 2 ? ZipWriter::Method::deflate : ZipWriter::Method::stored,
                       std::string(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26))});
  for (int level : {0, 1, 9}) {
    const auto zip = dir / ("levels_" + std::to_string(level) + ".zip");
    write_zip(zip, members, ZipWriter::kZip64Limit, 13, level);
    check_members(read_with_python(dir, zip, members), members);
  }
  // 300 members against a threshold of 200 forces the ZIP64 entry count.
  write_zip(dir / "count64.zip", members, 200);
  const auto seen = read_with_python(dir, dir / "count64.zip", members);
  check_members(seen, members);
  EXPECT_TRUE(seen["end64"].get<bool>());
}

TEST(ZipWriter, OutputIsDeterministic) {
  ScratchDir dir;
  const auto members = sample_members();
  write_zip(dir / "a.zip", members, ZipWriter::kZip64Limit, 1000);
  write_zip(dir / "b.zip", members, ZipWriter::kZip64Limit, 333);
  EXPECT_EQ(keras64::test::read_file(dir / "a.zip"), keras64::test::read_file(dir / "b.zip"));
}

TEST(ZipWriter, EmptyArchive) {
  ScratchDir dir;
  write_zip(dir / "empty.zip", {});
  EXPECT_EQ(keras64::test::read_file(dir / "empty.zip"),
            std::string("PK\x05\x06", 4) + std::string(18, '\0'));
}

TEST(ZipWriter, MisuseIsInternalError) {
  ScratchDir dir;
  File f = File::create(dir / "x.zip");
  ZipWriter zip(f, "x.zip");
  expect_error([&] { zip.write("a", 1); }, Errc::internal, "x.zip: zip write with no member open");
  expect_error([&] { zip.begin_member("a", 1, ZipWriter::Method::deflate, 10); },
               Errc::invalid_argument,
               "deflate level 10 is out of range (0-9, or -1 for the default)");
  zip.begin_member("a", 3, ZipWriter::Method::stored);
  expect_error([&] { zip.begin_member("b", 1, ZipWriter::Method::stored); }, Errc::internal,
               "x.zip: zip member b begun while another is open");
  expect_error([&] { zip.write("abcd", 4); }, Errc::internal,
               "x.zip:a: more data than the declared 3 bytes");
  zip.write("ab", 2);
  expect_error([&] { zip.end_member(); }, Errc::internal,
               "x.zip:a: member ended after 2 of its 3 bytes");
  expect_error([&] { zip.finish(); }, Errc::internal, "x.zip:a: zip finished with a member open");
  zip.write("c", 1);
  zip.end_member();
  zip.finish();
  expect_error([&] { zip.begin_member("c", 0, ZipWriter::Method::stored); }, Errc::internal,
               "x.zip: zip member c begun after finish()");
}

TEST(ZipWriter, WriteErrorNamesArchiveAndMember) {
  ScratchDir dir;
  File f = File::create(dir / "tmp-name.zip");
  ZipWriter zip(f, "out.npz");
  zip.begin_member("weight_3.npy", 100000, ZipWriter::Method::stored);
  const std::string data(100000, 'x');
  keras64::test::FileSizeLimit limit(4096);
  // Writes are buffered (detail::BufferedWriter), and with O_DIRECT done on other threads: the
  // error may surface at end_member(), in the next member or at finish(), and names the member
  // whose bytes failed wherever it surfaces.
  expect_error(
      [&] {
        zip.write(data.data(), data.size());
        zip.end_member();
        zip.begin_member("weight_4.npy", 10, ZipWriter::Method::stored);
        zip.write(data.data(), 10);
        zip.end_member();
        zip.finish();
      },
      Errc::io, "out.npz:weight_3.npy: write failed: File too large");
}
