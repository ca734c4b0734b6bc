// Every real-Keras golden model, in every Keras 3 file kind, lists its tensors exactly as
// expected/manifest.json says model.get_weights() does: same datasets, same order, shapes and
// dtypes. (Values are checked against expected/weights_f64.npz, through every output form, by
// tests/integration/test_golden_outputs.py.)
#include <gtest/gtest.h>

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

// The manifest's dataset for a variable in a given file kind (the first, for optimizer variables
// stored twice by LossScaleOptimizer, is the inner copy: keras64 lists optimizer/vars).
std::string location(const json& var, const std::string& kind) {
  const json& loc = var["locations"][kind];
  if (loc.is_string()) return loc.get<std::string>();
  if (loc.is_object()) return loc["dataset"].get<std::string>();
  for (const auto& l : loc) {
    const std::string d = l.is_object() ? l["dataset"].get<std::string>() : l.get<std::string>();
    if (d.rfind("optimizer/vars/", 0) == 0) return d;
  }
  return loc[0].is_object() ? loc[0]["dataset"].get<std::string>() : loc[0].get<std::string>();
}

void expect_matches(const keras64::Source& src, const json& m, const std::string& kind,
                    bool with_optimizer) {
  std::vector<json> vars(m["variables"].begin(), m["variables"].end());
  if (with_optimizer)
    for (const auto& v : m["optimizer_variables"]) vars.push_back(v);
  const auto& ts = src.tensors();
  ASSERT_EQ(ts.size(), vars.size()) << src.info().file;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    SCOPED_TRACE(src.info().file + " tensor " + std::to_string(i));
    EXPECT_EQ(ts[i].name, location(vars[i], kind));
    EXPECT_EQ(ts[i].shape, vars[i]["shape"].get<keras64::Shape>());
    EXPECT_EQ(keras64::info(ts[i].dtype).name, vars[i]["dtype"].get<std::string>());
    EXPECT_EQ(ts[i].role,
              i < m["variables"].size() ? keras64::Role::model : keras64::Role::optimizer);
  }
}

}  // namespace

class GoldenOrder : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenOrder, KerasArchive) {
  const json m = manifest(GetParam());
  auto src = keras64::open_source(kGolden / GetParam() / "model.keras");
  EXPECT_EQ(keras64::kind_name(src->info().kind), "keras3");
  EXPECT_EQ(src->info().keras_version, "3.15.1");
  EXPECT_TRUE(src->info().order_exact) << src->info().note;
  expect_matches(*src, m, "keras", false);
}

TEST_P(GoldenOrder, KerasArchiveWithOptimizer) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.include_optimizer = true;
  auto src = keras64::open_source(kGolden / GetParam() / "model.keras", o);
  expect_matches(*src, m, "keras", true);
}

TEST_P(GoldenOrder, WeightsFileWithModel) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.model = kGolden / GetParam() / "model.keras";
  o.include_optimizer = true;
  auto src = keras64::open_source(kGolden / GetParam() / "model.weights.h5", o);
  EXPECT_EQ(keras64::kind_name(src->info().kind), "keras3-weights");
  EXPECT_TRUE(src->info().order_exact);
  expect_matches(*src, m, "weights_h5", true);
}

TEST_P(GoldenOrder, ShardedWithModel) {
  const json m = manifest(GetParam());
  keras64::OpenOptions o;
  o.model = kGolden / GetParam() / "model.keras";
  o.include_optimizer = true;
  auto src = keras64::open_source(kGolden / GetParam() / "model_sharded.weights.json", o);
  EXPECT_EQ(keras64::kind_name(src->info().kind), "keras3-sharded");
  expect_matches(*src, m, "sharded", true);
  // Each tensor names the shard it lives in.
  const auto& vars = m["variables"];
  for (std::size_t i = 0; i < vars.size(); ++i)
    EXPECT_EQ(fs::path(src->tensors()[i].file).filename().string(),
              vars[i]["locations"]["sharded"]["file"].get<std::string>());
}

TEST_P(GoldenOrder, WeightsFileAloneSaysOrderIsUnknown) {
  auto src = keras64::open_source(kGolden / GetParam() / "model.weights.h5");
  EXPECT_FALSE(src->info().order_exact);
  EXPECT_EQ(src->info().order_hint, keras64::Hint::model);  // the architecture would say
  EXPECT_EQ(src->info().note.find("--"), std::string::npos) << src->info().note;
  // Same tensors, maybe in another order.
  const json m = manifest(GetParam());
  std::set<std::string> want, got;
  for (const auto& v : m["variables"]) want.insert(location(v, "weights_h5"));
  for (const auto& t : src->tensors()) got.insert(t.name);
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Keras315, GoldenOrder, ::testing::ValuesIn(models()),
                         [](const auto& p) { return p.param; });
