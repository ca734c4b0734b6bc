// HDF5 read in place from a stored zip member: every dataset of the golden .keras archives reads
// the same through keras64's reader over the member's byte range (WeightsTree::add_member) as
// from the extracted member, and the same through libhdf5's member driver (support/h5_member.hpp,
// a test-only reference: the library reads HDF5 with its own reader alone).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detail/file.hpp"
#include "detail/h5.hpp"
#include "detail/zip_reader.hpp"
#include "h5_member.hpp"
#include "keras64/error.hpp"
#include "keras64/source.hpp"
#include "scratch_dir.hpp"
#include "sources/weights_tree.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::detail::File;
using keras64::detail::WeightsTree;
using keras64::detail::ZipReader;
using keras64::test::ScratchDir;
namespace h5 = keras64::detail::h5;

namespace {

const std::string kGolden = KERAS64_TEST_DATA "/golden/";

class H5Member : public ::testing::TestWithParam<std::string> {};

TEST_P(H5Member, ReadsLikeTheExtractedMember) {
  const std::string archive = kGolden + GetParam() + "/model.keras";
  ZipReader zip(archive);
  const auto* e = zip.find("model.weights.h5");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->method, 0) << "Keras stores the member";
  EXPECT_NE(e->data_offset % 512, 0u) << "offset HDF5 could find by itself: weak test";
  ScratchDir dir;
  const auto extracted = dir / "model.weights.h5";
  {
    File out = File::create(extracted);
    zip.read(*e, [&](const void* p, std::size_t n) { out.write_all(p, n); });
    out.close();
  }
  WeightsTree in_place, copy;
  in_place.add_member("m", archive, e->data_offset, e->size);
  copy.add_file("c", extracted.string());
  ASSERT_EQ(in_place.all_datasets().size(), copy.all_datasets().size());
  ASSERT_FALSE(copy.all_datasets().empty());
  // libhdf5 through the zip member driver (the input side of the structure-preserving sinks).
  h5::Id lib = h5::open_member(archive, e->data_offset, e->size);
  for (const auto& [path, ref] : copy.all_datasets()) {
    const auto* mine = in_place.dataset(path);
    ASSERT_NE(mine, nullptr) << path;
    EXPECT_EQ(mine->info.shape, ref.info.shape) << path;
    EXPECT_EQ(mine->info.dtype, ref.info.dtype) << path;
    EXPECT_EQ(mine->info.raw_offset, ref.info.raw_offset) << path;
    const std::uint64_t n = ref.info.shape.empty() ? 1 : keras64::element_count(ref.info.shape);
    const std::size_t size = keras64::info(ref.info.dtype).size;
    std::vector<unsigned char> a(n * size + 1), b(n * size + 1), c(n * size + 1);
    copy.read(ref, 0, n, a.data());
    in_place.read(*mine, 0, n, b.data());
    EXPECT_EQ(a, b) << path;
    // Through libhdf5 and the driver's read callback.
    h5::Id d = h5::open_dataset(lib.get(), path);
    h5::read_elements(d.get(), h5::dataset_info(d.get()), 0, n, c.data());
    EXPECT_EQ(a, c) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, H5Member,
                         ::testing::Values("mlp", "cnn", "rnn", "functional", "bfloat16",
                                           "mixed_float16", "nonfloat", "adam", "custom",
                                           "float64"));

// Keras never deflates model.weights.h5, but a re-zipped archive may: it is then extracted, and
// reads the same as the stored original.
TEST(H5Member, DeflatedMemberFallsBackToExtraction) {
  if (!keras64::test::have_python()) GTEST_SKIP() << "no python";
  ScratchDir dir;
  const std::string stored = kGolden + "cnn/model.keras";
  const auto deflated = dir / "deflated.keras";
  const auto r = keras64::test::run_python(dir, R"PY(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as a, zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as b:
    for i in a.infolist():
        b.writestr(i.filename, a.read(i))
)PY",
                                           {stored, deflated.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(ZipReader(deflated).find("model.weights.h5")->method, 8);
  auto a = keras64::open_source(stored);
  auto b = keras64::open_source(deflated);
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (std::size_t i = 0; i < a->tensors().size(); ++i) {
    const auto& t = a->tensors()[i];
    ASSERT_EQ(t.name, b->tensors()[i].name);
    std::vector<unsigned char> x(t.nbytes() + 1), y(t.nbytes() + 1);
    a->read(i, 0, t.elements(), x.data());
    b->read(i, 0, t.elements(), y.data());
    EXPECT_EQ(x, y) << t.name;
  }
}

TEST(H5MemberErrors, NotHdf5IsCorrupt) {
  const std::string archive = kGolden + "mlp/model.keras";
  ZipReader zip(archive);
  const auto* cfg = zip.find("config.json");
  ASSERT_NE(cfg, nullptr);
  try {
    h5::open_member(archive, cfg->data_offset, cfg->size);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt);
    EXPECT_EQ(std::string(e.what()).rfind("not a readable HDF5 file", 0), 0u) << e.what();
  }
}

TEST(H5MemberErrors, RangeBeyondFileIsCorrupt) {
  const std::string archive = kGolden + "mlp/model.keras";
  const auto size = File::open_read(archive).size();
  try {
    h5::open_member(archive, 100, size);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt);
    EXPECT_EQ(std::string(e.what()), archive + ": truncated: member of " + std::to_string(size) +
                                         " bytes at offset 100 ends beyond the file");
  }
}

TEST(H5MemberErrors, MissingFileIsIo) {
  try {
    h5::open_member("/nonexistent/x.keras", 0, 10);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
  }
}

}  // namespace
