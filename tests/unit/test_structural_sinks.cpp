// The structure-preserving HDF5 sinks with plans whose dtypes are not float64 - what `load`
// (float64 data cast back into a model's own dtypes) hands them: every planned tensor is written
// in PlannedTensor::dtype, bfloat16 with Keras's dtype attribute, unplanned datasets unchanged.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "detail/h5.hpp"
#include "expect_error.hpp"
#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "keras64/sink.hpp"
#include "keras64/source.hpp"
#include "scratch_dir.hpp"

using keras64::DType;
using keras64::Errc;
using keras64::Error;
namespace h5 = keras64::detail::h5;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(KERAS64_TEST_DATA) / "golden";

// Writes `plan` with each element's bytes taken from the source, converted to the planned dtype
// through float64 (bfloat16: the top 16 bits of the float32, exact for bf16-representable data).
void write_plan(keras64::Source& src, keras64::Sink& sink, const keras64::Plan& plan,
                std::size_t step) {
  sink.begin(plan);
  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const auto& t = plan.tensors[i];
    const std::uint64_t n = t.source.elements();
    std::vector<unsigned char> in(n * keras64::info(t.source.dtype).size);
    src.read(i, 0, n, in.data());
    std::vector<double> wide(n);
    keras64::widen_to_f64(t.source.dtype, in.data(), n, wide.data());
    std::vector<unsigned char> out(n * keras64::info(t.dtype).size);
    for (std::uint64_t k = 0; k < n; ++k) {
      if (t.dtype == DType::f32) {
        const float f = static_cast<float>(wide[k]);
        std::memcpy(&out[k * 4], &f, 4);
      } else if (t.dtype == DType::bf16) {
        const float f = static_cast<float>(wide[k]);
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        const std::uint16_t top = static_cast<std::uint16_t>(bits >> 16);
        std::memcpy(&out[k * 2], &top, 2);
      } else {
        std::memcpy(&out[k * 8], &wide[k], 8);
      }
    }
    // Odd step sizes split elements between writes.
    for (std::size_t off = 0; off < out.size(); off += step)
      sink.write(i, out.data() + off, std::min(step, out.size() - off));
  }
  sink.commit();
}

}  // namespace

TEST(StructuralSinks, WritesPlannedDtypesAndBfloat16Tag) {
  keras64::test::ScratchDir dir;
  auto src = keras64::open_source(kGolden / "bfloat16" / "model.keras");
  keras64::Plan plan = keras64::make_plan(*src, keras64::CastMode::floats);
  ASSERT_GE(plan.tensors.size(), 2u);
  // Tensor 0 back to bfloat16 (as `load` into a bfloat16 model), the rest float32.
  plan.tensors[0].dtype = DType::bf16;
  for (std::size_t i = 1; i < plan.tensors.size(); ++i) plan.tensors[i].dtype = DType::f32;
  const auto out = dir.path() / "o.weights.h5";
  auto sink = keras64::open_sink("weights.h5", out);
  write_plan(*src, *sink, plan, 3);

  auto back = keras64::open_source(out);
  ASSERT_EQ(back->tensors().size(), plan.tensors.size());
  h5::Id f = h5::open_file(out.string());
  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const auto& t = plan.tensors[i];
    h5::Id d = h5::open_dataset(f.get(), t.source.dataset);
    const auto info = h5::dataset_info(d.get());
    EXPECT_EQ(info.dtype, t.dtype) << t.source.name;
    EXPECT_EQ(h5::read_string_attr(d.get(), "dtype").has_value(), t.dtype == DType::bf16);
    // The values survive: bfloat16 data narrowed to float32 or kept bfloat16 are exact.
    const std::uint64_t n = t.source.elements();
    std::vector<unsigned char> a(n * keras64::info(t.source.dtype).size);
    std::vector<unsigned char> b(n * keras64::info(t.dtype).size);
    src->read(i, 0, n, a.data());
    h5::read_elements(d.get(), info, 0, n, b.data());
    std::vector<double> wa(n), wb(n);
    keras64::widen_to_f64(t.source.dtype, a.data(), n, wa.data());
    keras64::widen_to_f64(t.dtype, b.data(), n, wb.data());
    EXPECT_EQ(wa, wb) << t.source.name;
  }
}

TEST(StructuralSinks, PlanTensorMissingFromStructureIsAMismatch) {
  keras64::test::ScratchDir dir;
  auto src = keras64::open_source(kGolden / "mlp" / "model.keras");
  keras64::Plan plan = keras64::make_plan(*src, keras64::CastMode::floats);
  plan.tensors[1].source.dataset = "/layers/nowhere/vars/0";
  auto sink = keras64::open_sink("weights.h5", dir.path() / "o.weights.h5");
  const Error e = keras64::test::error_of([&] { sink->begin(plan); });
  EXPECT_EQ(e.code(), Errc::mismatch);
  EXPECT_NE(std::string(e.what()).find("(dataset /layers/nowhere/vars/0) has no dataset in"),
            std::string::npos)
      << e.what();
  sink.reset();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// The structure a sink copies reaches it as a value in the plan (SourceStructure), not through
// the Source: a .keras input hands over its weights member's byte range, its config and its
// member list; with the HDF5 files taken out of the plan, the sink has nothing to copy and says
// so, whatever the source still holds.
TEST(StructuralSinks, StructureComesFromThePlan) {
  keras64::test::ScratchDir dir;
  const auto archive = kGolden / "mlp" / "model.keras";
  auto src = keras64::open_source(archive);
  keras64::Plan plan = keras64::make_plan(*src, keras64::CastMode::floats);
  EXPECT_EQ(plan.source.kind, keras64::SourceKind::keras3);
  const keras64::SourceStructure& s = plan.structure;
  const std::vector<keras64::NativeFile> files = s.native_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, archive);
  EXPECT_EQ(files[0].label, archive.string() + ":model.weights.h5");
  EXPECT_GT(files[0].offset, 0u);
  EXPECT_GT(files[0].size, 0u);
  EXPECT_EQ(s.config.rfind("{\"module\": \"keras\"", 0), 0u) << s.config.substr(0, 40);
  EXPECT_EQ(s.archive, archive);
  EXPECT_EQ(s.archive_members,
            (std::vector<std::string>{"metadata.json", "config.json", "model.weights.h5"}));
  EXPECT_TRUE(s.tf_bundle.empty());

  plan.structure.h5_files = nullptr;
  auto sink = keras64::open_sink("weights.h5", dir.path() / "o.weights.h5");
  keras64::test::expect_error([&] { sink->begin(plan); }, Errc::unsupported,
                              (dir.path() / "o.weights.h5").string() +
                                  ": this output copies the structure of an HDF5 input, and " +
                                  archive.string() + " (keras3) has none");
  sink.reset();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

namespace {

// $TMPDIR pointed at a fresh directory for a test's life (TempFile creates its files there).
class TempDirectoryIs {
 public:
  explicit TempDirectoryIs(const std::filesystem::path& dir) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  ~TempDirectoryIs() {
    if (old_)
      ::setenv("TMPDIR", old_->c_str(), 1);
    else
      ::unsetenv("TMPDIR");
  }
  TempDirectoryIs(const TempDirectoryIs&) = delete;
  TempDirectoryIs& operator=(const TempDirectoryIs&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace

// A tf-keras SavedModel's structure is an HDF5 skeleton the source writes to a temporary file;
// it is written only when a sink copies the tree (legacy-h5), never for a plan that goes to an
// output without structure (npy here; Python's load() plans the same way): through a whole
// conversion to npy the temporary directory stays empty, and asking the plan for its HDF5 files
// is what writes the skeleton there.
TEST(StructuralSinks, SavedModelSkeletonOnlyForOutputsThatCopyIt) {
  keras64::test::ScratchDir dir;
  const auto tmp = dir.path() / "tmp";
  std::filesystem::create_directory(tmp);
  const TempDirectoryIs env(tmp);
  const auto saved = std::filesystem::path(KERAS64_TEST_DATA) / "interop" / "tfkeras" /
                     "sequential" / "savedmodel";
  auto src = keras64::open_source(saved);
  ASSERT_EQ(src->info().kind, keras64::SourceKind::tf_savedmodel);
  auto npy = keras64::open_sink("npy", dir.path() / "out");
  keras64::convert(*src, *npy);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "out" / "manifest.json"));
  EXPECT_TRUE(std::filesystem::is_empty(tmp));

  const keras64::Plan plan = keras64::make_plan(*src, keras64::CastMode::floats);
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
  EXPECT_EQ(plan.structure.tf_bundle, saved / "variables" / "variables");
  EXPECT_NE(plan.structure.config.find("\"class_name\""), std::string::npos);
  const std::vector<keras64::NativeFile> files = plan.structure.native_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path.parent_path(), tmp);
  EXPECT_EQ(files[0].path.filename().string().rfind("keras64-skeleton-", 0), 0u) << files[0].path;
  EXPECT_EQ(files[0].label, saved.string() + ":keras_metadata.pb");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp), {}), 1);
  // Written once: a second call hands over the same file.
  EXPECT_EQ(plan.structure.native_files()[0].path, files[0].path);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp), {}), 1);
}

// Every kind's stable name reads back as that kind; other strings are no kind.
TEST(SourceKinds, NamesRoundTrip) {
  using K = keras64::SourceKind;
  for (K k : {K::unknown, K::keras3, K::keras3_weights, K::keras3_sharded, K::tfkeras, K::legacy_h5,
              K::legacy_weights_h5, K::npy_dir, K::npz, K::memmap_dir, K::safetensors,
              K::tf_checkpoint, K::tf_savedmodel, K::python})
    EXPECT_EQ(keras64::source_kind(keras64::kind_name(k)), k) << keras64::kind_name(k);
  EXPECT_EQ(keras64::kind_name(K::legacy_weights_h5), "legacy-weights-h5");
  EXPECT_EQ(keras64::kind_name(K::tf_savedmodel), "tf-savedmodel");
  EXPECT_FALSE(keras64::source_kind("legacy").has_value());
  EXPECT_FALSE(keras64::source_kind("").has_value());
}

// The outputs that copy Keras 3's layout take exactly the kinds keras3_layout() names, and say
// what they need otherwise; legacy-h5 takes the others.
TEST(SourceKinds, Keras3LayoutDecidesTheStructuralOutputs) {
  using K = keras64::SourceKind;
  for (K k : {K::keras3, K::keras3_weights, K::keras3_sharded, K::tfkeras})
    EXPECT_TRUE(keras64::keras3_layout(k)) << keras64::kind_name(k);
  for (K k : {K::unknown, K::legacy_h5, K::legacy_weights_h5, K::npy_dir, K::npz, K::memmap_dir,
              K::safetensors, K::tf_checkpoint, K::tf_savedmodel, K::python})
    EXPECT_FALSE(keras64::keras3_layout(k)) << keras64::kind_name(k);

  keras64::test::ScratchDir dir;
  const auto archive = kGolden / "mlp" / "model.keras";
  auto src = keras64::open_source(archive);
  keras64::Plan plan = keras64::make_plan(*src, keras64::CastMode::floats);
  plan.source.kind = K::npz;
  const std::string tail = ", not a npz input";
  keras64::test::expect_error(
      [&] { keras64::open_sink("weights.h5", dir.path() / "o.weights.h5")->begin(plan); },
      Errc::unsupported,
      archive.string() +
          ": the weights.h5 format needs a Keras 3 input (.keras, .weights.h5, sharded "
          ".weights.json) or a tf.keras .keras; legacy-h5 is the format for a legacy .h5" +
          tail);
  keras64::test::expect_error(
      [&] { keras64::open_sink("keras", dir.path() / "o.keras")->begin(plan); }, Errc::unsupported,
      archive.string() +
          ": the keras format needs a Keras 3 input (.keras, or .weights.h5 / sharded weights "
          "with the model) or a tf.keras .keras" +
          tail);
  plan.source.kind = K::keras3;
  keras64::test::expect_error(
      [&] { keras64::open_sink("legacy-h5", dir.path() / "o.h5")->begin(plan); }, Errc::unsupported,
      archive.string() +
          ": the legacy-h5 format needs a legacy .h5 input or a tf-keras SavedModel; weights.h5 "
          "and keras are the formats for Keras 3 files, not a keras3 input");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}
