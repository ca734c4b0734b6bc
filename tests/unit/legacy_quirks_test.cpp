// Legacy HDF5 quirks, one test each, on small files written at test time by h5py
// (tests/data/legacy/make_quirks.py): Keras 1.x names and 12-array LSTMs, ":0" suffixes, deeply
// nested and renamed weight names, string attribute flavours, chunked layer_names, weightless
// layers, layer_names order, bfloat16 without its dtype attribute, nested models, inconsistent
// files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "keras64/error.hpp"
#include "keras64/source.hpp"

namespace fs = std::filesystem;
using keras64::DType;
using keras64::Errc;

namespace {

class LegacyQuirks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("keras64_legacy_quirks_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const std::string cmd = std::string(KERAS64_PYTHON) + " " + KERAS64_TEST_DATA +
                            "/legacy/make_quirks.py " + dir_.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::unique_ptr<keras64::Source> open(const std::string& name,
                                               keras64::OpenOptions o = {}) {
    return keras64::open_source(dir_ / name, o);
  }
  static std::vector<std::string> names(const keras64::Source& s) {
    std::vector<std::string> out;
    for (const auto& t : s.tensors()) out.push_back(t.name);
    return out;
  }
  static std::vector<std::string> keras_paths(const keras64::Source& s) {
    std::vector<std::string> out;
    for (const auto& t : s.tensors()) out.push_back(t.keras_path);
    return out;
  }
  static std::vector<float> floats(keras64::Source& s, std::size_t i) {
    std::vector<float> v(s.tensors()[i].elements());
    s.read(i, 0, v.size(), v.data());
    return v;
  }
  // The Error open() throws for `name`, with its message checked in full.
  static void expect_error(const std::string& name, Errc code, const std::string& what) {
    try {
      open(name);
      ADD_FAILURE() << name << ": no error";
    } catch (const keras64::Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_EQ(std::string(e.what()), (dir_ / name).string() + what);
    }
  }

  static fs::path dir_;
};

fs::path LegacyQuirks::dir_;

}  // namespace

TEST_F(LegacyQuirks, Keras1NamesAndTwelveArrayLstm) {
  auto s = open("keras1.h5");
  EXPECT_EQ(keras64::kind_name(s->info().kind), "legacy-h5");
  EXPECT_EQ(s->info().keras_version, "1.2.2");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  ASSERT_EQ(s->tensors().size(), 14u);
  std::vector<std::string> want;
  for (const char* g : {"i", "c", "f", "o"})
    for (const char* m : {"W", "U", "b"})
      want.push_back(std::string("lstm_1/lstm_1_") + m + "_" + g);
  want.push_back("dense_1/dense_1_W");
  want.push_back("dense_1/dense_1_b");
  EXPECT_EQ(names(*s), want);
  EXPECT_EQ(s->tensors()[0].layer, "lstm_1");
  EXPECT_EQ(s->tensors()[0].keras_path, "lstm_1_W_i");
  EXPECT_EQ(s->tensors()[12].shape, (keras64::Shape{4, 2}));
  EXPECT_EQ(floats(*s, 13), (std::vector<float>{1300, 1301}));
}

TEST_F(LegacyQuirks, NamesWithAndWithoutColonZero) {
  auto s = open("tf2_colon.h5");
  EXPECT_EQ(keras64::kind_name(s->info().kind), "legacy-weights-h5");
  EXPECT_EQ(names(*s),
            (std::vector<std::string>{"dense/dense/kernel:0", "dense/dense/bias:0",
                                      "dense_1/dense_1/kernel", "dense_1/dense_1/bias"}));
  EXPECT_EQ(keras_paths(*s), (std::vector<std::string>{"dense/kernel", "dense/bias",
                                                       "dense_1/kernel", "dense_1/bias"}));
  EXPECT_EQ(s->tensors()[0].dataset, "/dense/dense/kernel:0");
  EXPECT_EQ(floats(*s, 1), (std::vector<float>{100, 101}));
}

TEST_F(LegacyQuirks, DeeplyNestedNames) {
  auto s = open("nested_lstm.h5");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  EXPECT_EQ(names(*s), (std::vector<std::string>{"model/model/lstm/lstm_cell/kernel:0",
                                                 "model/model/lstm/lstm_cell/recurrent_kernel:0",
                                                 "model/model/lstm/lstm_cell/bias:0",
                                                 "dense/dense/kernel:0", "dense/dense/bias:0"}));
  EXPECT_EQ(s->tensors()[0].dataset, "/model_weights/model/model/lstm/lstm_cell/kernel:0");
  EXPECT_EQ(s->tensors()[0].keras_path, "model/lstm/lstm_cell/kernel");
  EXPECT_EQ(s->tensors()[0].layer, "model");
}

TEST_F(LegacyQuirks, WeightNamePrefixIsNotTheLayerGroup) {
  auto s = open("renamed.h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"head/dense_7/kernel:0", "head/dense_7/bias:0"}));
  EXPECT_EQ(s->tensors()[0].layer, "head");
  EXPECT_EQ(s->tensors()[0].keras_path, "dense_7/kernel");
}

TEST_F(LegacyQuirks, FixedLengthAsciiAttributes) {
  // keras1.h5 has fixed-length model_config, keras_version, layer_names and weight_names.
  auto s = open("keras1.h5");
  EXPECT_NE(s->structure().config.find("\"lstm_1\""), std::string::npos);
  EXPECT_EQ(s->tensors().size(), 14u);
}

TEST_F(LegacyQuirks, VariableLengthAsciiAttributes) {
  auto s = open("ascii_vlen.h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"dense/dense/kernel:0"}));
}

TEST_F(LegacyQuirks, VariableLengthUtf8Attributes) {
  auto s = open("utf8_vlen.h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"d\xc3\xa9nse/d\xc3\xa9nse/kernel:0"}));
  EXPECT_EQ(floats(*s, 0), (std::vector<float>{0, 1, 2, 3}));
}

TEST_F(LegacyQuirks, FixedLengthUtf8Attributes) {
  auto s = open("utf8_fixed.h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"d\xc3\xa9nse/d\xc3\xa9nse/kernel:0"}));
  EXPECT_EQ(s->tensors()[0].layer, "d\xc3\xa9nse");
}

TEST_F(LegacyQuirks, LayerNamesSplitIntoChunks) {
  auto s = open("chunked.h5");
  ASSERT_EQ(s->tensors().size(), 1500u);
  char want[64];
  std::snprintf(want, sizeof want, "layer_%054d", 1234);
  EXPECT_EQ(s->tensors()[1234].layer, want);
  EXPECT_EQ(s->tensors()[0].keras_path,
            std::string("layer_") + std::string(54, '0') + "/w");  // weight_names0
  EXPECT_EQ(floats(*s, 1499), (std::vector<float>{149900}));
}

TEST_F(LegacyQuirks, LayersWithoutWeightsHaveEmptyFloatWeightNames) {
  auto s = open("weightless.h5");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  EXPECT_EQ(names(*s),
            (std::vector<std::string>{"dense/seq/dense/kernel", "dense/seq/dense/bias",
                                      "dense_1/seq/dense_1/kernel", "dense_1/seq/dense_1/bias"}));
}

TEST_F(LegacyQuirks, LayerNamesOrderIsNotHdf5Order) {
  auto s = open("order.h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"zeta/zeta/kernel:0", "alpha/alpha/kernel:0",
                                                 "mid/mid/kernel:0"}));
  EXPECT_EQ(floats(*s, 1), (std::vector<float>{100, 101, 102}));
}

TEST_F(LegacyQuirks, Bfloat16OpaqueWithoutDtypeAttribute) {
  auto s = open("bf16.h5");
  ASSERT_EQ(s->tensors().size(), 1u);
  EXPECT_EQ(s->tensors()[0].dtype, DType::bf16);
  std::uint16_t bits[3];
  s->read(0, 0, 3, bits);
  EXPECT_EQ(bits[0], 0x3F80);
  EXPECT_EQ(bits[1], 0x4000);
  EXPECT_EQ(bits[2], 0xBF80);
}

TEST_F(LegacyQuirks, NestedModelsReorderedWithConfig) {
  const std::vector<std::string> want = {
      "block/d1/kernel", "block/d1/bias",        "block/bn/gamma",
      "block/bn/beta",   "block/bn/moving_mean", "block/bn/moving_variance",
      "block/d2/kernel", "block/d2/bias",        "prep/e1/kernel",
      "prep/e1/bias",    "prep/norm/mean",       "prep/norm/variance",
      "prep/norm/count", "prep/e2/kernel",       "prep/e2/bias"};
  auto s = open("nested_models.h5");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  EXPECT_EQ(keras_paths(*s), want);
  // The weights-only twin with the architecture from a .keras config.
  keras64::OpenOptions o;
  o.model = dir_ / "nested_models_arch.keras";
  auto w = open("nested_models_weights.h5", o);
  EXPECT_TRUE(w->info().order_exact) << w->info().note;
  EXPECT_EQ(keras_paths(*w), want);
  EXPECT_NE(w->structure().config.find("\"prep\""), std::string::npos);
}

TEST_F(LegacyQuirks, NestedModelsWithoutConfigSayOrderUnknown) {
  auto s = open("nested_models_weights.h5");
  EXPECT_FALSE(s->info().order_exact);
  EXPECT_EQ(s->info().note,
            "layer 'block' holds variables of several sublayers and the file does not say which "
            "are trainable; "
            "file order used");
  EXPECT_EQ(s->info().order_hint, keras64::Hint::model);
  EXPECT_EQ(s->tensors().size(), 15u);
  EXPECT_EQ(s->tensors()[4].keras_path, "block/d2/kernel");  // file order
}

TEST_F(LegacyQuirks, CustomLayerOwnNonTrainableBeforeSublayer) {
  // Written by Keras 3: own variables first, then the sublayer's.
  auto s = open("custom3.h5");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  EXPECT_EQ(keras_paths(*s), (std::vector<std::string>{"resid/scale", "resid/offset", "resid/calls",
                                                       "resid/proj/kernel", "resid/proj/bias"}));
  EXPECT_EQ(s->tensors()[2].dtype, DType::i32);
  // Written by tf.keras 2.15: a layer lists its sublayers' variables as the file does.
  auto t = open("custom.h5");
  EXPECT_TRUE(t->info().order_exact) << t->info().note;
  EXPECT_EQ(keras_paths(*t),
            (std::vector<std::string>{"resid/scale", "resid/offset", "resid/proj/kernel",
                                      "resid/proj/bias", "resid/calls"}));
}

TEST_F(LegacyQuirks, Keras2SublayersWithoutConfigSayOrderUnknown) {
  auto s = open("keras2_sublayers_only.h5");
  EXPECT_FALSE(s->info().order_exact);
  EXPECT_EQ(s->info().note,
            "layer 'blk' holds variables of sublayers, and only the architecture says whether it "
            "is a nested model (weights layer by layer) or a layer (file order, as Keras 2 lists "
            "them); file order used");
  EXPECT_EQ(s->info().order_hint, keras64::Hint::model);
  EXPECT_EQ(keras_paths(*s),
            (std::vector<std::string>{"blk/a/kernel", "blk/b/kernel", "blk/a/moving_mean"}));
}

TEST_F(LegacyQuirks, UnknownSiblingSublayersKeepFileOrder) {
  auto s = open("unknown_siblings.h5");
  EXPECT_FALSE(s->info().order_exact);
  EXPECT_EQ(s->info().note,
            "layer 'blk' (class MyBlock) holds variables of several sublayers and the file does "
            "not say which are "
            "trainable; file order used");
  EXPECT_EQ(keras_paths(*s),
            (std::vector<std::string>{"blk/a/kernel", "blk/b/kernel", "blk/a/moving_mean"}));
}

TEST_F(LegacyQuirks, OptimizerWeights) {
  EXPECT_EQ(open("optimizer.h5")->tensors().size(), 2u);
  keras64::OpenOptions o;
  o.include_optimizer = true;
  auto s = open("optimizer.h5", o);
  ASSERT_EQ(s->tensors().size(), 5u);
  EXPECT_EQ(s->tensors()[2].name, "optimizer_weights/Adam/iter:0");
  EXPECT_EQ(s->tensors()[2].dataset, "/optimizer_weights/Adam/iter:0");
  EXPECT_EQ(s->tensors()[2].role, keras64::Role::optimizer);
  EXPECT_EQ(s->tensors()[2].dtype, DType::i64);
  EXPECT_EQ(s->tensors()[4].keras_path, "Adam/dense/bias/m");
}

TEST_F(LegacyQuirks, LegacyFileNamedDotKeras) {
  auto s = open("legacy_named.keras");
  EXPECT_EQ(keras64::kind_name(s->info().kind), "legacy-weights-h5");
  EXPECT_EQ(names(*s), (std::vector<std::string>{"dense/dense/kernel:0"}));
}

TEST_F(LegacyQuirks, WeightNamesPointAtMissingDataset) {
  expect_error("bad_missing_dataset.h5", Errc::corrupt,
               ":/dense/dense/bias:0: missing dataset: layer 'dense' lists weight 'dense/bias:0' "
               "in weight_names");
}

TEST_F(LegacyQuirks, LayerNamesNameMissingGroup) {
  expect_error("bad_missing_group.h5", Errc::corrupt,
               ":/dense_1: missing group for layer 'dense_1' (listed in layer_names)");
}

TEST_F(LegacyQuirks, LayerCountDisagreesWithConfig) {
  expect_error(
      "bad_layer_count.h5", Errc::mismatch,
      ":/model_weights: layer count mismatch: layer_names lists 1 layers, the model config has 2");
}

TEST_F(LegacyQuirks, NoLayerNames) {
  expect_error("bad_no_layer_names.h5", Errc::corrupt, ":/model_weights: no layer_names attribute");
}

// tf.keras 2.13-2.15 `.keras`: layers under _layer_checkpoint_dependencies/ with keys that skip
// numbers (every weighted layer is in that dict twice), paired with the config by class.
TEST_F(LegacyQuirks, TfKerasZipCheckpointDependencies) {
  keras64::OpenOptions o;
  o.include_optimizer = true;
  auto s = open("tfkeras_ckpt_deps.keras", o);
  EXPECT_EQ(keras64::kind_name(s->info().kind), "tfkeras");
  EXPECT_EQ(s->info().keras_version, "2.13.1");
  EXPECT_EQ(s->info().model_name, "seq");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  const std::string d = "_layer_checkpoint_dependencies/";
  EXPECT_EQ(names(*s), (std::vector<std::string>{
                           d + "dense/vars/0", d + "dense/vars/1", d + "batch_normalization/vars/0",
                           d + "batch_normalization/vars/1", d + "batch_normalization/vars/2",
                           d + "batch_normalization/vars/3", d + "lstm/cell/vars/0",
                           d + "lstm/cell/vars/1", d + "lstm/cell/vars/2", d + "dense_2/vars/0",
                           d + "dense_2/vars/1", "optimizer/vars/0", "optimizer/vars/1"}));
  EXPECT_EQ(s->tensors()[9].layer, "dense_1");
  EXPECT_EQ(s->tensors()[12].role, keras64::Role::optimizer);
  EXPECT_EQ(floats(*s, 10), (std::vector<float>{1000}));
  EXPECT_NE(s->structure().config.find("\"seq\""), std::string::npos);
}

// Written on Windows: os.path.join put '\' inside group names
// ("_layer_checkpoint_dependencies\dense").
TEST_F(LegacyQuirks, TfKerasZipWindowsBackslashNames) {
  auto s = open("tfkeras_windows.keras");
  EXPECT_EQ(keras64::kind_name(s->info().kind), "tfkeras");
  EXPECT_TRUE(s->info().order_exact) << s->info().note;
  ASSERT_EQ(s->tensors().size(), 11u);
  EXPECT_EQ(s->tensors()[0].name, "_layer_checkpoint_dependencies/dense/vars/0");
  EXPECT_EQ(s->tensors()[0].dataset, "/_layer_checkpoint_dependencies\\dense/vars/0");
  EXPECT_EQ(s->tensors()[6].name, "_layer_checkpoint_dependencies/lstm/cell/vars/0");
  EXPECT_EQ(floats(*s, 1), (std::vector<float>{100, 101, 102, 103}));
}

TEST_F(LegacyQuirks, KerasThreeArchiveIsNotTfKeras) {
  auto s = keras64::open_source(fs::path(KERAS64_TEST_DATA) / "golden" / "mlp" / "model.keras");
  EXPECT_EQ(keras64::kind_name(s->info().kind), "keras3");
}
