// detail::rewrite_policies: every float policy at every depth becomes the target; integers,
// symbolic tensors and non-dtype keys stay; quantized policies are refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "detail/policy_rewrite.hpp"
#include "expect_error.hpp"
#include "keras64/error.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::detail::rewrite_policies;
using keras64::test::error_of;
using ojson = nlohmann::ordered_json;

namespace {

ojson policy(const std::string& name, int shared = -1) {
  ojson p = {{"module", "keras"},
             {"class_name", "DTypePolicy"},
             {"config", {{"name", name}}},
             {"registered_name", nullptr}};
  if (shared >= 0) p["shared_object_id"] = shared;
  return p;
}

ojson layer(const std::string& cls, const std::string& name, ojson dtype, ojson extra = {}) {
  ojson cfg = {{"name", name}, {"trainable", true}, {"dtype", std::move(dtype)}};
  for (auto& [k, v] : extra.items()) cfg[k] = v;
  return {{"module", "keras.layers"}, {"class_name", cls}, {"config", cfg}};
}

std::string name_of(const ojson& dtype) {
  return dtype.is_string() ? dtype.get<std::string>() : dtype["config"]["name"].get<std::string>();
}

}  // namespace

TEST(PolicyRewrite, SequentialWithInputLayerAndSharedIds) {
  ojson c = {{"class_name", "Sequential"},
             {"config",
              {{"name", "mlp"},
               {"dtype", policy("float32", 7)},
               {"layers",
                {layer("InputLayer", "in", "float32"), layer("Dense", "d0", policy("float32")),
                 layer("Dense", "d1", policy("float32", 7))}}}}};
  auto r = rewrite_policies(c, "float64", "t");
  EXPECT_EQ(r.policies, 3u);
  EXPECT_EQ(r.strings, 1u);
  EXPECT_EQ(r.changed, 4u);
  EXPECT_EQ(name_of(c["config"]["dtype"]), "float64");
  EXPECT_EQ(c["config"]["dtype"]["shared_object_id"], 7);  // kept; every occurrence rewritten
  for (const auto& l : c["config"]["layers"]) EXPECT_EQ(name_of(l["config"]["dtype"]), "float64");
}

TEST(PolicyRewrite, NestedModelsAndWrappedLayers) {
  ojson inner = {{"class_name", "Sequential"},
                 {"config",
                  {{"name", "ffn"},
                   {"dtype", policy("mixed_bfloat16")},
                   {"layers", {layer("Dense", "a", policy("mixed_bfloat16"))}}}}};
  ojson bidi = layer("Bidirectional", "bi", policy("float16"),
                     {{"layer", layer("GRU", "fw", policy("float16"))},
                      {"backward_layer", layer("GRU", "bw", policy("bfloat16"))}});
  ojson td = layer("TimeDistributed", "td", policy("mixed_float16"),
                   {{"layer", layer("Dense", "x", policy("mixed_float16"))}});
  ojson c = {{"class_name", "Functional"},
             {"config", {{"name", "f"}, {"layers", {inner, bidi, td}}}}};
  rewrite_policies(c, "float64", "t");
  const auto& L = c["config"]["layers"];
  EXPECT_EQ(name_of(L[0]["config"]["dtype"]), "float64");
  EXPECT_EQ(name_of(L[0]["config"]["layers"][0]["config"]["dtype"]), "float64");
  EXPECT_EQ(name_of(L[1]["config"]["dtype"]), "float64");
  EXPECT_EQ(name_of(L[1]["config"]["layer"]["config"]["dtype"]), "float64");
  EXPECT_EQ(name_of(L[1]["config"]["backward_layer"]["config"]["dtype"]), "float64");
  EXPECT_EQ(name_of(L[2]["config"]["layer"]["config"]["dtype"]), "float64");
}

TEST(PolicyRewrite, IntegersAndOtherKeysUntouchedFloatTensorsRewritten) {
  ojson tensor = {{"class_name", "__keras_tensor__"},
                  {"config", {{"shape", {nullptr, 5}}, {"dtype", "float32"}}}};
  ojson ids = {{"class_name", "__keras_tensor__"},
               {"config", {{"shape", {nullptr, 5}}, {"dtype", "int32"}}}};
  ojson c = {{"class_name", "Functional"},
             {"config",
              {{"layers",
                {layer("InputLayer", "ids", "int32"), layer("Discretization", "disc", "int64"),
                 layer("Embedding", "emb", policy("int32")),
                 layer("Dense", "d", policy("float32"),
                       {{"inbound_nodes", {{{"args", {tensor, ids}}}}}, {"note", "float32"}})}}}}};
  const ojson before = c;
  auto r = rewrite_policies(c, "float64", "t");
  const auto& L = c["config"]["layers"];
  EXPECT_EQ(L[0]["config"]["dtype"], "int32");
  EXPECT_EQ(L[1]["config"]["dtype"], "int64");
  EXPECT_EQ(name_of(L[2]["config"]["dtype"]), "int32");
  EXPECT_EQ(name_of(L[3]["config"]["dtype"]), "float64");
  // Symbolic tensors take the target, as in the config Keras saves for a float64 model.
  EXPECT_EQ(L[3]["config"]["inbound_nodes"][0]["args"][0]["config"]["dtype"], "float64");
  EXPECT_EQ(
      L[3]["config"]["inbound_nodes"][0]["args"][0]["config"]["shape"],
      before["config"]["layers"][3]["config"]["inbound_nodes"][0]["args"][0]["config"]["shape"]);
  EXPECT_EQ(L[3]["config"]["inbound_nodes"][0]["args"][1], ids);
  EXPECT_EQ(L[3]["config"]["note"], "float32");  // not a dtype key
  EXPECT_EQ(r.changed, 2u);
}

TEST(PolicyRewrite, OtherTargetsAndAlreadyFloat64) {
  ojson c = layer("Dense", "d", policy("float64"));
  EXPECT_EQ(rewrite_policies(c, "float64", "t").changed, 0u);
  rewrite_policies(c, "float16", "t");
  EXPECT_EQ(name_of(c["config"]["dtype"]), "float16");
  EXPECT_THROW(rewrite_policies(c, "int32", "t"), Error);
}

TEST(PolicyRewrite, QuantizedRefused) {
  ojson q = {{"module", "keras"},
             {"class_name", "QuantizedDTypePolicy"},
             {"config", {{"name", "int8_from_float32"}, {"source_name", "float32"}}}};
  ojson c = {{"class_name", "Sequential"}, {"config", {{"layers", {layer("Dense", "d", q)}}}}};
  const Error e = error_of([&] { rewrite_policies(c, "float64", "m.keras:config.json"); });
  EXPECT_EQ(e.code(), Errc::unsupported);
  EXPECT_NE(std::string(e.what()).find("m.keras:config.json: /config/layers/0/config/dtype: "
                                       "dtype policy class 'QuantizedDTypePolicy'"),
            std::string::npos)
      << e.what();
  ojson d = layer("Dense", "d", policy("int8_from_mixed_bfloat16"));
  EXPECT_THROW(rewrite_policies(d, "float64", "t"), Error);
  ojson m = layer("Dense", "d", {{"class_name", "DTypePolicyMap"}, {"config", ojson::object()}});
  EXPECT_THROW(rewrite_policies(m, "float64", "t"), Error);
}

TEST(PolicyRewrite, TextKeepsKeyOrderAndIsAscii) {
  const std::string in =
      R"({"z":1,"class_name":"Dense","config":{"name":"caf\u00e9","dtype":"float32","a":0.001}})";
  keras64::detail::PolicyRewriteReport r;
  const std::string out = rewrite_policies(in, "float64", "t", &r);
  EXPECT_EQ(
      out,
      R"({"z":1,"class_name":"Dense","config":{"name":"caf\u00e9","dtype":"float64","a":0.001}})");
  EXPECT_EQ(r.changed, 1u);
  const Error e =
      error_of([] { rewrite_policies("{", "float64", "x.h5:/: attribute model_config"); });
  EXPECT_EQ(e.code(), Errc::corrupt);
  EXPECT_EQ(std::string(e.what()).rfind("x.h5:/: attribute model_config: invalid JSON", 0), 0u);
}
