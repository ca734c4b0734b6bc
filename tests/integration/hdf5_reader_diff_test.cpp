// Differential test of keras64's own HDF5 reader (src/detail/hdf5/) against libhdf5: on every
// HDF5 file under tests/data (golden Keras files, legacy quirks, .keras members, interop data,
// the fuzz seed corpus), on keras64's own HDF5 outputs (weights.h5 / keras / legacy-h5, with and
// without --compress) and on an h5py-written zoo of every claimed feature (hdf5_zoo.py), both
// readers must see the same tree: link names and kinds in the same order, the same attributes
// with the same values, and datasets with the same dtype, shape, layout offset and bytes.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "detail/h5.hpp"
#include "detail/hdf5/reader.hpp"
#include "detail/zip_reader.hpp"
#include "h5_member.hpp"
#include "scratch_dir.hpp"

namespace fs = std::filesystem;
namespace h5 = keras64::detail::h5;
namespace hdf5 = keras64::detail::hdf5;
using keras64::Errc;
using keras64::Error;

namespace {

struct Input {
  std::string path;
  std::uint64_t offset = 0, size = 0;  // size 0: the whole file
  std::string name() const { return size ? path + ":model.weights.h5" : path; }
};

bool has_hdf5_signature(const std::string& p) {
  std::string head = keras64::test::read_file(p).substr(0, 8);
  return head == std::string("\x89HDF\r\n\x1a\n", 8);
}

// Every HDF5 file under `root` (or `root` itself), and the stored HDF5 members of every zip there.
void collect(const fs::path& root, std::vector<Input>& out) {
  if (!fs::exists(root)) return;
  std::vector<fs::path> files;
  if (fs::is_regular_file(root)) files.push_back(root);
  if (fs::is_directory(root))
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    if (has_hdf5_signature(p.string())) {
      out.push_back({p.string()});
    } else if (keras64::detail::ZipReader::has_signature(p)) {
      try {
        keras64::detail::ZipReader zip(p);
        for (const auto& e : zip.entries())
          if (e.method == 0 && e.name.size() > 3 && e.name.substr(e.name.size() - 3) == ".h5")
            out.push_back({p.string(), e.data_offset, e.size});
      } catch (const Error&) {
      }
    }
  }
}

struct Libhdf5Attr {
  std::string name;
  bool is_string = false;
  std::vector<std::string> strings;
  std::vector<std::uint8_t> raw;
};

herr_t attr_name_cb(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<Libhdf5Attr> libhdf5_attrs(hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  h5::check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_name_cb, &names), "iterate");
  std::vector<Libhdf5Attr> out;
  for (const auto& n : names) {
    Libhdf5Attr a;
    a.name = n;
    h5::Id attr(h5::check(H5Aopen(obj, n.c_str(), H5P_DEFAULT), "open attr"));
    h5::Id type(h5::check(H5Aget_type(attr.get()), "type"));
    if (H5Tget_class(type.get()) == H5T_STRING) {
      a.is_string = true;
      a.strings = h5::read_string_array_attr(obj, n);
    } else {
      h5::Id space(h5::check(H5Aget_space(attr.get()), "space"));
      const auto count = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
      a.raw.resize(count * H5Tget_size(type.get()));
      if (!a.raw.empty()) h5::check(H5Aread(attr.get(), type.get(), a.raw.data()), "read attr");
    }
    out.push_back(std::move(a));
  }
  return out;
}

class Comparer {
 public:
  Comparer(hid_t file, hdf5::Reader& mine, std::string name)
      : file_(file), mine_(mine), name_(std::move(name)) {}

  void object(const hdf5::Object& obj, hid_t lib) {
    ++objects;
    SCOPED_TRACE(name_ + ":" + obj.path);
    attributes(obj, lib);
    if (obj.kind == hdf5::Kind::group)
      group(obj, lib);
    else if (obj.kind == hdf5::Kind::dataset)
      dataset(obj, lib);
  }

  std::size_t objects = 0, datasets = 0, attrs = 0;
  std::uint64_t bytes = 0;

 private:
  void attributes(const hdf5::Object& obj, hid_t lib) {
    auto theirs = libhdf5_attrs(lib);
    auto ours = mine_.attributes(obj);
    std::sort(ours.begin(), ours.end(),
              [](const hdf5::Attribute& a, const hdf5::Attribute& b) { return a.name < b.name; });
    ASSERT_EQ(ours.size(), theirs.size());
    for (std::size_t i = 0; i < ours.size(); ++i) {
      ++attrs;
      SCOPED_TRACE("attribute " + theirs[i].name);
      ASSERT_EQ(ours[i].name, theirs[i].name);
      const bool str = ours[i].type.cls == hdf5::Datatype::string ||
                       ours[i].type.cls == hdf5::Datatype::vlen_string;
      ASSERT_EQ(str, theirs[i].is_string);
      if (str) {
        EXPECT_EQ(mine_.strings(obj, ours[i]), theirs[i].strings);
        EXPECT_EQ(mine_.string_array_attr(obj, ours[i].name), theirs[i].strings);
        if (theirs[i].strings.size() == 1) {
          EXPECT_EQ(mine_.string_attr(obj, ours[i].name), theirs[i].strings[0]);
        }
      } else {
        EXPECT_EQ(ours[i].data, theirs[i].raw);
      }
    }
  }

  void group(const hdf5::Object& obj, hid_t lib) {
    const auto theirs = h5::children(lib);
    const auto ours = mine_.links(obj);
    ASSERT_EQ(ours.size(), theirs.size());
    for (std::size_t i = 0; i < ours.size(); ++i) {
      ASSERT_EQ(ours[i].name, theirs[i].name);
      const hdf5::Object child = mine_.child(obj, ours[i]);
      const hdf5::Kind want = theirs[i].kind == h5::ObjKind::group     ? hdf5::Kind::group
                              : theirs[i].kind == h5::ObjKind::dataset ? hdf5::Kind::dataset
                                                                       : hdf5::Kind::other;
      ASSERT_EQ(static_cast<int>(child.kind), static_cast<int>(want)) << child.path;
      h5::Id sub(h5::check(H5Oopen(lib, theirs[i].name.c_str(), H5P_DEFAULT), "open"));
      object(child, sub.get());
      // find() reaches the same object by its path.
      auto again = mine_.find(child.path);
      ASSERT_TRUE(again.has_value());
      EXPECT_EQ(again->address, child.address);
    }
  }

  void dataset(const hdf5::Object& obj, hid_t lib) {
    std::optional<h5::DatasetInfo> theirs;
    std::string their_error;
    try {
      theirs = h5::dataset_info(lib);
    } catch (const Error& e) {
      their_error = e.what();
    }
    if (!theirs) {
      // Types keras64 does not convert: both must refuse them alike.
      try {
        mine_.dataset(obj);
        ADD_FAILURE() << "libhdf5 path refused (" << their_error << "), ours accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::unsupported) << e.what();
      }
      return;
    }
    ++datasets;
    const hdf5::Dataset d = mine_.dataset(obj);
    EXPECT_EQ(d.info.dtype, theirs->dtype);
    EXPECT_EQ(d.info.shape, theirs->shape);
    EXPECT_EQ(d.info.big_endian, theirs->big_endian);
    EXPECT_EQ(d.info.raw_offset, theirs->raw_offset);
    const std::uint64_t n = keras64::element_count(d.info.shape);
    const std::size_t es = keras64::info(d.info.dtype).size;
    if (n * es > (std::uint64_t{64} << 20)) return;
    std::vector<std::uint8_t> a(n * es), b(n * es);
    h5::read_elements(lib, *theirs, 0, n, a.data());
    mine_.read(d, 0, n, b.data());
    EXPECT_TRUE(a == b) << "values differ";
    bytes += n * es;
    // Sub-ranges cross chunk and row boundaries differently: a few of them, both ways.
    for (std::uint64_t first : {std::uint64_t{1}, n / 3, n / 2 + 1}) {
      if (first >= n) continue;
      const std::uint64_t count = std::min<std::uint64_t>(n - first, n / 3 + 2);
      std::vector<std::uint8_t> c(count * es);
      mine_.read(d, first, count, c.data());
      EXPECT_EQ(std::memcmp(c.data(), a.data() + first * es, count * es), 0)
          << "range " << first << "+" << count;
    }
  }

  hid_t file_;
  hdf5::Reader& mine_;
  std::string name_;
};

// Opens `in` both ways; when libhdf5 cannot open it, ours must refuse it too.
void compare(const Input& in, std::size_t* compared = nullptr) {
  SCOPED_TRACE(in.name());
  h5::Id lib;
  try {
    lib = in.size ? h5::open_member(in.path, in.offset, in.size) : h5::open_file(in.path);
  } catch (const Error&) {
    EXPECT_THROW(
        (in.size ? hdf5::Reader(in.path, in.offset, in.size, "x") : hdf5::Reader(in.path, "x")),
        Error);
    return;
  }
  hdf5::Reader mine = in.size ? hdf5::Reader(in.path, in.offset, in.size, in.name())
                              : hdf5::Reader(in.path, in.name());
  Comparer c(lib.get(), mine, in.name());
  h5::Id root(h5::check(H5Gopen2(lib.get(), "/", H5P_DEFAULT), "root"));
  c.object(mine.root(), root.get());
  EXPECT_GT(c.objects, 0u);
  if (compared) ++*compared;
}

std::string cli() {
  return KERAS64_CLI;
}

TEST(Hdf5ReaderDiff, EveryTestDataFile) {
  std::vector<Input> inputs;
  collect(fs::path(KERAS64_TEST_DATA), inputs);
  collect(fs::path(KERAS64_TEST_DATA) / ".." / ".." / "fuzz" / "corpus" / "hdf5", inputs);
  ASSERT_GT(inputs.size(), 60u);
  std::size_t compared = 0;
  for (const auto& in : inputs) compare(in, &compared);
  EXPECT_GT(compared, 60u);
}

TEST(Hdf5ReaderDiff, Zoo) {
  keras64::test::ScratchDir dir;
  auto r = keras64::test::run_command(
      std::string(KERAS64_PYTHON) + " " +
      keras64::test::shell_quote(std::string(KERAS64_TEST_DATA) + "/../integration/hdf5_zoo.py") +
      " " + keras64::test::shell_quote(dir.path().string()));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"earliest.h5", "latest.h5", "latest_untracked.h5"})
    compare({(dir / "supported" / f).string()});
  for (const char* f : {"user_block.h5", "chunk_index.h5", "dense_attributes.h5"}) {
    SCOPED_TRACE(f);
    try {
      hdf5::Reader mine((dir / "refused" / f).string(), f);
      auto root = mine.root();
      std::vector<hdf5::Object> todo{root};
      while (!todo.empty()) {
        auto o = todo.back();
        todo.pop_back();
        mine.attributes(o);
        if (o.kind == hdf5::Kind::dataset) mine.dataset(o);
        if (o.kind == hdf5::Kind::group)
          for (const auto& l : mine.links(o)) todo.push_back(mine.child(o, l));
      }
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("unsupported HDF5 feature: "), std::string::npos)
          << e.what();
    }
  }
}

TEST(Hdf5ReaderDiff, Keras64Outputs) {
  if (cli().empty()) GTEST_SKIP() << "built without the CLI";
  keras64::test::ScratchDir dir;
  const fs::path golden = fs::path(KERAS64_TEST_DATA) / "golden";
  std::vector<std::string> commands;
  std::vector<std::string> models;
  for (const auto& e : fs::directory_iterator(golden))
    if (fs::exists(e.path() / "model.keras")) models.push_back(e.path().filename().string());
  std::sort(models.begin(), models.end());
  ASSERT_GE(models.size(), 8u);
  // A Keras 3 weights file with tensors big enough to be chunked by --compress.
  auto r = keras64::test::run_command(
      std::string(KERAS64_PYTHON) + " -c " +
      keras64::test::shell_quote("import h5py, numpy as np, sys\n"
                                 "with h5py.File(sys.argv[1], 'w') as f:\n"
                                 "  v = f.create_group('layers/dense/vars')\n"
                                 "  v.attrs['name'] = 'dense'\n"
                                 "  v['0'] = np.arange(40000, dtype='<f4').reshape(200, 200) / 7\n"
                                 "  v['1'] = np.arange(200, dtype='<f4')\n"
                                 "  for i in range(12):\n"
                                 "    f.create_group(f'layers/extra_{i}/vars')\n") +
      " " + keras64::test::shell_quote((dir / "big.weights.h5").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<Input> outputs;
  int n = 0;
  auto convert = [&](const fs::path& in, const std::string& to, const std::string& ext,
                     bool compress) {
    const fs::path out = dir / ("out" + std::to_string(n++) + ext);
    auto res = keras64::test::run_command(keras64::test::shell_quote(cli()) + " convert " +
                                          keras64::test::shell_quote(in.string()) + " -o " +
                                          keras64::test::shell_quote(out.string()) + " --to " + to +
                                          " -q" + (compress ? " --compress" : "") + " 2>&1");
    ASSERT_EQ(res.status, 0) << in << " " << to << ": " << res.output;
    collect(out, outputs);
  };
  for (const auto& m : models) {
    for (bool c : {false, true}) {
      convert(golden / m / "model.keras", "weights.h5", ".weights.h5", c);
      convert(golden / m / "model.keras", "keras", ".keras", c);
      if (fs::exists(golden / m / "model_legacy.h5"))
        convert(golden / m / "model_legacy.h5", "legacy-h5", ".h5", c);
    }
  }
  convert(dir / "big.weights.h5", "weights.h5", ".weights.h5", true);
  convert(dir / "big.weights.h5", "weights.h5", ".weights.h5", false);
  ASSERT_GE(outputs.size(), 3 * models.size());
  for (const auto& in : outputs) compare(in);
}

}  // namespace
