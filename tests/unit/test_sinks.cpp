// The npy, npz, npz-deflate and memmap sinks, driven by keras64::convert from an in-memory
// source: identical bytes at every chunk size, numpy reads every output bit-exactly (and the
// .npy files equal np.save's), nothing is left behind on failure, errors name file and member.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "fake_source.hpp"
#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "keras64/sink.hpp"
#include "scratch_dir.hpp"
#include "sinks/sinks.hpp"
#include "sources/sources.hpp"

using keras64::CastMode;
using keras64::DType;
using keras64::Errc;
using keras64::Error;
using keras64::Role;
using keras64::TensorInfo;
using keras64::test::bytes_of;
using keras64::test::error_of;
using keras64::test::expect_error;
using keras64::test::FakeSource;
using keras64::test::ScratchDir;

namespace {

TensorInfo tensor(std::string name, DType dtype, keras64::Shape shape, Role role = Role::model) {
  TensorInfo t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.role = role;
  t.file = "fake.keras:model.weights.h5";
  t.dataset = "/" + t.name;
  t.layer = t.name.substr(0, t.name.find('/'));
  return t;
}

// Every kind of tensor a sink must handle: widened floats with special values, a scalar,
// zero-element tensors (also last), kept integers and bools, one that spans many chunks.
void add_sample_tensors(FakeSource& s) {
  std::vector<float> kernel(50);
  for (std::size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<float>(i) * 0.1f - 2.0f;
  kernel[3] = std::numeric_limits<float>::quiet_NaN();
  kernel[4] = std::numeric_limits<float>::infinity();
  kernel[5] = -std::numeric_limits<float>::infinity();
  kernel[6] = -0.0f;
  kernel[7] = std::numeric_limits<float>::denorm_min();
  kernel[8] = std::numeric_limits<float>::max();
  s.add(tensor("dense/vars/0", DType::f32, {5, 10}), bytes_of(kernel));
  s.add(tensor("dense/vars/1", DType::f32, {10}), bytes_of(std::vector<float>(10, 0.5f)));
  s.add(tensor("norm/vars/0", DType::f32, {}), bytes_of(std::vector<float>{3.25f}));
  s.add(tensor("empty/vars/0", DType::f32, {0, 5}), {});
  std::vector<std::uint16_t> half;
  for (std::uint16_t h : {0x0000, 0x8000, 0x0001, 0x03ff, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00,
                          0x3555, 0xc000, 0x1234})
    half.push_back(h);
  s.add(tensor("half/vars/0", DType::f16, {3, 4}), bytes_of(half));
  s.add(tensor("bf/vars/0", DType::bf16, {6}),
        bytes_of(std::vector<std::uint16_t>{0x3f80, 0xbf80, 0x0001, 0x7f80, 0x7fc0, 0x4049}));
  s.add(tensor("optimizer/iterations", DType::i64, {}, Role::optimizer),
        bytes_of(std::vector<std::int64_t>{123456789012345}));
  s.add(tensor("lookup/vars/0", DType::i32, {2, 3}),
        bytes_of(std::vector<std::int32_t>{1, -2, 3, -4, 5, 2147483647}));
  s.add(tensor("mask/vars/0", DType::boolean, {4}), {1, 0, 0, 1});
  std::vector<float> big(1000);
  std::mt19937 rng(3);
  for (auto& v : big) v = std::uniform_real_distribution<float>(-10, 10)(rng);
  s.add(tensor("big/vars/0", DType::f32, {10, 100}), bytes_of(big));
  s.add(tensor("bytes/vars/0", DType::u8, {3}), {0, 128, 255});
  s.add(tensor("empty_int/vars/0", DType::i8, {0}), {});
}

const std::vector<std::string> kFormats = {"npy", "npz", "npz-deflate", "memmap"};

bool is_dir_format(const std::string& f) {
  return f == "npy" || f == "memmap";
}

std::filesystem::path output_path(const ScratchDir& dir, const std::string& format,
                                  const std::string& tag = "out") {
  return dir / (is_dir_format(format) ? tag : tag + ".npz");
}

// Every file of an output, by name (one entry, "", for a single-file output).
std::map<std::string, std::string> snapshot(const std::filesystem::path& p) {
  std::map<std::string, std::string> files;
  if (std::filesystem::is_directory(p)) {
    for (const auto& e : std::filesystem::directory_iterator(p))
      files[e.path().filename()] = keras64::test::read_file(e.path());
  } else {
    files[""] = keras64::test::read_file(p);
  }
  return files;
}

keras64::ConvertReport run(FakeSource& src, const std::string& format,
                           const std::filesystem::path& out,
                           std::size_t chunk = keras64::ConvertOptions{}.chunk_bytes,
                           keras64::SinkOptions options = {}) {
  auto sink = keras64::open_sink(format, out, options);
  keras64::ConvertOptions co;
  co.chunk_bytes = chunk;
  return keras64::convert(src, *sink, co);
}

constexpr const char* kNumpyCheck = R"PY(
import io, json, os, sys, zipfile
import numpy as np
fmt, out, spec = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))

def expected(t):
    raw = open(t["src"], "rb").read()
    if t["bf16"]:
        a = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
    else:
        a = np.frombuffer(raw, t["src_descr"])
    return a.reshape(t["shape"]).astype(t["out_descr"])  # numpy's own widening: the oracle

def same(a, e, what):
    assert a.dtype == e.dtype, (what, a.dtype, e.dtype)
    assert a.shape == e.shape, (what, a.shape, e.shape)
    assert a.tobytes() == e.tobytes(), what

exp = [expected(t) for t in spec]
if fmt in ("npy", "memmap"):
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["format"] == "keras64" and m["version"] == 1 and m["output"]["format"] == fmt, m
    assert sorted(os.listdir(out)) == sorted(["manifest.json"] + [t["file"] for t in m["tensors"]])
    assert [t["index"] for t in m["tensors"]] == list(range(len(spec)))
    for i, (t, e) in enumerate(zip(m["tensors"], exp)):
        f = os.path.join(out, t["file"])
        raw = open(f, "rb").read()
        assert t["shape"] == list(e.shape) and t["nbytes"] == e.nbytes, (t, e.shape)
        assert raw[t["offset"]:] == e.tobytes(), f
        if fmt == "npy":
            assert t["file"] == "weight_%d.npy" % i
            same(np.load(f), e, f)
            b = io.BytesIO()
            np.save(b, e)
            assert b.getvalue() == raw, f + " differs from np.save"
        else:
            assert t["file"] == "weight_%d.dat" % i and t["offset"] == 0
            if e.nbytes == 0:
                assert len(raw) == 0 and t["file"] in m["output"]["note"]
            else:
                same(np.asarray(np.memmap(f, dtype=t["dtype"], mode="r", shape=tuple(t["shape"]))), e, f)
else:
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        method = zipfile.ZIP_DEFLATED if fmt == "npz-deflate" else zipfile.ZIP_STORED
        assert all(zi.compress_type == method for zi in z.infolist())
    d = np.load(out)
    assert d.files == ["weight_%d" % i for i in range(len(spec))], d.files
    weights = [d[k] for k in d.files]  # the recipe users have
    for i, (a, e) in enumerate(zip(weights, exp)):
        same(a, e, "weight_%d" % i)
print("ok")
)PY";

// Checks `out` with numpy against numpy's own conversion of the source bytes.
void check_with_numpy(const ScratchDir& dir, const FakeSource& src, const std::string& format,
                      const std::filesystem::path& out) {
  nlohmann::json spec = nlohmann::json::array();
  const auto plan = keras64::make_plan(const_cast<FakeSource&>(src), CastMode::floats);
  for (std::size_t i = 0; i < src.tensors().size(); ++i) {
    const auto& t = src.tensors()[i];
    const auto p = dir / ("src_" + std::to_string(i) + ".bin");
    keras64::test::write_file(p, std::string(src.bytes(i).begin(), src.bytes(i).end()));
    spec.push_back({{"src", p.string()},
                    {"src_descr", std::string(keras64::info(t.dtype).npy_descr)},
                    {"bf16", t.dtype == DType::bf16},
                    {"shape", t.shape},
                    {"out_descr", std::string(keras64::info(plan.tensors[i].dtype).npy_descr)}});
  }
  keras64::test::write_file(dir / "spec.json", spec.dump());
  const auto r = keras64::test::run_python(dir, kNumpyCheck,
                                           {format, out.string(), (dir / "spec.json").string()});
  EXPECT_EQ(r.status, 0) << format << ": " << r.output;
}

class SinkFormat : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(SinkFormat, EveryChunkSizeGivesTheSameBytes) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto reference = output_path(dir, GetParam(), "default");
  const auto report = run(src, GetParam(), reference);
  const auto want = snapshot(reference);
  std::uint64_t total = 0;
  for (const auto& [name, bytes] : want) total += bytes.size();
  EXPECT_EQ(report.bytes_written, total);
  EXPECT_EQ(want.size(), is_dir_format(GetParam()) ? src.tensors().size() + 1 : 1u);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{4096}}) {
    const auto out = output_path(dir, GetParam(), "chunk" + std::to_string(chunk));
    run(src, GetParam(), out, chunk);
    EXPECT_TRUE(snapshot(out) == want) << GetParam() << " differs at chunk size " << chunk;
  }
  // Only the outputs themselves: no temporaries left beside them.
  EXPECT_EQ(dir.list().size(), 5u);
}

TEST_P(SinkFormat, NumpyReadsItBitExactly) {
  if (!keras64::test::have_python()) GTEST_SKIP() << KERAS64_PYTHON << " not found";
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto out = output_path(dir, GetParam());
  run(src, GetParam(), out);
  check_with_numpy(dir, src, GetParam(), out);
}

TEST_P(SinkFormat, EmptyModel) {
  ScratchDir dir;
  FakeSource src;
  const auto out = output_path(dir, GetParam());
  run(src, GetParam(), out);
  if (keras64::test::have_python()) check_with_numpy(dir, src, GetParam(), out);
}

TEST_P(SinkFormat, UncommittedSinkLeavesNothing) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto plan = keras64::make_plan(src, CastMode::floats);
  {
    auto sink = keras64::open_sink(GetParam(), output_path(dir, GetParam()));
    sink->begin(plan);
    const std::vector<double> data(50, 1.0);
    sink->write(0, data.data(), 400);
    sink->write(1, data.data(), 16);
    EXPECT_FALSE(dir.list().empty());  // the temporary output exists meanwhile
  }
  EXPECT_TRUE(dir.list().empty());
  {
    auto sink = keras64::open_sink(GetParam(), output_path(dir, GetParam()));  // never begun
  }
  EXPECT_TRUE(dir.list().empty());
}

TEST_P(SinkFormat, ExistingOutputIsRefusedUnlessForced) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto out = output_path(dir, GetParam());
  keras64::test::write_file(out, "precious");
  expect_error([&] { keras64::open_sink(GetParam(), out); }, Errc::invalid_argument,
               out.string() + ": output exists");
  EXPECT_EQ(keras64::test::read_file(out), "precious");
  keras64::SinkOptions force;
  force.force = true;
  run(src, GetParam(), out, 4096, force);
  EXPECT_EQ(std::filesystem::is_directory(out), is_dir_format(GetParam()));
  run(src, GetParam(), out, 4096, force);  // replacing our own output of the same kind
  EXPECT_EQ(dir.list().size(), 1u);
}

TEST_P(SinkFormat, MissingParentDirectory) {
  ScratchDir dir;
  const auto out = dir / "no" / "such" / "out";
  const Error e = error_of([&] { keras64::open_sink(GetParam(), out); });
  EXPECT_EQ(e.code(), Errc::io) << e.what();
  EXPECT_NE(std::string(e.what()).find(out.string()), std::string::npos) << e.what();
}

TEST_P(SinkFormat, WriteErrorNamesOutputAndMember) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto out = output_path(dir, GetParam());
  const std::string member = GetParam() == "memmap" ? "weight_0.dat" : "weight_0.npy";
  const std::string where =
      is_dir_format(GetParam()) ? (out / member).string() : out.string() + ":" + member;
  {
    keras64::test::FileSizeLimit limit(300);  // tensor 0 is 400 bytes: a full disk, in effect
    expect_error([&] { run(src, GetParam(), out); }, Errc::io,
                 where + ": write failed: File too large");
  }
  EXPECT_TRUE(dir.list().empty());
}

TEST_P(SinkFormat, WriteErrorPastTheWriteBufferNamesOutputAndMember) {
  // 8 MB of float64 (about 4 MB deflated): convert() widens into the buffers the sink lends
  // (O_DIRECT, where the scratch directory takes it), whose writes fail on the queue's threads and
  // come back at a later lend() or write() - named like any other write error, and nothing left
  // behind.
  ScratchDir dir;
  FakeSource src;
  std::vector<float> values(1'000'000);  // random: npz-deflate must not shrink them under the cap
  std::mt19937 rng(5);
  for (auto& v : values) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  src.add(tensor("big/vars/0", DType::f32, {1000, 1000}), bytes_of(values));
  const auto out = output_path(dir, GetParam());
  const std::string member = GetParam() == "memmap" ? "weight_0.dat" : "weight_0.npy";
  const std::string where =
      is_dir_format(GetParam()) ? (out / member).string() : out.string() + ":" + member;
  {
    keras64::test::FileSizeLimit limit(3'000'000);
    expect_error([&] { run(src, GetParam(), out); }, Errc::io,
                 where + ": write failed: File too large");
  }
  EXPECT_TRUE(dir.list().empty());
}

TEST_P(SinkFormat, ContractViolationsAreInternalErrors) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  const auto plan = keras64::make_plan(src, CastMode::floats);
  const std::vector<double> buf(64, 0.0);
  const auto out = output_path(dir, GetParam());
  auto fresh = [&] {
    auto s = keras64::open_sink(GetParam(), out);
    s->begin(plan);
    return s;
  };
  {
    auto s = keras64::open_sink(GetParam(), out);
    expect_error([&] { s->write(0, buf.data(), 8); }, Errc::internal,
                 "sink: write() before begin()");
  }
  {
    auto s = fresh();
    expect_error([&] { s->write(1, buf.data(), 8); }, Errc::internal,
                 "sink: tensor 0 (dense/vars/0) was skipped");
    expect_error([&] { s->write(0, buf.data(), 8); }, Errc::internal,
                 "sink: write() after a failure");
    expect_error([&] { s->commit(); }, Errc::internal, "sink: commit() after a failure");
  }
  {
    auto s = fresh();
    s->write(0, buf.data(), 392);
    expect_error([&] { s->write(0, buf.data(), 16); }, Errc::internal,
                 "sink: tensor 0 (dense/vars/0) got more than its 400 bytes");
  }
  {
    auto s = fresh();
    s->write(0, buf.data(), 8);
    expect_error([&] { s->write(1, buf.data(), 8); }, Errc::internal,
                 "sink: tensor 0 (dense/vars/0) ended after 8 of its 400 bytes");
  }
  {
    auto s = fresh();
    s->write(0, buf.data(), 400);
    s->write(1, buf.data(), 8);
    expect_error(
        [&] { s->write(0, buf.data(), 8); }, Errc::internal,
        "sink: tensor 0 (dense/vars/0) written out of order, after tensor 1 (dense/vars/1)");
  }
  {
    auto s = fresh();
    s->write(0, buf.data(), 400);
    expect_error([&] { s->commit(); }, Errc::internal,
                 "sink: commit() before tensor 1 (dense/vars/1) was written");
  }
  {
    auto s = fresh();
    expect_error([&] { s->write(99, buf.data(), 8); }, Errc::internal,
                 "sink: write() to tensor 99 of a 12-tensor plan");
  }
  EXPECT_TRUE(dir.list().empty());
}

INSTANTIATE_TEST_SUITE_P(Sinks, SinkFormat, ::testing::ValuesIn(kFormats),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(SinkRegistry, ListsTheFormatsAndRejectsUnknownOnes) {
  const auto names = keras64::sink_formats();
  for (const auto& f : kFormats)
    EXPECT_NE(std::find(names.begin(), names.end(), f), names.end()) << f;
  for (const auto& f : keras64::detail::sink_table()) EXPECT_FALSE(f.description.empty()) << f.name;
  std::string want = "unknown output format 'npy-dir' (valid: ";
  for (std::size_t i = 0; i < names.size(); ++i) want += (i ? ", " : "") + names[i];
  expect_error([] { keras64::open_sink("npy-dir", "x"); }, Errc::invalid_argument, want + ")");
}

TEST(SinkRegistry, DeflateLevelIsChecked) {
  ScratchDir dir;
  keras64::SinkOptions o;
  o.level = 10;
  expect_error([&] { keras64::open_sink("npz-deflate", dir / "x.npz", o); }, Errc::invalid_argument,
               "compression level 10 is out of range for npz-deflate (0-9)");
  FakeSource src;
  add_sample_tensors(src);
  for (int level : {0, 1, 9}) {
    o.level = level;
    const auto out = dir / ("l" + std::to_string(level) + ".npz");
    run(src, "npz-deflate", out, 4096, o);
    if (keras64::test::have_python()) check_with_numpy(dir, src, "npz-deflate", out);
  }
}

TEST(NpyDirSink, Manifest) {
  ScratchDir dir;
  FakeSource src({"model.keras",
                  keras64::SourceKind::keras3,
                  "3.15.1",
                  "mlp",
                  false,
                  "weights file without architecture",
                  {}});
  src.add(tensor("dense/vars/0", DType::f32, {5, 10}), std::vector<unsigned char>(200));
  src.add(tensor("optimizer/iterations", DType::i64, {}, Role::optimizer),
          std::vector<unsigned char>(8));
  run(src, "npy", dir / "out");
  const std::string text = keras64::test::read_file(dir / "out" / "manifest.json");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7) << text;  // one line per tensor
  const auto m = nlohmann::json::parse(text);
  EXPECT_EQ(m["format"], "keras64");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["source"], nlohmann::json({{"file", "model.keras"},
                                         {"kind", "keras3"},
                                         {"keras_version", "3.15.1"},
                                         {"order_exact", false},
                                         {"note", "weights file without architecture"}}));
  EXPECT_EQ(m["output"], nlohmann::json({{"format", "npy"}}));
  ASSERT_EQ(m["tensors"].size(), 2u);
  EXPECT_EQ(m["tensors"][0], nlohmann::json({{"index", 0},
                                             {"name", "dense/vars/0"},
                                             {"layer", "dense"},
                                             {"keras_path", ""},
                                             {"role", "model"},
                                             {"file", "weight_0.npy"},
                                             {"dtype", "float64"},
                                             {"source_dtype", "float32"},
                                             {"shape", {5, 10}},
                                             {"byte_order", "little"},
                                             {"offset", 128},
                                             {"nbytes", 400},
                                             // CRC32C of 400 zero bytes (computed by Python)
                                             {"crc32c", "b4ee26f7"}}));
  EXPECT_EQ(m["tensors"][1]["crc32c"], "8c28b28a");  // of 8 zero bytes
  EXPECT_EQ(m["tensors"][1]["role"], "optimizer");
  EXPECT_EQ(m["tensors"][1]["dtype"], "int64");
  EXPECT_EQ(m["tensors"][1]["shape"], nlohmann::json::array());
  EXPECT_EQ(m["tensors"][1]["nbytes"], 8);
}

TEST(MemmapSink, EmptyTensorsAreNoted) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  run(src, "memmap", dir / "out");
  const auto m = nlohmann::json::parse(keras64::test::read_file(dir / "out" / "manifest.json"));
  EXPECT_EQ(m["output"]["note"],
            "empty files, which np.memmap cannot map (use np.zeros(shape, dtype)): weight_3.dat, "
            "weight_11.dat");
  EXPECT_EQ(std::filesystem::file_size(dir / "out" / "weight_3.dat"), 0u);
  EXPECT_EQ(std::filesystem::file_size(dir / "out" / "weight_2.dat"), 8u);  // the scalar
}

// The directory sources (PerFileSource) refuse a manifest of the other directory format and a
// file shorter than its manifest entry, naming the file.
TEST(PerFileSource, OtherFormatsManifestAndTruncatedFileAreCorrupt) {
  ScratchDir dir;
  FakeSource src;
  add_sample_tensors(src);
  run(src, "memmap", dir / "mm");
  expect_error([&] { keras64::detail::open_npy_dir(dir / "mm", {}); }, Errc::corrupt,
               (dir / "mm" / "manifest.json").string() + ": output format is 'memmap', not 'npy'");
  std::filesystem::resize_file(dir / "mm" / "weight_2.dat", 5);  // the 8-byte scalar
  expect_error(
      [&] { keras64::open_source(dir / "mm"); }, Errc::corrupt,
      (dir / "mm" / "weight_2.dat").string() + ": truncated: 5 bytes, manifest.json says 8");
}

// convert() widens every float, but a sink given an unwidened float writes its own numpy descr;
// bfloat16, which numpy lacks, goes out as uint16 bit patterns marked "bfloat16".
TEST(Sinks, UnwidenedFloatsKeepTheirDtype) {
  ScratchDir dir;
  keras64::Plan plan;
  plan.source = {"m.keras", keras64::SourceKind::keras3, "", "", true, "", {}};
  plan.tensors.push_back({tensor("bf/vars/0", DType::bf16, {3}), DType::bf16});
  plan.tensors.push_back({tensor("f/vars/0", DType::f32, {2}), DType::f32});
  const std::uint16_t bf[3] = {0x3f80, 0x4000, 0xc040};
  const float f[2] = {1.5f, -2.5f};
  for (const std::string format : {"npy", "memmap", "npz"}) {
    const auto out = output_path(dir, format, format);
    auto sink = keras64::open_sink(format, out);
    sink->begin(plan);
    sink->write(0, bf, sizeof bf);
    sink->write(1, f, sizeof f);
    sink->commit();
    if (format == "npz") {
      const std::string z = keras64::test::read_file(out);
      EXPECT_NE(z.find("'descr': '<u2'"), std::string::npos);
      EXPECT_NE(z.find("'descr': '<f4'"), std::string::npos);
      continue;
    }
    const auto m = nlohmann::json::parse(keras64::test::read_file(out / "manifest.json"));
    EXPECT_EQ(m["tensors"][0]["dtype"], "bfloat16");
    EXPECT_EQ(m["tensors"][0]["nbytes"], 6);
    EXPECT_EQ(m["tensors"][1]["dtype"], "float32");
    if (format == "npy") {
      const std::string w0 = keras64::test::read_file(out / "weight_0.npy");
      EXPECT_NE(w0.find("'descr': '<u2'"), std::string::npos);
      EXPECT_EQ(w0.substr(128), std::string(reinterpret_cast<const char*>(bf), sizeof bf));
    }
  }
}

namespace {

// A bit-at-a-time CRC32C (reflected 0x82F63B78): the reference the sinks' fast path must match.
std::uint32_t reference_crc32c(const std::vector<unsigned char>& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace

// Large writes are checksummed on a second thread while they are written, small ones in line:
// every split of a tensor into writes records the same CRC32C, the one of all its bytes.
TEST(NpyDirSink, Crc32cIsTheSameForEverySplitOfTheWrites) {
  std::vector<unsigned char> bytes(std::size_t{1} << 20);  // int64: passed through unchanged
  std::mt19937 rng(7);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  char expected[9];
  std::snprintf(expected, sizeof expected, "%08x", reference_crc32c(bytes));
  // 1 MiB in one write, in 700,000 + 348,576 (both on the worker), in 100,000-byte writes (in
  // line) and in 300,000-byte writes (worker, then an in-line tail).
  for (std::size_t chunk :
       {std::size_t{4} << 20, std::size_t{700000}, std::size_t{100000}, std::size_t{300000}}) {
    ScratchDir dir;
    FakeSource src({"m.keras", keras64::SourceKind::keras3, "3.15.1", "m", true, "", {}});
    src.add(tensor("counts", DType::i64, {std::int64_t{1} << 17}), bytes);
    run(src, "npy", dir / "out", chunk);
    const auto m = nlohmann::json::parse(keras64::test::read_file(dir / "out" / "manifest.json"));
    EXPECT_EQ(m["tensors"][0]["crc32c"], expected) << "chunk " << chunk;
  }
}
