// .npy headers: byte-identical to numpy's np.save (checked against Debian's numpy), and a parser
// that accepts what numpy accepts and rejects hostile headers with precise errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "keras64/error.hpp"
#include "scratch_dir.hpp"

using keras64::DType;
using keras64::Errc;
using keras64::Error;
using keras64::Shape;
using keras64::detail::npy_header;
using keras64::detail::parse_npy_header;
using keras64::test::ScratchDir;

namespace {

struct Case {
  std::string descr;
  Shape shape;
};

std::vector<Case> header_cases() {
  std::vector<Case> cases = {
      {"<f8", {}},
      {"<f8", {0}},
      {"<f8", {3}},
      {"<f8", {5, 10}},
      {"<f4", {2, 3, 4}},
      {"<f2", {7}},
      {"|i1", {4}},
      {"|u1", {1, 1, 1, 1, 1, 1, 1, 1}},
      {"<i2", {3}},
      {"<i4", {0, 5}},
      {"<i8", {3, 0}},
      {"<u2", {9}},
      {"<u4", {2}},
      {"<u8", {1}},
      {"|b1", {2, 2}},
      {">f8", {5}},
      {">i4", {2, 2}},
      {"<f8", {1000000000000, 3}},
      {"<f8", {18446744073709551615ull}},  // 20 digits: the growth padding shrinks to 1 space
      {"<f8", {123456789012345678ull, 2}},
  };
  // Every rank up to 40 with dimensions of 1, 2 and 6 digits walks the header length through
  // all residues mod 64, including numpy's full 64-byte pad when the text is already aligned.
  for (std::uint64_t d : {1ull, 12ull, 123456ull})
    for (std::size_t rank = 1; rank <= 40; ++rank) cases.push_back({"<f8", Shape(rank, d)});
  cases.push_back({"<f8", Shape(22000, 1)});  // header > 65535 bytes: format 2.0
  return cases;
}

bool saved_by_np_save(const Case& c) {
  // Small arrays go through np.save itself; others through the header writer np.save calls.
  if (c.shape.size() > 32) return false;
  std::uint64_t n = 1;
  for (auto d : c.shape) {
    if (d > (1u << 20)) return false;
    n = std::min<std::uint64_t>(n * d, 1u << 20);
  }
  return n * 8 <= (1u << 20);
}

constexpr const char* kNumpyHeaders = R"PY(
import json, sys, warnings
import numpy as np
from numpy.lib import format as fmt
cases = json.load(open(sys.argv[1]))
for k, c in enumerate(cases):
    shape, dt = tuple(c["shape"]), np.dtype(c["descr"])
    path = "%s/case_%d.npy" % (sys.argv[2], k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Stored array in format 2.0"
        if c["np_save"]:
            np.save(path, np.zeros(shape, dtype=dt))
        else:
            with open(path, "wb") as f:
                fmt._write_array_header(f, {"descr": fmt.dtype_to_descr(dt),
                                            "fortran_order": False, "shape": shape}, None)
print("ok", len(cases))
)PY";

// A version 1.0 header around `dict` (no padding rules applied: the parser does not need them).
std::string v1(const std::string& dict) {
  std::string h = "\x93NUMPY\x01";
  h += '\0';
  h += static_cast<char>(dict.size() & 0xFF);
  h += static_cast<char>(dict.size() >> 8);
  return h + dict;
}

void expect_error(const std::string& bytes, Errc code, const std::string& message) {
  try {
    parse_npy_header(bytes.data(), bytes.size());
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(std::string(e.what()), message);
  }
}

const std::string kDict = "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 10), }";

}  // namespace

TEST(NpyFormat, HeaderIsByteIdenticalToNumpy) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  const auto cases = header_cases();
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : cases)
    j.push_back({{"descr", c.descr}, {"shape", c.shape}, {"np_save", saved_by_np_save(c)}});
  keras64::test::write_file(dir / "cases.json", j.dump());
  const auto r = keras64::test::run_python(dir, kNumpyHeaders,
                                           {(dir / "cases.json").string(), dir.path().string()});
  ASSERT_EQ(r.status, 0) << r.output;

  bool saw_v2 = false, saw_full_pad = false;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto& c = cases[k];
    const std::string ours = npy_header(c.descr, c.shape);
    const std::string theirs =
        keras64::test::read_file(dir / ("case_" + std::to_string(k) + ".npy"));
    ASSERT_GE(theirs.size(), ours.size()) << c.descr << keras64::shape_string(c.shape);
    EXPECT_EQ(theirs.substr(0, ours.size()), ours)
        << "case " << k << ": " << c.descr << " " << keras64::shape_string(c.shape).substr(0, 80);
    EXPECT_EQ(ours.size() % 64, 0u);
    if (saved_by_np_save(c)) {
      std::uint64_t n =
          keras64::element_count(c.shape) * static_cast<std::uint64_t>(c.descr[2] - '0');
      EXPECT_EQ(theirs.size(), ours.size() + n) << "case " << k;
    } else {
      EXPECT_EQ(theirs.size(), ours.size()) << "case " << k;
    }
    saw_v2 |= ours[6] == 2;
    saw_full_pad |=
        ours.size() >= 66 && ours.compare(ours.size() - 65, 65, std::string(64, ' ') + "\n") == 0;
  }
  EXPECT_TRUE(saw_v2);
  EXPECT_TRUE(saw_full_pad);
}

TEST(NpyFormat, HeaderKnownBytes) {
  const std::string h = npy_header(DType::f64, {5, 10});
  ASSERT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(h.substr(10, kDict.size()), kDict);
  EXPECT_EQ(h.back(), '\n');
  // bfloat16 has no numpy dtype: its bit patterns are stored as uint16.
  EXPECT_NE(npy_header(DType::bf16, {2}).find("'descr': '<u2'"), std::string::npos);
  EXPECT_NE(
      npy_header(DType::boolean, {}).find("'descr': '|b1', 'fortran_order': False, 'shape': (), }"),
      std::string::npos);
}

TEST(NpyFormat, ParsesWhatItWrites) {
  for (const auto& c : header_cases()) {
    if (c.shape.size() > keras64::detail::kNpyMaxRank) continue;
    const std::string h = npy_header(c.descr, c.shape);
    std::uint64_t elems;
    try {
      elems = keras64::element_count(c.shape);
    } catch (const Error&) {
      continue;  // the 2^64 - 1 dimension: covered by the overflow test
    }
    const auto p = parse_npy_header(h.data(), h.size());
    EXPECT_EQ(p.shape, c.shape);
    EXPECT_EQ(p.data_offset, h.size());
    EXPECT_EQ(p.big_endian, c.descr[0] == '>');
    EXPECT_FALSE(p.fortran_order);
    EXPECT_EQ(keras64::info(p.dtype).npy_descr.substr(1), c.descr.substr(1));
    EXPECT_EQ(p.nbytes, elems * keras64::info(p.dtype).size);
    EXPECT_EQ(keras64::detail::npy_header_length(h.data(), keras64::detail::kNpyPrefixBytes),
              h.size());
  }
}

TEST(NpyFormat, ParserAcceptsWhatNumpyAccepts) {
  auto p = parse_npy_header(
      v1("{\"shape\":(3L,4L),\"fortran_order\":True,\"descr\":\">i8\"}  \n").data(), 200);
  EXPECT_EQ(p.shape, (Shape{3, 4}));
  EXPECT_TRUE(p.fortran_order);
  EXPECT_TRUE(p.big_endian);
  EXPECT_EQ(p.dtype, DType::i64);
  p = parse_npy_header(
      v1("{ 'descr' : '|b1' ,\n 'fortran_order' : False , 'shape' : ( ) , }").data(), 200);
  EXPECT_EQ(p.dtype, DType::boolean);
  EXPECT_TRUE(p.shape.empty());
  EXPECT_EQ(p.nbytes, 1u);
  p = parse_npy_header(v1("{'descr': '<i1', 'fortran_order': False, 'shape': (0, 7,)}").data(),
                       200);
  EXPECT_EQ(p.nbytes, 0u);
  EXPECT_FALSE(p.big_endian);
  p = parse_npy_header(v1("{'descr': '>u1', 'fortran_order': False, 'shape': (2,)}").data(), 200);
  EXPECT_FALSE(p.big_endian);  // byte order means nothing for one byte
}

TEST(NpyFormat, ParserErrors) {
  const std::string good = v1(kDict);
  expect_error("PK\x03\x04 nope", Errc::corrupt, "npy header: not a .npy file (bad magic)");
  expect_error(good.substr(0, 9), Errc::corrupt, "npy header: truncated (9 bytes)");
  expect_error(good.substr(0, 40), Errc::corrupt,
               "npy header: truncated: header needs 70 bytes, have 40");
  std::string v4 = good;
  v4[6] = 4;
  expect_error(v4, Errc::unsupported, "npy header: unsupported format version 4.0");
  expect_error(std::string("\x93NUMPY\x02\x00\x01\x00\x20\x00", 12), Errc::corrupt,
               "npy header: header length 2097153 exceeds the limit of 1048576 bytes");
  expect_error(v1("{'descr': '<f8', 'shape': (5, 10), }"), Errc::corrupt,
               "npy header: missing key 'fortran_order'");
  expect_error(v1("{'descr': '<f8', 'descr': '<f8', }"), Errc::corrupt,
               "npy header: duplicate key 'descr' at byte 27");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (5, 10), 'x': 1}"),
               Errc::corrupt, "npy header: unexpected key 'x' at byte 69");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3)}"), Errc::corrupt,
               "npy header: a 1-element shape needs a trailing comma at byte 62");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}"), Errc::corrupt,
               "npy header: negative dimension at byte 61");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
               Errc::corrupt, "npy header: dimension is too large at byte 61");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"),
               Errc::corrupt, "npy header: shape (4294967296, 4294967296) is too large");
  expect_error(v1("{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}"), Errc::corrupt,
               "npy header: expected True or False for 'fortran_order' at byte 44");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x"), Errc::corrupt,
               "npy header: unexpected bytes after the header dict at byte 66");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False 'shape': (3,)}"), Errc::corrupt,
               "npy header: expected ',' or '}' after the value of 'fortran_order' at byte 50");
  expect_error(v1("{'descr': '<f8, 'fortran_order': False}"), Errc::corrupt,
               "npy header: invalid dtype '<f8, ' at byte 20");
  expect_error(v1("{'descr': 'f8', 'fortran_order': False, 'shape': (3,)}"), Errc::corrupt,
               "npy header: invalid dtype 'f8' at byte 20");
  expect_error(v1("{'descr': '<c16', 'fortran_order': False, 'shape': (3,)}"), Errc::unsupported,
               "npy header: unsupported dtype '<c16' at byte 20");
  expect_error(v1("{'descr': '|f8', 'fortran_order': False, 'shape': (3,)}"), Errc::unsupported,
               "npy header: unsupported dtype '|f8' at byte 20");
  expect_error(v1("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}"),
               Errc::unsupported, "npy header: structured dtypes are not supported (byte 20)");
  expect_error(v1("{'descr': '\x1b[31m', 'fortran_order': False, 'shape': (3,)}"), Errc::corrupt,
               "npy header: invalid dtype '\\x1b[31m' at byte 20");
  std::string deep = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < 65; ++i) deep += "1, ";
  expect_error(v1(deep + ")}"), Errc::corrupt,
               "npy header: shape has more than 64 dimensions at byte " +
                   std::to_string(10 + deep.size() - 3));
}

TEST(NpyFormat, ReadFromFileNamesThePath) {
  ScratchDir dir;
  const std::string h = npy_header(DType::f32, {2, 2});
  keras64::test::write_file(dir / "ok.npy", h + std::string(16, '\0'));
  keras64::test::write_file(dir / "short.npy", h.substr(0, 70));
  const auto f = keras64::detail::File::open_read(dir / "ok.npy");
  const auto p = keras64::detail::read_npy_header(f);
  EXPECT_EQ(p.dtype, DType::f32);
  EXPECT_EQ(p.data_offset, 128u);
  try {
    keras64::detail::read_npy_header(keras64::detail::File::open_read(dir / "short.npy"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt);
    EXPECT_EQ(
        std::string(e.what()),
        (dir / "short.npy").string() + ": truncated: file is shorter than its 128-byte npy header");
  }
}

// A cheap stand-in for the fuzzer: mutated headers either parse or throw keras64::Error.
TEST(NpyFormat, MutatedHeadersNeverEscapeAsOtherErrors) {
  std::mt19937 rng(12345);
  const std::string base = npy_header(DType::f32, {7, 3, 2});
  const std::string alphabet = "{}()[],:'\" 0123456789LTrueFalse<>|fiub\n";
  for (int iter = 0; iter < 50000; ++iter) {
    std::string h = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % h.size();
      switch (rng() % 4) {
        case 0:
          h[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          h[at] = static_cast<char>(rng());
          break;
        case 2:
          h.erase(at, 1 + rng() % 4);
          break;
        default:
          h.resize(at);
          break;
      }
      if (h.empty()) h = base;
    }
    try {
      const auto p = parse_npy_header(h.data(), h.size());
      EXPECT_LE(p.data_offset, h.size());
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == Errc::corrupt || e.code() == Errc::unsupported) << e.what();
    }
  }
}
