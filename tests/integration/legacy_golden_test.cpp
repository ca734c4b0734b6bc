// Every real-Keras golden model's legacy files (model_legacy.h5 from model.save, and
// model_legacy_weights.h5 from the legacy save_weights) list their tensors exactly as
// expected/manifest.json says model.get_weights() does: the manifest's legacy dataset paths, in
// order, with shapes and dtypes. The custom model is the case where the file's per-layer order
// (trainable first) differs from get_weights() order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden.hpp"
#include "keras64/error.hpp"
#include "keras64/source.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

using keras64::test::kGolden;

namespace {

std::vector<std::string> models() {
  return keras64::test::golden_models();
}
json manifest(const std::string& m) {
  return keras64::test::golden_manifest(m);
}

// Checks the tensors against the manifest's `kind` locations ("legacy_h5" paths start with
// model_weights/ or optimizer_weights/; "legacy_weights_h5" paths are relative to the root).
void expect_matches(const keras64::Source& src, const json& m, const std::string& kind,
                    bool with_optimizer) {
  std::vector<json> vars(m["variables"].begin(), m["variables"].end());
  if (with_optimizer)
    for (const auto& v : m["optimizer_variables"])
      if (v["locations"].contains(kind) && v["locations"][kind].is_string()) vars.push_back(v);
  const auto& ts = src.tensors();
  ASSERT_EQ(ts.size(), vars.size()) << src.info().file;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    SCOPED_TRACE(src.info().file + " tensor " + std::to_string(i));
    const std::string loc = vars[i]["locations"][kind].get<std::string>();
    EXPECT_EQ(ts[i].dataset, "/" + loc);
    const bool model = i < m["variables"].size();
    // Names are the dataset path relative to model_weights/ (or the root of a weights-only file).
    const std::string rel =
        kind == "legacy_h5" && model ? loc.substr(std::string("model_weights/").size()) : loc;
    EXPECT_EQ(ts[i].name, rel);
    EXPECT_EQ(ts[i].shape, vars[i]["shape"].get<keras64::Shape>());
    EXPECT_EQ(keras64::info(ts[i].dtype).name, vars[i]["dtype"].get<std::string>());
    EXPECT_EQ(ts[i].role, model ? keras64::Role::model : keras64::Role::optimizer);
    if (model) {
      EXPECT_EQ(ts[i].name, ts[i].layer + "/" + ts[i].keras_path);
      EXPECT_EQ(ts[i].keras_path.substr(ts[i].keras_path.rfind('/') + 1),
                vars[i]["name"].get<std::string>());
    }
  }
}

}  // namespace

class LegacyGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LegacyGolden, FullModelH5) {
  const json m = manifest(GetParam());
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy.h5");
  EXPECT_EQ(keras64::kind_name(src->info().kind), "legacy-h5");
  EXPECT_EQ(src->info().keras_version, "3.15.1");
  EXPECT_EQ(src->info().model_name, m["model_name"].get<std::string>());
  EXPECT_TRUE(src->info().order_exact) << src->info().note;
  EXPECT_NE(src->structure().config.find("\"class_name\""), std::string::npos);
  expect_matches(*src, m, "legacy_h5", false);
}

TEST_P(LegacyGolden, FullModelH5WithOptimizer) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.include_optimizer = true;
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy.h5", o);
  expect_matches(*src, m, "legacy_h5", true);
}

TEST_P(LegacyGolden, WeightsOnlyH5WithModel) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.model = kGolden / GetParam() / "model.keras";
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy_weights.h5", o);
  EXPECT_EQ(keras64::kind_name(src->info().kind), "legacy-weights-h5");
  EXPECT_TRUE(src->info().order_exact) << src->info().note;
  expect_matches(*src, m, "legacy_weights_h5", false);
}

TEST_P(LegacyGolden, WeightsOnlyH5WithLegacyModel) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.model = kGolden / GetParam() / "model_legacy.h5";
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy_weights.h5", o);
  EXPECT_TRUE(src->info().order_exact) << src->info().note;
  expect_matches(*src, m, "legacy_weights_h5", false);
}

// Without an architecture the layers still come in layer_names order and each layer whose
// owners can be ranked alone is reordered; layers with sibling sublayers keep file order (which
// for these files is get_weights() order) and the source says the order is not certain.
TEST_P(LegacyGolden, WeightsOnlyH5Alone) {
  const json m = manifest(GetParam());
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy_weights.h5");
  EXPECT_EQ(keras64::kind_name(src->info().kind), "legacy-weights-h5");
  EXPECT_TRUE(src->structure().config.empty());
  if (!src->info().order_exact) {
    EXPECT_EQ(src->info().order_hint, keras64::Hint::model);
    EXPECT_EQ(src->info().note.find("--"), std::string::npos) << src->info().note;
  }
  expect_matches(*src, m, "legacy_weights_h5", false);
}

TEST_P(LegacyGolden, ReadsEveryTensor) {
  keras64::OpenOptions o;
  o.include_optimizer = true;
  auto src = keras64::open_source(kGolden / GetParam() / "model_legacy.h5", o);
  for (std::size_t i = 0; i < src->tensors().size(); ++i) {
    const auto& t = src->tensors()[i];
    std::vector<unsigned char> buf(t.nbytes());
    src->read(i, 0, t.elements(), buf.data());
  }
}

INSTANTIATE_TEST_SUITE_P(Keras315, LegacyGolden, ::testing::ValuesIn(models()),
                         [](const auto& p) { return p.param; });

TEST(LegacyGoldenOrder, CustomLayerIsReorderedIntoGetWeightsOrder) {
  auto src = keras64::open_source(kGolden / "custom" / "model_legacy.h5");
  std::vector<std::string> names;
  for (const auto& t : src->tensors()) names.push_back(t.keras_path);
  EXPECT_EQ(names, (std::vector<std::string>{"custom/resid/scale", "custom/resid/offset",
                                             "custom/resid/calls", "custom/resid/proj/kernel",
                                             "custom/resid/proj/bias", "custom/dense/kernel",
                                             "custom/dense/bias"}));
  EXPECT_TRUE(src->info().order_exact);
}

TEST(LegacyGoldenOrder, ExtensionDoesNotMatter) {
  const fs::path dir =
      fs::temp_directory_path() / ("keras64_legacy_ext_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kGolden / "mlp" / "model_legacy.h5", dir / "x.keras",
                fs::copy_options::overwrite_existing);
  auto src = keras64::open_source(dir / "x.keras");
  EXPECT_EQ(keras64::kind_name(src->info().kind), "legacy-h5");
  EXPECT_EQ(src->tensors().size(), 4u);
  fs::remove_all(dir);
}
