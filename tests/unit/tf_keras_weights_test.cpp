// detail::tf::rebuild_weights: tf-keras's get_weights() / layer.weights order of a SavedModel saved
// without traces, rebuilt from the object graph and the Keras metadata. Checked against every
// list tf-keras 2.21 itself recorded (the golden SavedModels saved with traces: the root's
// `variables` and each layer's), and on small graphs for the rules the goldens do not reach
// (frozen layers, trainable-first across sublayers, lists of layers) and for what is refused.
#include "sources/tf_keras_weights.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

namespace {

using namespace keras64::detail::tf;
namespace fs = std::filesystem;

TEST(TfKerasWeights, EveryListTfKerasRecordedIsRebuilt) {
  int models = 0;
  for (const auto& d :
       fs::directory_iterator(std::string(KERAS64_TEST_DATA) + "/interop/tfkeras")) {
    const fs::path dir = d.path() / "savedmodel";
    if (!fs::is_directory(dir)) continue;
    const SavedModelInfo sm = read_saved_model(dir, dir.string());
    const auto meta = read_keras_metadata(dir, sm, dir.string());
    ASSERT_TRUE(meta) << dir;
    if (!sm.root_variables) continue;  // rnn: saved without traces (tests/integration)
    std::string why;
    const auto r = rebuild_weights(sm, *meta, why);
    ASSERT_TRUE(r) << dir << ": " << why;
    EXPECT_EQ(r->model, *sm.root_variables) << dir;
    ASSERT_EQ(r->layers.size(), meta->layers.size());
    for (std::size_t l = 0; l < meta->layers.size(); ++l)
      if (meta->layers[l].listed)
        EXPECT_EQ(r->layers[l], meta->layers[l].variables) << dir << " " << meta->layers[l].name;
    ++models;
  }
  EXPECT_EQ(models, 8);  // every golden but rnn
}

// A SavedModel object graph built by hand: a Functional root whose `layer-<i>` edges are added
// with layer(), Keras layers and variables with the helpers below.
struct Graph {
  SavedModelInfo sm;
  KerasModelMetadata meta;

  Graph() { node("_tf_keras_network", true); }
  int node(const std::string& identifier, std::optional<bool> trainable = std::nullopt) {
    const int id = static_cast<int>(sm.nodes.size());
    sm.nodes.push_back({false, false, identifier, ""});
    sm.children.emplace_back();
    if (trainable) meta.trainable[id] = *trainable;
    return id;
  }
  int var(int parent, const std::string& name, bool trainable) {
    const int id = static_cast<int>(sm.nodes.size());
    sm.nodes.push_back({true, trainable, "", ""});
    sm.children.emplace_back();
    edge(parent, name, id);
    return id;
  }
  int sub(int parent, const std::string& name, const std::string& identifier = "_tf_keras_layer",
          std::optional<bool> trainable = true) {
    const int id = node(identifier, trainable);
    edge(parent, name, id);
    return id;
  }
  void edge(int from, const std::string& name, int to) {
    sm.children[static_cast<std::size_t>(from)].emplace_back(name, to);
  }
  int layer(const std::string& name, std::optional<bool> trainable = true) {
    const int id =
        sub(0, "layer-" + std::to_string(meta.layers.size()), "_tf_keras_layer", trainable);
    meta.layers.push_back({name, id, {}, false});
    return id;
  }
  std::vector<int> rebuilt() {
    std::string why;
    auto r = rebuild_weights(sm, meta, why);
    EXPECT_TRUE(r) << why;
    return r ? r->model : std::vector<int>{};
  }
  std::string refused() {
    std::string why;
    EXPECT_FALSE(rebuild_weights(sm, meta, why));
    return why;
  }
};

// Own trainable, the sublayers' trainable, own non-trainable, the sublayers' non-trainable
// (GatedBlock of the goldens, with a BatchNormalization-like sublayer added).
TEST(TfKerasWeights, TrainableFirstAcrossOwnAndSublayers) {
  Graph g;
  const int gated = g.layer("gated");
  const int b0 = g.sub(gated, "block0");
  const int k0 = g.var(b0, "kernel", true);
  const int bn = g.sub(gated, "norm");
  const int gamma = g.var(bn, "gamma", true);
  const int mean = g.var(bn, "moving_mean", false);
  const int gate = g.var(gated, "gate", true);
  const int steps = g.var(gated, "steps", false);
  EXPECT_EQ(g.rebuilt(), (std::vector<int>{gate, k0, gamma, steps, mean}));
}

// A frozen layer: nothing trainable; own variables (trainable ones first), then each sublayer's
// weights whole.
TEST(TfKerasWeights, FrozenLayer) {
  Graph g;
  const int gated = g.layer("gated", false);
  const int bn = g.sub(gated, "norm");
  const int gamma = g.var(bn, "gamma", true);
  const int mean = g.var(bn, "moving_mean", false);
  const int b0 = g.sub(gated, "block0");
  const int k0 = g.var(b0, "kernel", true);
  const int steps = g.var(gated, "steps", false);
  const int gate = g.var(gated, "gate", true);
  EXPECT_EQ(g.rebuilt(), (std::vector<int>{gate, steps, gamma, mean, k0}));
}

// A nested model: layer by layer (not trainable-first), a shared layer once, a list of layers
// expanded in index order, metrics and weightless objects ignored.
TEST(TfKerasWeights, NestedModelSharedLayerAndListOfLayers) {
  Graph g;
  const int inner = g.sub(0, "layer-0", "_tf_keras_sequential", true);
  g.meta.layers.push_back({"inner", inner, {}, false});
  const int d = g.sub(inner, "layer-0");
  const int k = g.var(d, "kernel", true);
  const int bn = g.sub(inner, "layer-1");
  const int mean = g.var(bn, "moving_mean", false);
  const int gamma = g.var(bn, "gamma", true);
  const int outer = g.layer("outer");
  const int list = g.sub(outer, "blocks", "trackable_list_wrapper", std::nullopt);
  const int second = g.sub(list, "1");
  const int first = g.sub(list, "0");
  const int k2 = g.var(second, "kernel", true);
  const int k1 = g.var(first, "kernel", true);
  g.edge(outer, "again", first);
  const int metric = g.sub(outer, "acc", "_tf_keras_metric", std::nullopt);
  g.var(metric, "total", false);
  g.sub(outer, "_random_generator", "_generic_user_object", std::nullopt);
  g.edge(0, "layer-2", inner);  // the same layer twice: once
  g.meta.layers.push_back({"inner", inner, {}, false});
  EXPECT_EQ(g.rebuilt(), (std::vector<int>{k, gamma, mean, k1, k2}));
}

TEST(TfKerasWeights, RefusesWhatTheGraphCannotPlace) {
  {
    Graph g;
    const int l = g.layer("l");
    const int dict = g.sub(l, "by_name", "trackable_dict_wrapper", std::nullopt);
    g.var(g.sub(dict, "a"), "kernel", true);
    EXPECT_EQ(g.refused(),
              "root.layer-0.by_name (trackable_dict_wrapper) holds variables, but is no Keras "
              "layer or list of layers");
  }
  {
    Graph g;
    const int list = g.sub(g.layer("l"), "ws", "trackable_list_wrapper", std::nullopt);
    g.var(list, "0", true);
    EXPECT_EQ(g.refused(),
              "root.layer-0.ws.0: a variable in a list (tf-keras may or may not count it as the "
              "layer's own)");
  }
  {
    Graph g;
    const int l = g.layer("l");
    g.var(l, "kernel", true);
    g.meta.trainable.erase(l);
    EXPECT_EQ(g.refused(), "root.layer-0 (_tf_keras_layer) has no Keras metadata");
  }
  {
    Graph g;
    const int a = g.layer("a");
    const int b = g.sub(a, "b");
    g.var(b, "kernel", true);
    g.edge(b, "a", a);
    EXPECT_EQ(g.refused(), "root.layer-0 nests layers deeper than 64 (a cycle?)");
  }
  {
    Graph g;
    g.sm.nodes[0].identifier = "_tf_keras_model";
    EXPECT_EQ(g.refused(), "root (_tf_keras_model) is not a Functional or Sequential model");
  }
}

}  // namespace
